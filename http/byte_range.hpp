// One HTTP byte range (RFC 9110 §14): what a Range header asks of a body of
// `size` bytes. Header-only and pure, so its cases are tested without a server.
#pragma once

#include <cstdint>
#include <string_view>

namespace crmd::http {

struct byte_range {
  enum kind_t { whole, part, unsatisfiable } kind = whole;
  uint64_t first = 0, last = 0;  // inclusive, for `part`
};

// "bytes=a-b", "bytes=a-", "bytes=-n". An absent, malformed or multi-range
// header asks for the whole body (a server may ignore Range); a range that
// starts past the end, or a suffix of 0 bytes, is unsatisfiable.
inline byte_range parse_byte_range(std::string_view h, uint64_t size) {
  byte_range whole_body;
  constexpr std::string_view unit = "bytes=";
  if (h.substr(0, unit.size()) != unit) return whole_body;
  h.remove_prefix(unit.size());
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  if (h.find(',') != std::string_view::npos) return whole_body;
  auto dash = h.find('-');
  if (dash == std::string_view::npos) return whole_body;
  auto number = [](std::string_view s, uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    out = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + uint64_t(c - '0');
    }
    return true;
  };
  std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  uint64_t x = 0, y = 0;
  byte_range r;
  r.kind = byte_range::part;
  if (a.empty()) {  // suffix: the last y bytes
    if (!number(b, y)) return whole_body;
    if (y == 0 || size == 0) return {byte_range::unsatisfiable};
    r.first = y >= size ? 0 : size - y;
    r.last = size - 1;
    return r;
  }
  if (!number(a, x)) return whole_body;
  if (b.empty()) {
    y = UINT64_MAX;
  } else {
    if (!number(b, y)) return whole_body;
    if (y < x) return whole_body;  // invalid: ignored
  }
  if (x >= size) return {byte_range::unsatisfiable};
  r.first = x;
  r.last = y >= size ? size - 1 : y;
  return r;
}

}  // namespace crmd::http
