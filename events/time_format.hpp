// RFC 3339 UTC timestamps for JSON: "2026-11-22T05:10:00.123Z".
#pragma once

#include <cstdint>
#include <string>

namespace crmd {

// `us`: microseconds since the Unix epoch. `fraction_digits`: 3 or 6.
std::string rfc3339(int64_t us, int fraction_digits = 3);

// "2026-11-22T10:00:00Z", with optional fraction and a Z or +hh:mm/-hh:mm
// offset, to microseconds since the epoch; false for anything else
// (a time without an offset is ambiguous and refused).
bool parse_rfc3339(const std::string& text, int64_t& us);

}  // namespace crmd
