// The integrity check names the first damaged position and its tenant.
#include "replay/verify.hpp"

#include <gtest/gtest.h>

#include "events/crc32c.hpp"
#include "events/record.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"
#include "storage/rocks_kv.hpp"
#include "tests/support/events.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using test::note;
using test::one;

class verify_fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = open();
    ASSERT_TRUE(log);
    // Positions 1..9: tenants acme, beta, gamma in turn.
    for (int i = 0; i < 9; ++i) {
      std::string t = i % 3 == 0 ? "acme" : i % 3 == 1 ? "beta" : "gamma";
      ASSERT_TRUE((*log)->append(one(t + "/tenant/" + t, note("event " + std::to_string(i)))));
    }
  }
  result<std::unique_ptr<event_log>> open() {
    rocks_options ro;
    ro.path = dir_.sub("db");
    auto kv = open_rocks_kv(ro);
    if (!kv) return kv.error();
    return open_event_log(std::move(*kv));
  }
  // Changes a stored record through RocksDB, the way a bad disk or a hand would.
  void tamper(uint64_t pos, const std::function<void(std::string&)>& edit) {
    rocks_options ro;
    ro.path = dir_.sub("db");
    auto kv = open_rocks_kv(ro);
    ASSERT_TRUE(kv);
    std::string v;
    ASSERT_TRUE((*kv)->get(cf::events, be64(pos), &v));
    edit(v);
    auto b = (*kv)->new_batch();
    b->put(cf::events, be64(pos), v);
    ASSERT_TRUE((*kv)->write(*b, true));
  }
  verify_report run() {
    auto log = open();
    EXPECT_TRUE(log);
    auto rep = verify_log(**log);
    EXPECT_TRUE(rep);
    return *rep;
  }
  test::temp_dir dir_;
};

TEST_F(verify_fixture, an_intact_log_verifies) {
  auto rep = run();
  EXPECT_TRUE(rep.ok) << rep.reason;
  EXPECT_EQ(rep.events_checked, 9u);
  EXPECT_EQ(rep.tenants, 3u);
}

TEST_F(verify_fixture, one_flipped_byte_is_named_with_position_and_tenant) {
  // Position 5 belongs to beta; flip a byte in the middle of its body.
  tamper(5, [](std::string& v) { v[v.size() / 2] ^= 0x20; });
  auto rep = run();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_bad_position, 5u);
  EXPECT_EQ(rep.tenant, "beta");
  EXPECT_NE(rep.reason.find("CRC"), std::string::npos) << rep.reason;
}

TEST_F(verify_fixture, an_alteration_with_a_recomputed_crc_breaks_the_chain) {
  // Someone who knows the format rewrites the payload and fixes the CRC.
  tamper(4, [](std::string& v) {
    auto at = v.find("event 3");
    ASSERT_NE(at, std::string::npos);
    v[at + 6] = '7';
    std::string_view covered(v.data() + record_header_size, v.size() - record_header_size);
    uint32_t crc = crc32c::mask(crc32c::value(covered.data(), covered.size()));
    for (int i = 0; i < 4; ++i) v[5 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  });
  auto rep = run();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_bad_position, 4u);
  EXPECT_EQ(rep.tenant, "acme");
  EXPECT_NE(rep.reason.find("chain"), std::string::npos) << rep.reason;
}

TEST_F(verify_fixture, a_deleted_record_is_a_gap) {
  {
    rocks_options ro;
    ro.path = dir_.sub("db");
    auto kv = open_rocks_kv(ro);
    ASSERT_TRUE(kv);
    auto b = (*kv)->new_batch();
    b->del(cf::events, be64(3));
    ASSERT_TRUE((*kv)->write(*b, true));
  }
  auto rep = run();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_bad_position, 3u);
}

TEST_F(verify_fixture, a_truncated_tail_disagrees_with_the_chain_head) {
  {
    rocks_options ro;
    ro.path = dir_.sub("db");
    auto kv = open_rocks_kv(ro);
    ASSERT_TRUE(kv);
    auto b = (*kv)->new_batch();
    b->del(cf::events, be64(9));  // gamma's last event
    ASSERT_TRUE((*kv)->write(*b, true));
  }
  auto rep = run();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.tenant, "gamma");
  EXPECT_EQ(rep.first_bad_position, 9u);
}

TEST_F(verify_fixture, erasing_a_subject_keeps_the_chain_intact) {
  {
    auto log = open();
    ASSERT_TRUE(log);
    ASSERT_TRUE((*log)->append(one("acme/tenant/acme", note("secret", "acme/lead/L9"))));
    ASSERT_TRUE((*log)->erase_subject("acme/lead/L9"));
  }
  auto rep = run();
  EXPECT_TRUE(rep.ok) << rep.reason;
  EXPECT_EQ(rep.events_checked, 10u);
}

}  // namespace
}  // namespace crmd
