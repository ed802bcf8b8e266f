#include "actors/crm/phone.hpp"

#include <phonenumbers/phonenumberutil.h>

#include <set>

namespace crmd::crm {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

std::optional<std::string> to_e164(std::string_view raw, const std::string& region) {
  if (raw.empty() || raw.size() > 64) return std::nullopt;
  auto* util = PhoneNumberUtil::GetInstance();
  PhoneNumber pn;
  if (util->Parse(std::string(raw), region, &pn) != PhoneNumberUtil::NO_PARSING_ERROR) return std::nullopt;
  if (!util->IsPossibleNumber(pn)) return std::nullopt;
  std::string out;
  util->Format(pn, PhoneNumberUtil::E164, &out);
  return out;
}

std::string national_digits(std::string_view e164) {
  if (e164.size() < 2 || e164.size() > 20 || e164[0] != '+') return {};
  auto* util = PhoneNumberUtil::GetInstance();
  PhoneNumber pn;
  if (util->Parse(std::string(e164), "ZZ", &pn) != PhoneNumberUtil::NO_PARSING_ERROR) return {};
  std::string formatted, out;
  util->Format(pn, PhoneNumberUtil::NATIONAL, &formatted);
  for (char c : formatted)
    if (c >= '0' && c <= '9') out.push_back(c);
  return out;
}

bool known_region(const std::string& region) {
  std::set<std::string> regions;
  PhoneNumberUtil::GetInstance()->GetSupportedRegions(&regions);
  return regions.count(region) > 0;
}

}  // namespace crmd::crm
