// Specifications of the calls view (projections/calls_view.hpp), of calls on
// a contact's timeline (work_view.hpp), and of the recording route's byte
// ranges (http/byte_range.hpp).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "events/call_events.hpp"
#include "http/byte_range.hpp"
#include "projections/calls_view.hpp"
#include "projections/runner.hpp"
#include "projections/views.hpp"
#include "projections/work_view.hpp"
#include "storage/kv.hpp"
#include "tests/support/events.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::make_event;
using test::one;

struct calls_view_test : ::testing::Test {
  std::shared_ptr<kv_store> kv = make_memory_kv();
  std::unique_ptr<event_log> log = std::move(*open_event_log(kv));
  projection_runner runner{*log, kv, views::all()};

  void lead(const std::string& id, const std::string& tenant = "acme") {
    ASSERT_TRUE(log->append(one(tenant + "/tenant/" + tenant,
                                make_event(ev::lead_created{id, "Name " + id, "+972500000000", "", "phone"},
                                           tenant + "/lead/" + id))));
  }
  // An event of call `sid` that reached `contact`.
  void call(const std::string& sid, const std::string& contact, const ev::call_event& e,
            const std::string& tenant = "acme") {
    auto enc = codec::encode(e);
    ASSERT_TRUE(log->append(one(tenant + "/call/" + sid, new_event{enc.type, enc.schema_version, std::move(enc.payload),
                                                                   tenant + "/lead/" + contact})));
  }
  void start(const std::string& sid, const std::string& contact, const std::string& from = "+972501234567",
             const std::string& tenant = "acme") {
    call(sid, contact, ev::call_started{sid, from, "+972731234567", "inbound", contact, "ringing"}, tenant);
  }
  // A whole call: answered, recorded, downloaded, transcribed, summarized.
  void whole_call(const std::string& sid, const std::string& contact) {
    start(sid, contact);
    call(sid, contact, ev::call_status_changed{sid, "in-progress", 1, -1});
    call(sid, contact, ev::call_status_changed{sid, "completed", 2, 42});
    call(sid, contact, ev::recording_available{sid, "RE1", "https://api.twilio.test/RE1", 40});
    call(sid, contact, ev::recording_downloaded{sid, "RE1", "recordings/acme/" + sid + "-RE1.mp3", "ab12", 6400, 1});
    call(sid, contact, ev::call_transcribed{sid, "shalom, I want a quote", "he", "whisper", {"primary: HTTP 500"}});
    call(sid, contact, ev::call_summarized{sid, "Wants a quote for 3 rooms."});
  }
  json get(const std::string& sid, const std::string& tenant = "acme") {
    auto v = views::get_call(*kv, tenant, sid);
    EXPECT_TRUE(v && *v);
    return v && *v ? json::parse(**v) : json();
  }
  std::vector<std::string> sids(const std::string& contact = {}, uint64_t page = 1, uint64_t limit = 25,
                                uint64_t* total = nullptr) {
    auto p = views::list_calls(*kv, "acme", contact, page, limit);
    EXPECT_TRUE(p);
    std::vector<std::string> out;
    if (!p) return out;
    if (total) *total = p->total;
    for (auto& i : p->items) out.push_back(json::parse(i)["call_sid"]);
    return out;
  }
  std::vector<std::string> timeline_types(const std::string& contact) {
    auto p = views::timeline(*kv, "acme", contact, 1, 100);
    EXPECT_TRUE(p);
    std::vector<std::string> out;
    if (p)
      for (auto& i : p->items) out.push_back(json::parse(i)["type"]);
    return out;
  }
  static std::string dump(kv_store& k) {
    std::string out;
    auto it = k.scan(cf::projections, "v/", "w");
    for (; it->valid(); it->next()) out += std::string(it->key()) + "=" + std::string(it->value()) + "\n";
    return out;
  }
};

