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

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t extend_hw(uint32_t crc, const char* data,
                                                       size_t n) {
  uint64_t c = ~crc & 0xffffffffu;
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

}  // namespace crmd::crc32c
