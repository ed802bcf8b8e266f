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