TEST_F(calls_view_test, a_calls_life_folds_into_its_json_without_the_transcript) {
  lead("L1");
  start("CA1", "L1");
  ASSERT_TRUE(runner.catch_up());
  auto j = get("CA1");
  EXPECT_EQ(j["from"], "+972501234567");
  EXPECT_EQ(j["direction"], "inbound");
  EXPECT_EQ(j["contact_id"], "L1");
  EXPECT_EQ(j["status"], "ringing");
  EXPECT_TRUE(j["duration_s"].is_null());
  EXPECT_TRUE(j["recording"].is_null());
  EXPECT_EQ(j["transcript_state"], "");

  call("CA1", "L1", ev::call_status_changed{"CA1", "completed", 2, 42});
  call("CA1", "L1", ev::recording_available{"CA1", "RE1", "https://api.twilio.test/RE1", 40});
  ASSERT_TRUE(runner.catch_up());
  j = get("CA1");
  EXPECT_EQ(j["status"], "completed");
  EXPECT_EQ(j["duration_s"], 42);
  EXPECT_EQ(j["recording"]["state"], "available");
  EXPECT_EQ(j["recording"]["duration_s"], 40);
  EXPECT_EQ(j["transcript_state"], "");

  call("CA1", "L1", ev::recording_downloaded{"CA1", "RE1", "recordings/acme/CA1-RE1.mp3", "ab12", 6400, 1});
  ASSERT_TRUE(runner.catch_up());
  j = get("CA1");
  EXPECT_EQ(j["recording"]["state"], "downloaded");
  EXPECT_EQ(j["recording"]["file"], "recordings/acme/CA1-RE1.mp3");
  EXPECT_EQ(j["recording"]["bytes"], 6400);
  EXPECT_EQ(j["transcript_state"], "pending");
  EXPECT_EQ(j["summary_state"], "");
  EXPECT_FALSE(*views::get_transcript(*kv, "acme", "CA1"));

  call("CA1", "L1", ev::call_transcribed{"CA1", "shalom, I want a quote", "he", "whisper", {}});
  ASSERT_TRUE(runner.catch_up());
  j = get("CA1");
  EXPECT_EQ(j["transcript_state"], "transcribed");
  EXPECT_EQ(j["summary_state"], "pending");
  EXPECT_EQ(j["provider"], "whisper");
  EXPECT_EQ(j["language"], "he");

  call("CA1", "L1", ev::call_summarized{"CA1", "Wants a quote."});
  ASSERT_TRUE(runner.catch_up());
  j = get("CA1");
  EXPECT_EQ(j["summary_state"], "summarized");
  EXPECT_EQ(j.dump().find("quote"), std::string::npos) << "listed JSON carries neither transcript nor summary";
  EXPECT_FALSE(*views::get_call(*kv, "beta", "CA1")) << "another tenant never sees it";
}

TEST_F(calls_view_test, transcript_and_summary_are_kept_apart_and_a_retry_clears_them) {
  whole_call("CA1", "L1");
  ASSERT_TRUE(runner.catch_up());
  auto x = views::get_transcript(*kv, "acme", "CA1");
  ASSERT_TRUE(x && *x);
  auto t = json::parse(**x);
  EXPECT_EQ(t["text"], "shalom, I want a quote");
  EXPECT_EQ(t["language"], "he");
  EXPECT_EQ(t["provider"], "whisper");
  EXPECT_EQ(t["summary"], "Wants a quote for 3 rooms.");
  EXPECT_EQ(t["failed_attempts"], json::array({"primary: HTTP 500"}));

  call("CA1", "L1", ev::transcription_retry_requested{"CA1"});
  ASSERT_TRUE(runner.catch_up());
  auto j = get("CA1");
  EXPECT_EQ(j["transcript_state"], "pending");
  EXPECT_EQ(j["summary_state"], "");
  t = json::parse(**views::get_transcript(*kv, "acme", "CA1"));
  EXPECT_TRUE(t["text"].is_null());
  EXPECT_TRUE(t["summary"].is_null());

  call("CA1", "L1", ev::call_transcription_failed{"CA1", {"primary: HTTP 500", "fallback: timeout"}});
  ASSERT_TRUE(runner.catch_up());
  EXPECT_EQ(get("CA1")["transcript_state"], "failed");
  t = json::parse(**views::get_transcript(*kv, "acme", "CA1"));
  EXPECT_EQ(t["failed_attempts"].size(), 2u);
}

TEST_F(calls_view_test, a_playable_recording_is_not_displaced_by_a_later_failed_one) {
  whole_call("CA1", "L1");
  call("CA1", "L1", ev::recording_failed{"CA1", "RE2", "absent"});
  ASSERT_TRUE(runner.catch_up());
  auto j = get("CA1");
  EXPECT_EQ(j["recording"]["recording_sid"], "RE1");
  EXPECT_EQ(j["recording"]["state"], "downloaded");
}

TEST_F(calls_view_test, calls_list_newest_first_for_the_tenant_and_by_contact) {
  start("CA1", "L1");
  start("CA2", "L2");
  start("CA3", "L1");
  start("CB1", "L1", "+1555", "beta");
  ASSERT_TRUE(runner.catch_up());
  uint64_t total = 0;
  EXPECT_EQ(sids("", 1, 25, &total), (std::vector<std::string>{"CA3", "CA2", "CA1"}));
  EXPECT_EQ(total, 3u);
  EXPECT_EQ(sids("", 2, 2, &total), (std::vector<std::string>{"CA1"}));
  EXPECT_EQ(total, 3u);
  EXPECT_EQ(sids("L1", 1, 25, &total), (std::vector<std::string>{"CA3", "CA1"}));
  EXPECT_EQ(total, 2u);
  EXPECT_EQ(sids("L2"), (std::vector<std::string>{"CA2"}));
  EXPECT_EQ(sids("L9", 1, 25, &total), (std::vector<std::string>{}));
  EXPECT_EQ(total, 0u);
  // Later events of a call neither list it again nor reorder it.
  call("CA1", "L1", ev::call_status_changed{"CA1", "completed", 3, 10});
  ASSERT_TRUE(runner.catch_up());
  EXPECT_EQ(sids(), (std::vector<std::string>{"CA3", "CA2", "CA1"}));
}

