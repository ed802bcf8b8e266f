// CRC32C (Castagnoli), as used by LevelDB/RocksDB record framing.
// Uses the SSE4.2 instruction when the CPU has it, a table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace crmd::crc32c {

// Extends `init_crc` (the CRC of some prefix) over data[0, n).
uint32_t extend(uint32_t init_crc, const char* data, size_t n);
inline uint32_t value(const char* data, size_t n) { return extend(0, data, n); }
// The table-driven implementation, always; for tests of the fast one.
uint32_t extend_portable(uint32_t init_crc, const char* data, size_t n);

// A CRC stored next to the data it covers is masked, so that computing the
// CRC of a string that contains embedded CRCs does not degenerate.
constexpr uint32_t mask_delta = 0xa282ead8u;
inline uint32_t mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + mask_delta; }
inline uint32_t unmask(uint32_t masked) {
  uint32_t rot = masked - mask_delta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace crmd::crc32c
