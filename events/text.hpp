// Parsing the small pieces of text that arrive from outside (flags,
// environment variables, query parameters).
#pragma once

#include <cstdint>
#include <string_view>

namespace crmd {

// A non-negative decimal integer of at most 19 digits (so it fits a u64);
// false for anything else, including signs, spaces and the empty string.
inline bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  out = v;
  return true;
}

}  // namespace crmd
