// Specifications of integrity exports (replay/export.hpp): what an auditor
// can prove from the file alone, and every kind of tampering it reveals.
#include "replay/export.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "storage/event_log.hpp"
#include "storage/kv.hpp"
#include "tests/support/events.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::make_event;
using test::one;

struct export_test : ::testing::Test {
  std::shared_ptr<kv_store> kv = make_memory_kv();
  std::unique_ptr<event_log> log = std::move(*open_event_log(kv));

  void SetUp() override {
    ASSERT_TRUE(log->append(one("acme/tenant/acme", make_event(ev::lead_converted{"L0"}))));
    ASSERT_TRUE(log->append(one("beta/tenant/beta", make_event(ev::lead_converted{"B1"}))));
    ASSERT_TRUE(log->append(one("acme/tenant/acme", make_event(ev::lead_created{"L1", "Dana", "+972501234567", "", "phone"},
                                                               "acme/lead/L1"))));
    ASSERT_TRUE(log->append(one("acme/tenant/acme", make_event(ev::note_added{"N1", "L1", "call back"}, "acme/lead/L1"))));
    ASSERT_TRUE(log->append(one("acme/tenant/acme", make_event(ev::lead_deleted{"L1"}))));
  }
  std::vector<std::string> exported(const std::string& tenant = "acme") {
    std::ostringstream out;
    auto n = export_tenant(*log, *kv, tenant, out);
    EXPECT_TRUE(n) << n.error().to_string();
    std::vector<std::string> lines;
    std::istringstream in(out.str());
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }
  static export_check check(const std::vector<std::string>& lines) {
    std::string all;
    for (auto& l : lines) all += l + "\n";
    std::istringstream in(all);
    return verify_export(in);
  }
};

TEST_F(export_test, an_untouched_export_proves_every_event_and_decrypts_the_sealed_ones) {
  auto lines = exported();
  ASSERT_EQ(lines.size(), 1u + 4u + 1u) << "head, four acme events, one subject key";
  auto head = json::parse(lines[0]);
  EXPECT_EQ(head["format"], "crmd-export/1");
  EXPECT_EQ(head["chain_head"]["position"], 5);
  auto created = json::parse(lines[2]);
  EXPECT_EQ(created["event"]["name"], "Dana") << "the decoded event beside its bytes";
  EXPECT_EQ(created["subject"], "acme/lead/L1");
  EXPECT_EQ(json::parse(lines[1])["prev_link"], std::string(64, '0')) << "the chain starts from zero bytes";
  auto c = check(lines);
  EXPECT_TRUE(c.ok) << "line " << c.bad_line << ": " << c.reason;
  EXPECT_EQ(c.events, 4u);
  EXPECT_EQ(c.decrypted, 2u);
  EXPECT_EQ(lines[0].find("beta"), std::string::npos);
}

TEST_F(export_test, an_altered_body_byte_breaks_its_link) {
  auto lines = exported();
  auto j = json::parse(lines[1]);
  std::string b = j["body"];
  b[10] = b[10] == 'A' ? 'B' : 'A';
  j["body"] = b;
  lines[1] = j.dump();
  auto c = check(lines);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.bad_line, 2u);
}

TEST_F(export_test, an_edited_event_no_longer_matches_its_bytes) {
  auto lines = exported();
  auto j = json::parse(lines[4]);
  j["event"]["lead_id"] = "L2";
  lines[4] = j.dump();
  auto plain = check(lines);
  EXPECT_FALSE(plain.ok);
  EXPECT_NE(plain.reason.find("decodes"), std::string::npos) << plain.reason;
  lines = exported();
  j = json::parse(lines[2]);
  j["event"]["name"] = "Someone else";
  lines[2] = j.dump();
  auto sealed = check(lines);
  EXPECT_FALSE(sealed.ok) << "also inside an encrypted payload";
  EXPECT_NE(sealed.reason.find("decrypted"), std::string::npos) << sealed.reason;
}

TEST_F(export_test, removed_reordered_or_cut_events_are_caught) {
  auto lines = exported();
  auto removed = lines;
  removed.erase(removed.begin() + 2);
  EXPECT_FALSE(check(removed).ok);
  auto swapped = lines;
  std::swap(swapped[2], swapped[3]);
  EXPECT_FALSE(check(swapped).ok);
  auto cut = lines;
  cut.erase(cut.begin() + 4);  // the last event
  auto c = check(cut);
  EXPECT_FALSE(c.ok);
  EXPECT_NE(c.reason.find("chain head"), std::string::npos) << c.reason;
  auto keyless = lines;
  keyless.pop_back();
  EXPECT_FALSE(check(keyless).ok) << "a sealed event cannot be vouched for without its key";
  EXPECT_FALSE(check({"{\"format\":\"something else\"}"}).ok);
  EXPECT_FALSE(check({lines[0], "not json"}).ok);
}

TEST_F(export_test, after_an_erasure_the_chain_still_proves_and_the_payload_is_gone) {
  ASSERT_TRUE(log->erase_subject("acme/lead/L1"));
  auto lines = exported();
  ASSERT_EQ(lines.size(), 5u) << "no key to export any more";
  EXPECT_TRUE(json::parse(lines[2])["event"].is_null());
  EXPECT_EQ(lines[2].find("Dana"), std::string::npos);
  auto c = check(lines);
  EXPECT_TRUE(c.ok) << c.reason;
  EXPECT_EQ(c.erased, 2u);
  EXPECT_EQ(c.decrypted, 0u);
}

TEST_F(export_test, a_tenant_without_events_exports_an_empty_proof) {
  auto lines = exported("gamma");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(json::parse(lines[0])["chain_head"].is_null());
  EXPECT_TRUE(check(lines).ok);
}

}  // namespace
}  // namespace crmd
