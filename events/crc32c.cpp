#include "events/crc32c.hpp"

#include <array>
#include <cstring>

namespace crmd::crc32c {
namespace {

constexpr uint32_t poly = 0x82f63b78u;  // reflected Castagnoli polynomial

std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
    t[i] = c;
  }
  return t;
}

uint32_t extend_table(uint32_t crc, const char* data, size_t n) {
  static const auto table = make_table();
  crc = ~crc;
  auto p = reinterpret_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

// Raw register update over n zero bytes with the portable table: the
// building block of the shift operator below.
uint32_t raw_zeros(uint32_t c, size_t n) {
  static const auto table = make_table();
  for (size_t i = 0; i < n; ++i) c = table[c & 0xff] ^ (c >> 8);
  return c;
}

// The CRC register is linear over GF(2), so crc(A||B) = shift(crc(A), |B|)
// ^ crc_from_zero(B). Three blocks of `stride` bytes are hashed as three
// independent instruction chains (hiding the crc32 instruction's latency)
// and joined with a table-driven shift by `stride` bytes.
constexpr size_t stride = 128;

struct shift_tables {
  uint32_t t[4][256];
  shift_tables() {
    for (int i = 0; i < 4; ++i)
      for (uint32_t b = 0; b < 256; ++b) t[i][b] = raw_zeros(b << (8 * i), stride);
  }
  uint32_t shift(uint32_t c) const {
    return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][c >> 24];
  }
};

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t extend_hw(uint32_t crc, const char* data,
                                                       size_t n) {
  static const shift_tables shifts;
  uint64_t c = ~crc & 0xffffffffu;
  while (n >= 3 * stride) {
    uint64_t c1 = 0, c2 = 0;
    const char* a = data;
    const char* b = data + stride;
    const char* d = data + 2 * stride;
    for (size_t i = 0; i < stride; i += 8) {
      uint64_t va, vb, vd;
      std::memcpy(&va, a + i, 8);
      std::memcpy(&vb, b + i, 8);
      std::memcpy(&vd, d + i, 8);
      c = __builtin_ia32_crc32di(c, va);
      c1 = __builtin_ia32_crc32di(c1, vb);
      c2 = __builtin_ia32_crc32di(c2, vd);
    }
    c = shifts.shift(shifts.shift(uint32_t(c)) ^ uint32_t(c1)) ^ uint32_t(c2);
    data += 3 * stride;
    n -= 3 * stride;
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, data, 8);
    c = __builtin_ia32_crc32di(c, v);
    data += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = __builtin_ia32_crc32qi(c32, static_cast<unsigned char>(*data));
    ++data;
    --n;
  }
  return ~c32;
}
#endif

using extend_fn = uint32_t (*)(uint32_t, const char*, size_t);

extend_fn choose() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) return extend_hw;
#endif
  return extend_table;
}

}  // namespace

uint32_t extend(uint32_t init_crc, const char* data, size_t n) {
  static const extend_fn fn = choose();
  return fn(init_crc, data, n);
}

uint32_t extend_portable(uint32_t init_crc, const char* data, size_t n) {
  return extend_table(init_crc, data, n);
}

}  // namespace crmd::crc32c
