#include "projections/json_out.hpp"

#include <cassert>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace crmd::views {
namespace {

// Well-formed UTF-8 as nlohmann's decoder accepts it (RFC 3629: no overlong
// forms, no surrogates, nothing past U+10FFFF).
bool valid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) len = 3, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    else return false;
    if (i + len > n) return false;
    auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (size_t k = 2; k < len; ++k) {
      auto ck = static_cast<unsigned char>(s[i + k]);
      if (ck < 0x80 || ck > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

// As nlohmann's serializer with ensure_ascii off.
bool append_json_string(std::string& out, std::string_view s) {
  bool plain = true;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out.push_back('"');
    out.append(s);
    out.push_back('"');
    return true;
  }
  if (!valid_utf8(s)) return false;
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
  return true;
}

namespace {

// Moves `i` past the string starting at json[i] (a quote); false if unterminated.
bool skip_string(std::string_view j, size_t& i) {
  for (++i; i < j.size(); ++i) {
    if (j[i] == '\\') {
      ++i;
      continue;
    }
    if (j[i] == '"') {
      ++i;
      return true;
    }
  }
  return false;
}

// Moves `i` past the value starting at json[i]; false if malformed.
bool skip_value(std::string_view j, size_t& i) {
  if (i >= j.size()) return false;
  if (j[i] == '"') return skip_string(j, i);
  if (j[i] == '{' || j[i] == '[') {
    int depth = 0;
    while (i < j.size()) {
      char c = j[i];
      if (c == '"') {
        if (!skip_string(j, i)) return false;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') --depth;
      ++i;
      if (depth == 0) return true;
    }
    return false;
  }
  size_t start = i;  // a number, true, false or null
  while (i < j.size() && j[i] != ',' && j[i] != '}' && j[i] != ']') ++i;
  return i > start;
}

bool plain(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

std::optional<std::pair<size_t, size_t>> find_field(std::string_view j, std::string_view key) {
  if (j.size() < 2 || j[0] != '{') return std::nullopt;
  size_t i = 1;
  if (j[i] == '}') return std::nullopt;
  for (;;) {
    if (i >= j.size() || j[i] != '"') return std::nullopt;
    size_t key_at = i;
    if (!skip_string(j, i)) return std::nullopt;
    // Keys are the views' own ASCII names: compared as written.
    bool match = i - key_at - 2 == key.size() && j.compare(key_at + 1, key.size(), key) == 0;
    if (i >= j.size() || j[i++] != ':') return std::nullopt;
    size_t begin = i;
    if (!skip_value(j, i)) return std::nullopt;
    if (match) return std::make_pair(begin, i);
    if (i >= j.size()) return std::nullopt;
    if (j[i] == '}') return std::nullopt;
    if (j[i++] != ',') return std::nullopt;
  }
}

std::optional<std::string_view> plain_string_field(std::string_view j, std::string_view key) {
  auto at = find_field(j, key);
  if (!at || at->second - at->first < 2 || j[at->first] != '"') return std::nullopt;
  auto v = j.substr(at->first + 1, at->second - at->first - 2);
  if (!plain(v)) return std::nullopt;
  return v;
}

std::optional<std::string> with_plain_string_field(std::string_view j, std::string_view key, std::string_view value) {
  for (char c : value)  // printable ASCII: written as it is, whatever the escaping rules
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return std::nullopt;
  auto at = find_field(j, key);
  if (!at) return std::nullopt;
  std::string out;
  out.reserve(j.size() + value.size());
  out.append(j.substr(0, at->first)).append("\"").append(value).append("\"").append(j.substr(at->second));
  return out;
}

void json_out::key(std::string_view k) {
#ifndef NDEBUG
  assert((first_ || last_ < k) && "json_out keys must come in ascending order, as util::dump() sorts them");
  last_.assign(k);
#endif
  if (!first_) out_.push_back(',');
  first_ = false;
  // Keys are the views' own ASCII names: nothing to escape.
  out_.push_back('"');
  out_.append(k);
  out_ += "\":";
}

json_out& json_out::str(std::string_view k, std::string_view value) {
  key(k);
  if (!append_json_string(out_, value))  // bad UTF-8: replaced as util::dump() replaces it
    out_ += nlohmann::json(std::string(value)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return *this;
}

json_out& json_out::num(std::string_view k, uint64_t value) {
  key(k);
  char buf[24];
  int n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(value));
  out_.append(buf, static_cast<size_t>(n));
  return *this;
}

json_out& json_out::num(std::string_view k, int64_t value) {
  key(k);
  char buf[24];
  int n = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(value));
  out_.append(buf, static_cast<size_t>(n));
  return *this;
}

json_out& json_out::boolean(std::string_view k, bool value) {
  key(k);
  out_ += value ? "true" : "false";
  return *this;
}

json_out& json_out::null(std::string_view k) {
  key(k);
  out_ += "null";
  return *this;
}

json_out& json_out::raw(std::string_view k, std::string_view json) {
  key(k);
  out_.append(json);
  return *this;
}

}  // namespace crmd::views
