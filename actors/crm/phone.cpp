#include "actors/crm/phone.hpp"

#include <phonenumbers/phonenumberutil.h>

#include <mutex>
#include <set>
#include <unordered_map>

namespace crmd::crm {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

// libphonenumber parses with ICU regular expressions (~10 us a number), and
// the same few numbers come back on every call and message of a business.
// The function is pure, so answers are kept; the cache is simply dropped
// when it grows past its bound.
struct e164_cache {
  std::mutex mu;
  std::unordered_map<std::string, std::optional<std::string>> answers;  // region '\0' raw
};
e164_cache& cache() {
  static e164_cache c;
  return c;
}

std::optional<std::string> parse_e164(std::string_view raw, const std::string& region) {
  auto* util = PhoneNumberUtil::GetInstance();
  PhoneNumber pn;
  if (util->Parse(std::string(raw), region, &pn) != PhoneNumberUtil::NO_PARSING_ERROR) return std::nullopt;
  if (!util->IsPossibleNumber(pn)) return std::nullopt;
  std::string out;
  util->Format(pn, PhoneNumberUtil::E164, &out);
  return out;
}

}  // namespace

std::optional<std::string> to_e164(std::string_view raw, const std::string& region) {
  if (raw.empty() || raw.size() > 64) return std::nullopt;
  std::string key = region + '\0' + std::string(raw);
  auto& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (auto it = c.answers.find(key); it != c.answers.end()) return it->second;
  }
  auto answer = parse_e164(raw, region);
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.answers.size() >= 100'000) c.answers.clear();
  c.answers.emplace(std::move(key), answer);
  return answer;
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
