#include "events/envelope.hpp"

namespace crmd {
namespace {

bool lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool valid_kind(std::string_view s) {
  if (s.empty() || s.size() > 32 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s)
    if (!lower_or_digit(c) && c != '_') return false;
  return true;
}

bool valid_id(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '@' || c == '+' || c == '=' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool is_valid_tenant_id(std::string_view s) {
  if (s.empty() || s.size() > 64 || !lower_or_digit(s[0])) return false;
  for (char c : s)
    if (!lower_or_digit(c) && c != '_' && c != '-') return false;
  return true;
}

bool is_reserved_tenant_id(std::string_view s) {
  return s == "system" || s == "admin" || s == "api";
}

result<stream_id> parse_stream_id(std::string_view s) {
  auto a = s.find('/');
  auto b = a == std::string_view::npos ? a : s.find('/', a + 1);
  if (b == std::string_view::npos)
    return status{errc::invalid_argument, "stream id must be <tenant>/<kind>/<id>"};
  stream_id out{std::string(s.substr(0, a)), std::string(s.substr(a + 1, b - a - 1)),
                std::string(s.substr(b + 1))};
  if (!is_valid_tenant_id(out.tenant))
    return status{errc::invalid_argument, "stream id has an invalid tenant"};
  if (!valid_kind(out.kind)) return status{errc::invalid_argument, "stream id has an invalid kind"};
  if (!valid_id(out.id)) return status{errc::invalid_argument, "stream id has an invalid id"};
  return out;
}

}  // namespace crmd