TEST_F(calls_view_test, calls_appear_on_the_contacts_timeline) {
  lead("L1");
  whole_call("CA1", "L1");
  ASSERT_TRUE(runner.catch_up());
  EXPECT_EQ(timeline_types("L1"),
            (std::vector<std::string>{"call_summary", "call_transcribed", "call", "lead.created"}));
  auto p = views::timeline(*kv, "acme", "L1", 1, 100);
  auto summary = json::parse(p->items[0]), started = json::parse(p->items[2]);
  EXPECT_EQ(summary["summary"], "Wants a quote for 3 rooms.");
  EXPECT_EQ(summary["ref_id"], "CA1");
  EXPECT_EQ(started["title"], "Incoming call from +972501234567");
  EXPECT_EQ(started["ref_id"], "CA1");
  EXPECT_EQ(timeline_types("L2"), (std::vector<std::string>{}));
}

TEST_F(calls_view_test, an_erased_contacts_calls_stay_listed_without_numbers_recording_or_transcript) {
  lead("L1");
  whole_call("CA1", "L1");
  lead("L2");
  whole_call("CA2", "L2");
  ASSERT_TRUE(runner.catch_up());
  ASSERT_TRUE(log->erase_subject("acme/lead/L1"));
  for (auto name : {"calls", "timeline"}) {
    auto view = views::by_name(name);
    ASSERT_TRUE(view);
    ASSERT_TRUE(rebuild_view(*log, *kv, *view));
  }
  EXPECT_EQ(sids(), (std::vector<std::string>{"CA2", "CA1"}));
  auto j = get("CA1");
  EXPECT_EQ(j["from"], "");
  EXPECT_EQ(j["to"], "");
  EXPECT_TRUE(j["recording"].is_null());
  EXPECT_EQ(j["erased"], true);
  EXPECT_EQ(j["contact_id"], "L1");
  EXPECT_FALSE(*views::get_transcript(*kv, "acme", "CA1"));
  EXPECT_EQ(timeline_types("L1"), (std::vector<std::string>{}));
  // The other contact's call is untouched.
  EXPECT_EQ(get("CA2")["from"], "+972501234567");
  EXPECT_TRUE(*views::get_transcript(*kv, "acme", "CA2"));
  EXPECT_EQ(timeline_types("L2").size(), 4u);
}

TEST_F(calls_view_test, a_rebuilt_calls_view_equals_the_incremental_one_byte_for_byte) {
  runner_options small;
  small.batch_events = 3;
  projection_runner r(*log, kv, views::all(), small);
  for (int i = 0; i < 12; ++i) {
    std::string sid = "CA" + std::to_string(i), contact = "L" + std::to_string(i % 4);
    if (i < 4) lead(contact);
    if (i % 3 == 0) whole_call(sid, contact);
    else start(sid, contact);
    if (i % 5 == 0) {
      ASSERT_TRUE(r.catch_up());  // incremental, in uneven steps
    }
  }
  ASSERT_TRUE(r.catch_up());
  std::string incremental = dump(*kv);
  ASSERT_NE(incremental.find("v/calls/acme/x/CA0"), std::string::npos);
  for (auto name : {"calls", "timeline"}) {
    auto view = views::by_name(name);
    ASSERT_TRUE(rebuild_view(*log, *kv, *view));
  }
  EXPECT_TRUE(dump(*kv) == incremental);
}

TEST(byte_range, single_ranges_suffixes_and_unsatisfiable_ones) {
  using http::byte_range;
  using http::parse_byte_range;
  auto r = parse_byte_range("bytes=0-99", 1000);
  EXPECT_EQ(r.kind, byte_range::part);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 99u);
  r = parse_byte_range("bytes=900-", 1000);
  EXPECT_EQ(r.kind, byte_range::part);
  EXPECT_EQ(r.first, 900u);
  EXPECT_EQ(r.last, 999u);
  r = parse_byte_range("bytes=-100", 1000);
  EXPECT_EQ(r.first, 900u);
  EXPECT_EQ(r.last, 999u);
  r = parse_byte_range("bytes=-5000", 1000);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 999u);
  r = parse_byte_range("bytes=500-5000", 1000);
  EXPECT_EQ(r.last, 999u);
  EXPECT_EQ(parse_byte_range("bytes=1000-", 1000).kind, byte_range::unsatisfiable);
  EXPECT_EQ(parse_byte_range("bytes=-0", 1000).kind, byte_range::unsatisfiable);
  EXPECT_EQ(parse_byte_range("bytes=0-", 0).kind, byte_range::unsatisfiable);
  EXPECT_EQ(parse_byte_range("", 1000).kind, byte_range::whole);
  EXPECT_EQ(parse_byte_range("bytes=0-1,5-6", 1000).kind, byte_range::whole);
  EXPECT_EQ(parse_byte_range("bytes=9-3", 1000).kind, byte_range::whole);
  EXPECT_EQ(parse_byte_range("items=0-3", 1000).kind, byte_range::whole);
  EXPECT_EQ(parse_byte_range("bytes=a-3", 1000).kind, byte_range::whole);
}

}  // namespace
}  // namespace crmd
