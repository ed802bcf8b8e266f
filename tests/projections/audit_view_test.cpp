// Specifications of the audit trail (projections/audit_view.hpp): one entry
// per event with who, from where and what, filters, and summaries that show
// ids and states but never personal data.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "events/codec.hpp"
#include "events/time_format.hpp"
#include "projections/audit_view.hpp"
#include "projections/runner.hpp"
#include "storage/kv.hpp"
#include "tests/support/events.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::make_event;

struct audit_view_test : ::testing::Test {
  std::shared_ptr<kv_store> kv = make_memory_kv();
  std::unique_ptr<event_log> log = std::move(*open_event_log(kv));
  projection_runner runner{*log, kv, views::all()};

  void append(const std::string& stream, const ev::tenant_event& e, const std::string& causer,
              const std::string& client = "", const std::string& subject = "") {
    append_request r;
    r.stream = stream;
    r.events.push_back(make_event(e, subject));
    r.meta.causer = causer;
    r.meta.request_id = "req-" + causer;
    r.meta.client = client;
    ASSERT_TRUE(log->append(std::move(r)));
  }
  views::page list(views::audit_filter f, uint64_t page = 1, uint64_t limit = 25) {
    EXPECT_TRUE(runner.catch_up());
    auto p = views::list_audit(*kv, f, page, limit);
    EXPECT_TRUE(p) << p.error().to_string();
    return p ? *p : views::page{};
  }
};

TEST_F(audit_view_test, every_event_has_an_entry_with_who_from_where_and_what_newest_first) {
  append("acme/tenant/acme", ev::lead_created{"L1", "Dana Levi", "+972501234567", "dana@x.test", "manual"}, "u7",
         "203.0.113.7", "acme/lead/L1");
  append("beta/tenant/beta", ev::lead_converted{"L9"}, "u8");
  auto all = list({});
  ASSERT_EQ(all.total, 2u);
  auto newest = json::parse(all.items[0]), oldest = json::parse(all.items[1]);
  EXPECT_EQ(newest["tenant"], "beta");
  EXPECT_EQ(oldest["position"], 1);
  EXPECT_EQ(oldest["actor"], "u7");
  EXPECT_EQ(oldest["client"], "203.0.113.7");
  EXPECT_EQ(oldest["request_id"], "req-u7");
  EXPECT_EQ(oldest["type"], "lead_created");
  EXPECT_EQ(oldest["stream"], "acme/tenant/acme");
  EXPECT_TRUE(oldest["impersonator"].is_null());
  EXPECT_EQ(all.items[1].find("Dana"), std::string::npos) << "the entry holds the envelope, never the payload";
}

TEST_F(audit_view_test, filters_narrow_by_tenant_actor_type_stream_and_time) {
  append("acme/tenant/acme", ev::lead_converted{"L1"}, "u1");
  append("acme/tenant/acme", ev::lead_deleted{"L2"}, "u2");
  append("acme/call/CA1", ev::lead_converted{"L3"}, "twilio");
  append("beta/tenant/beta", ev::lead_converted{"L4"}, "u1");
  views::audit_filter f;
  f.tenant = "acme";
  EXPECT_EQ(list(f).total, 3u);
  f.actor = "u1";
  EXPECT_EQ(list(f).total, 1u) << "beta's u1 event is not acme's";
  f = {};
  f.type = "lead_converted";
  EXPECT_EQ(list(f).total, 3u);
  f.stream = "acme/call/";
  auto calls = list(f);
  ASSERT_EQ(calls.total, 1u);
  EXPECT_EQ(json::parse(calls.items[0])["actor"], "twilio");
  f = {};
  f.from_us = 4102444800000000;  // 2100-01-01: nothing yet
  EXPECT_EQ(list(f).total, 0u);
  f = {};
  f.to_us = 4102444800000000;
  EXPECT_EQ(list(f).total, 4u);
}

TEST_F(audit_view_test, pages_follow_the_newest_first_order) {
  for (int i = 1; i <= 7; ++i) append("acme/tenant/acme", ev::lead_converted{"L" + std::to_string(i)}, "u1");
  views::audit_filter f;
  f.tenant = "acme";
  auto p2 = list(f, 2, 3);
  EXPECT_EQ(p2.total, 7u);
  ASSERT_EQ(p2.items.size(), 3u);
  EXPECT_EQ(json::parse(p2.items[0])["position"], 4);
  f.type = "lead_converted";  // filtered: counted by reading
  auto p3 = list(f, 3, 3);
  EXPECT_EQ(p3.total, 7u);
  ASSERT_EQ(p3.items.size(), 1u);
  EXPECT_EQ(json::parse(p3.items[0])["position"], 1);
}

TEST(audit_summary, shows_ids_and_states_never_names_phones_emails_or_texts) {
  auto enc = codec::encode(ev::tenant_event{ev::lead_created{"L3", "Dana Levi", "+972501234567", "dana@x.test", "whatsapp"}});
  auto s = views::audit_summary(enc.type, enc.schema_version, enc.payload, false);
  EXPECT_EQ(s, "lead_created: lead_id=L3, source=whatsapp");
  auto note = codec::encode(ev::tenant_event{ev::note_added{"N1", "L3", "called about the contract"}});
  auto n = views::audit_summary(note.type, note.schema_version, note.payload, false);
  EXPECT_EQ(n.find("contract"), std::string::npos) << n;
  EXPECT_EQ(views::audit_summary("lead_created", 1, "", true), "lead_created (erased subject)");
  EXPECT_EQ(views::audit_summary("lead_created", 1, "\x01garbage", false), "lead_created") << "undecodable: the type alone";
}

}  // namespace
}  // namespace crmd
