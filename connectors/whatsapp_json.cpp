#include "connectors/whatsapp_json.hpp"

#include <charconv>
#include <cstdint>
#include <limits>

namespace crmd::connectors::wa::detail {
namespace {

// Deepest [ / { nesting outside strings. Run before parsing so that a body of
// two million '[' costs a linear scan, not a deep tree.
size_t nesting_depth(std::string_view body) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
    } else if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  return deepest;
}

bool digits_to_int(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// A protobufjs Long: {"low":int32,"high":int32,"unsigned":bool}.
bool long_to_int(const json& j, int64_t& out) {
  auto low = j.find("low"), high = j.find("high");
  if (low == j.end() || high == j.end() || !low->is_number_integer() || !high->is_number_integer()) return false;
  int64_t lo = low->get<int64_t>(), hi = high->get<int64_t>();
  // protobufjs stores both halves as signed int32; accept uint32 spellings too.
  if (lo < std::numeric_limits<int32_t>::min() || lo > std::numeric_limits<uint32_t>::max()) return false;
  if (hi < std::numeric_limits<int32_t>::min() || hi > std::numeric_limits<uint32_t>::max()) return false;
  uint64_t v = (static_cast<uint64_t>(static_cast<uint32_t>(hi)) << 32) | static_cast<uint32_t>(lo);
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  out = static_cast<int64_t>(v);
  return true;
}

void truncate_utf8(std::string& s) {
  if (s.size() <= max_string_bytes) return;
  size_t n = max_string_bytes;
  // s[n] is the first byte dropped; if it continues a character, drop that
  // character's earlier bytes too.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
}

}  // namespace

status malformed(const std::string& why) { return {errc::invalid_argument, why, "malformed_body"}; }

status bad_field(const std::string& path, const std::string& why) {
  return {errc::invalid_argument, path + " " + why, "invalid_field"};
}

result<json> load_object(std::string_view body, const char* what) {
  std::string name(what);
  if (body.size() > max_body_bytes)
    return malformed(name + " is larger than " + std::to_string(max_body_bytes) + " bytes");
  if (nesting_depth(body) > max_json_depth)
    return malformed(name + " is nested deeper than " + std::to_string(max_json_depth) + " levels");
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return malformed(name + " is not valid JSON");
  if (!j.is_object()) return malformed(name + " is not a JSON object");
  return j;
}

const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

status get_string(const json& obj, const char* key, const std::string& path, std::string& out, kind k,
                  bool required) {
  const json* v = member(obj, key);
  if (!v) return required ? bad_field(path, "is missing") : status::ok();
  if (!v->is_string()) return bad_field(path, "is not a string");
  const auto& s = v->get_ref<const std::string&>();
  if (k == kind::identifier) {
    if (s.size() > max_string_bytes) return bad_field(path, "is too long");
    if (required && s.empty()) return bad_field(path, "is empty");
    out = s;
  } else {
    out = s;
    truncate_utf8(out);
  }
  return status::ok();
}

status get_bool(const json& obj, const char* key, const std::string& path, bool& out) {
  const json* v = member(obj, key);
  if (!v) return status::ok();
  if (!v->is_boolean()) return bad_field(path, "is not a boolean");
  out = v->get<bool>();
  return status::ok();
}

status get_int(const json& obj, const char* key, const std::string& path, int64_t& out) {
  const json* v = member(obj, key);
  if (!v) return status::ok();
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return bad_field(path, "is out of range");
    out = static_cast<int64_t>(u);
    return status::ok();
  }
  if (v->is_number_integer()) return bad_field(path, "is negative");
  if (v->is_string()) {
    if (!digits_to_int(v->get_ref<const std::string&>(), out)) return bad_field(path, "is not a whole number");
    return status::ok();
  }
  if (v->is_object()) {
    if (!long_to_int(*v, out)) return bad_field(path, "is not a valid Long");
    return status::ok();
  }
  return bad_field(path, "is not an integer");
}

status get_object(const json& obj, const char* key, const std::string& path, const json*& out) {
  out = member(obj, key);
  if (out && !out->is_object()) {
    out = nullptr;
    return bad_field(path, "is not an object");
  }
  return status::ok();
}

std::string e164(std::string_view digits) {
  if (digits.empty() || digits.size() > 15) return {};
  for (char c : digits)
    if (c < '0' || c > '9') return {};
  return "+" + std::string(digits);
}

}  // namespace crmd::connectors::wa::detail
