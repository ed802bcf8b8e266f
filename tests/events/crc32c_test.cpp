#include "events/crc32c.hpp"

#include <gtest/gtest.h>

#include <string>

namespace crmd {
namespace {

TEST(crc32c, matches_the_standard_check_values) {
  // RFC 3720 B.4 and the usual "123456789" check value.
  EXPECT_EQ(crc32c::value("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c::value(zeros.data(), zeros.size()), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(crc32c::value(ones.data(), ones.size()), 0x62A8AB43u);
}

TEST(crc32c, extends_incrementally) {
  std::string s = "hello world, this is a longer string to cross 8-byte words";
  for (size_t split = 0; split <= s.size(); ++split) {
    uint32_t a = crc32c::extend(crc32c::value(s.data(), split), s.data() + split, s.size() - split);
    EXPECT_EQ(a, crc32c::value(s.data(), s.size())) << "split at " << split;
  }
}

TEST(crc32c, mask_round_trips_and_differs) {
  uint32_t crc = crc32c::value("foo", 3);
  EXPECT_NE(crc32c::mask(crc), crc);
  EXPECT_NE(crc32c::mask(crc32c::mask(crc)), crc);
  EXPECT_EQ(crc32c::unmask(crc32c::mask(crc)), crc);
  EXPECT_EQ(crc32c::unmask(crc32c::unmask(crc32c::mask(crc32c::mask(crc)))), crc);
}

}  // namespace
}  // namespace crmd

namespace crmd {
namespace {

TEST(crc32c, the_fast_path_agrees_with_the_table_for_every_length_and_offset) {
  std::string data(3000, '\0');
  uint32_t x = 12345;
  for (auto& c : data) c = static_cast<char>(x = x * 1103515245 + 12345);
  for (size_t len = 0; len <= 1200; ++len)
    for (size_t off : {0, 1, 7}) {
      uint32_t seed = static_cast<uint32_t>(len * 31);
      ASSERT_EQ(crc32c::extend(seed, data.data() + off, len),
                crc32c::extend_portable(seed, data.data() + off, len))
          << "len " << len << " offset " << off;
    }
}

}  // namespace
}  // namespace crmd
