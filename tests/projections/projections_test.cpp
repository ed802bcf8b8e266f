// Views as folds of the log, and the runner's exactly-once guarantee.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>
#include <random>

#include "events/whatsapp_events.hpp"
#include "projections/documents_view.hpp"
#include "projections/messages_view.hpp"
#include "projections/runner.hpp"
#include "projections/views.hpp"
#include "projections/work_view.hpp"
#include "storage/kv.hpp"
#include "tests/support/events.hpp"

namespace crmd {
namespace {

using test::make_event;
using test::one;

struct projections_test : ::testing::Test {
  std::shared_ptr<kv_store> kv = make_memory_kv();
  std::unique_ptr<event_log> log = std::move(*open_event_log(kv));

  void append(const std::string& stream, const ev::tenant_event& e) {
    ASSERT_TRUE(log->append(one(stream, make_event(e))));
  }
  void append_wa(const std::string& stream, const ev::whatsapp_event& e) {
    auto enc = codec::encode(e);
    ASSERT_TRUE(log->append(one(stream, new_event{enc.type, enc.schema_version, std::move(enc.payload), {}})));
  }
  void save(const std::string& t, const std::string& id, uint32_t v, const std::string& body) {
    append(t + "/tenant/" + t, ev::prompt_saved{id, v, "T" + id, body, "general"});
  }
  // Every key and value of the projections family, in order.
  static std::string dump(kv_store& k) {
    std::string out;
    auto it = k.scan(cf::projections, "v/", "w");
    for (; it->valid(); it->next()) out += std::string(it->key()) + "=" + std::string(it->value()) + "\n";
    return out;
  }
};

TEST_F(projections_test, tenants_view_lists_created_tenants) {
  append("system/registry/tenants", ev::tenant_created{"acme", "Acme", {"1"}});
  append("system/registry/tenants", ev::tenant_created{"beta", "\xd7\x91\xd7\x98\xd7\x90", {}});
  projection_runner r(*log, kv, views::all());
  ASSERT_TRUE(r.catch_up());
  auto p = views::list_tenants(*kv, 1, 1);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->total, 2u);
  ASSERT_EQ(p->items.size(), 1u);
  EXPECT_NE(p->items[0].find("\"id\":\"acme\""), std::string::npos);
  auto p2 = views::list_tenants(*kv, 2, 1);
  ASSERT_EQ(p2->items.size(), 1u);
  EXPECT_NE(p2->items[0].find("\xd7\x91\xd7\x98\xd7\x90"), std::string::npos);
  auto g = views::get_tenant(*kv, "acme");
  ASSERT_TRUE(g && *g);
  EXPECT_NE((*g)->find("\"aliases\":[\"1\"]"), std::string::npos);
}

TEST_F(projections_test, prompts_view_keeps_latest_versions_history_and_last) {
  save("acme", "p1", 1, "one");
  save("acme", "p2", 1, "two");
  save("acme", "p1", 2, "one, again");
  save("beta", "p1", 1, "other tenant");
  projection_runner r(*log, kv, views::all());
  ASSERT_TRUE(r.catch_up());
  auto list = views::list_prompts(*kv, "acme", 1, 25);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->total, 2u);
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_NE(list->items[0].find("\"body\":\"one, again\""), std::string::npos);
  EXPECT_NE(list->items[0].find("\"version\":2"), std::string::npos);
  auto last = views::last_prompt(*kv, "acme");
  ASSERT_TRUE(last && *last);
  EXPECT_NE((*last)->find("\"id\":\"p1\""), std::string::npos);  // the most recent save
  auto versions = views::prompt_versions(*kv, "acme", "p1");
  ASSERT_TRUE(versions);
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_NE((*versions)[0].find("\"body\":\"one\""), std::string::npos);

  append("acme/tenant/acme", ev::prompt_deleted{"p1"});
  ASSERT_TRUE(r.catch_up());
  EXPECT_FALSE(*views::get_prompt(*kv, "acme", "p1"));
  EXPECT_EQ(views::list_prompts(*kv, "acme", 1, 25)->total, 1u);
  auto after = views::last_prompt(*kv, "acme");
  ASSERT_TRUE(after && *after);
  EXPECT_NE((*after)->find("\"id\":\"p2\""), std::string::npos);
  EXPECT_EQ(views::prompt_versions(*kv, "acme", "p1")->size(), 2u);  // history kept
  EXPECT_EQ(views::list_prompts(*kv, "beta", 1, 25)->total, 1u);
}

TEST_F(projections_test, the_runner_thread_follows_the_log_and_wakes_waiters) {
  projection_runner r(*log, kv, views::all());
  ASSERT_TRUE(r.start());
  save("acme", "p1", 1, "x");
  std::promise<bool> caught;
  r.when_caught_up(log->last_position(), std::chrono::seconds(5), [&](bool ok) { caught.set_value(ok); });
  EXPECT_TRUE(caught.get_future().get());
  EXPECT_GE(r.position(), 1u);
  ASSERT_TRUE(*views::get_prompt(*kv, "acme", "p1"));
  std::promise<bool> never;
  r.when_caught_up(log->last_position() + 100, std::chrono::milliseconds(50), [&](bool ok) { never.set_value(ok); });
  EXPECT_FALSE(never.get_future().get());
}

// A store that "crashes" at its n-th projection write: that write and all
// later calls fail, as if the process had died there.
class crashing_kv : public kv_store {
 public:
  crashing_kv(std::shared_ptr<kv_store> inner, int crash_at) : inner_(std::move(inner)), left_(crash_at) {}
  status get(cf f, std::string_view k, std::string* v) override {
    if (dead_) return {errc::io_error, "crashed"};
    return inner_->get(f, k, v);
  }
  std::unique_ptr<kv_batch> new_batch() override { return inner_->new_batch(); }
  status write(kv_batch& b, bool sync) override {
    if (dead_ || --left_ < 0) {
      dead_ = true;
      return {errc::io_error, "crashed"};
    }
    return inner_->write(b, sync);
  }
  std::unique_ptr<kv_iterator> scan(cf f, std::string lo, std::string hi) override {
    return inner_->scan(f, std::move(lo), std::move(hi));
  }
  status last(cf f, std::string_view lo, std::string_view hi, std::string* k, std::string* v) override {
    if (dead_) return {errc::io_error, "crashed"};
    return inner_->last(f, lo, hi, k, v);
  }
  bool read_only() const override { return false; }

 private:
  std::shared_ptr<kv_store> inner_;
  int left_;
  bool dead_ = false;
};

TEST_F(projections_test, a_crash_at_any_batch_neither_skips_nor_doubles_an_event) {
  std::mt19937 rng(11);
  for (int i = 0; i < 300; ++i) {
    std::string t = "t" + std::to_string(rng() % 3);
    uint32_t n = 1 + rng() % 5;
    if (rng() % 7 == 0) {
      append("system/registry/tenants", ev::tenant_created{"x" + std::to_string(i), "X", {}});
    } else {
      save(t, "p" + std::to_string(n), 1 + uint32_t(i), "body " + std::to_string(i));
    }
  }
  // The reference: one uninterrupted fold of the same log into a separate store.
  std::shared_ptr<kv_store> ref_kv = make_memory_kv();
  {
    projection_runner ref(*log, ref_kv, views::all());
    ASSERT_TRUE(ref.catch_up());
  }
  std::string want = dump(*ref_kv);
  for (int crash_at : {0, 1, 2, 5, 9, 17, 30}) {
    auto store = make_memory_kv();
    std::shared_ptr<kv_store> shared(std::move(store));
    runner_options small;
    small.batch_events = 7;
    {
      projection_runner doomed(*log, std::make_shared<crashing_kv>(shared, crash_at), views::all(), small);
      EXPECT_FALSE(doomed.catch_up());  // dies part way
    }
    projection_runner recovered(*log, shared, views::all(), small);
    ASSERT_TRUE(recovered.catch_up());
    EXPECT_TRUE(dump(*shared) == want) << "crash at write " << crash_at;  // (dumps are long)
  }
}

TEST_F(projections_test, a_rebuilt_view_equals_the_incremental_one_byte_for_byte) {
  runner_options small;
  small.batch_events = 3;
  projection_runner r(*log, kv, views::all(), small);
  for (int i = 0; i < 40; ++i) {
    save("acme", "p" + std::to_string(1 + i % 6), uint32_t(1 + i / 6), "v" + std::to_string(i));
    if (i % 9 == 8) append("acme/tenant/acme", ev::prompt_deleted{"p" + std::to_string(1 + i % 6)});
    if (i % 5 == 0) ASSERT_TRUE(r.catch_up());  // incremental, in uneven steps
  }
  ASSERT_TRUE(r.catch_up());
  std::string incremental = dump(*kv);
  ASSERT_FALSE(incremental.empty());
  auto view = views::by_name("prompts");
  uint64_t last_progress = 0;
  ASSERT_TRUE(rebuild_view(*log, *kv, *view, [&](uint64_t done, uint64_t) { last_progress = done; }));
  EXPECT_EQ(last_progress, log->last_position());
  EXPECT_TRUE(dump(*kv) == incremental);
}

// The counters behind GET /api/admin/stats move with the entries they count,
// so they hold whether the view was folded in steps or rebuilt at once.
TEST_F(projections_test, the_stats_counters_are_the_same_folded_in_steps_or_rebuilt) {
  runner_options small;
  small.batch_events = 2;
  projection_runner r(*log, kv, views::all(), small);
  std::string acme = "acme/tenant/acme";
  append(acme, ev::task_created{"T1", "", "one", 0});
  append(acme, ev::task_created{"T2", "", "two", 0});
  append(acme, ev::task_created{"T3", "", "three", 0});
  ASSERT_TRUE(r.catch_up());
  append(acme, ev::task_completed{"T1"});
  append(acme, ev::task_completed{"T2"});
  append(acme, ev::task_reopened{"T2"});
  append(acme, ev::invoice_created{"I1", "L1", "ILS", "", {"Plan"}, {1}, {35000}, 35000, 0});
  append(acme, ev::invoice_created{"I2", "L1", "EUR", "", {"Plan"}, {2}, {50}, 100, 0});
  append(acme, ev::invoice_created{"I3", "L1", "ILS", "", {"Plan"}, {1}, {7}, 7, 0});
  ASSERT_TRUE(r.catch_up());
  append(acme, ev::invoice_paid{"I1", "stripe", "pi_1", "evt_1", 35000, "ILS"});
  append(acme, ev::invoice_paid{"I1", "stripe", "pi_1", "evt_2", 35000, "ILS"});  // once is enough
  append(acme, ev::invoice_paid{"I2", "stripe", "pi_2", "evt_3", 100, "EUR"});
  append_wa("acme/wa/main", ev::wa_start_requested{"main", "user"});
  append_wa("acme/wa/main", ev::wa_connected{"main", "972@s.whatsapp.net", "Acme", 1});
  append_wa("acme/wa/other", ev::wa_connected{"other", "973@s.whatsapp.net", "Acme", 1});
  ASSERT_TRUE(r.catch_up());
  append_wa("acme/wa/other", ev::wa_retry_scheduled{"other", 1, 1000, 0});
  append_wa("acme/wa/other", ev::wa_connected{"other", "973@s.whatsapp.net", "Acme", 2});
  append_wa("acme/wa/main", ev::wa_logged_out{"main", "whatsapp"});
  append("beta/tenant/beta", ev::task_created{"T1", "", "beta's", 0});
  ASSERT_TRUE(r.catch_up());

  EXPECT_EQ(*views::count_open_tasks(*kv, "acme"), 2u) << "T2 reopened, T3 never done";
  EXPECT_EQ(*views::count_open_tasks(*kv, "beta"), 1u);
  auto paid = views::paid_revenue(*kv, "acme");
  ASSERT_TRUE(paid);
  EXPECT_EQ(*paid, (std::map<std::string, uint64_t>{{"EUR", 100}, {"ILS", 35000}})) << "I3 is not paid";
  EXPECT_EQ(*views::count_connected_sessions(*kv, "acme"), 1u) << "main logged out, other reconnected";
  EXPECT_EQ(*views::count_tenant_events(*kv, "acme"), 18u);
  EXPECT_EQ(*views::count_tenant_events(*kv, "beta"), 1u);

  std::string incremental = dump(*kv);
  for (const char* name : {"tasks", "documents", "messages", "tenants"}) {
    auto view = views::by_name(name);
    ASSERT_TRUE(rebuild_view(*log, *kv, *view));
    EXPECT_TRUE(dump(*kv) == incremental) << name;
  }
}

TEST_F(projections_test, a_message_whose_sender_was_erased_before_it_was_folded_is_not_counted) {
  ev::wa_message_received m;
  m.session = "main", m.remote_jid = "972521112222@s.whatsapp.net", m.message_id = "M1", m.contact_id = "L1";
  auto enc = codec::encode(ev::whatsapp_event{m});
  ASSERT_TRUE(log->append(one("acme/wamsg/main", new_event{enc.type, enc.schema_version, enc.payload, "acme/lead/L1"})));
  ASSERT_TRUE(log->erase_subject("acme/lead/L1"));
  projection_runner r(*log, kv, views::all());
  ASSERT_TRUE(r.catch_up());
  EXPECT_EQ(*views::count_messages(*kv, "acme"), 0u);
}

}  // namespace
}  // namespace crmd

namespace crmd {
namespace {

struct rebuild_views_test : projections_test {
  void history() {
    append("system/registry/tenants", ev::tenant_created{"acme", "Acme", {}});
    for (int i = 1; i <= 30; ++i) save("acme", "p" + std::to_string(1 + i % 7), uint32_t(i), "body " + std::to_string(i));
  }
};

TEST_F(rebuild_views_test, a_rebuild_gives_the_views_the_runner_builds_and_leaves_no_marker) {
  history();
  projection_runner r(*log, kv, views::all());
  ASSERT_TRUE(r.catch_up());
  std::string built = dump(*kv);
  auto owned = views::all();
  std::vector<projection*> all;
  for (auto& v : owned) all.push_back(v.get());
  auto rebuilt = rebuild_views(*log, *kv, all);
  ASSERT_TRUE(rebuilt) << rebuilt.to_string();
  EXPECT_EQ(dump(*kv), built);
  std::string marker;
  EXPECT_EQ(kv->get(cf::projections, "b/prompts", &marker).code(), errc::not_found);
}

TEST_F(rebuild_views_test, a_view_asked_to_be_rebuilt_twice_is_refused_until_the_first_is_done) {
  history();
  projection_runner r(*log, kv, views::all());  // not started: the rebuild stays pending
  ASSERT_TRUE(r.start_rebuild("contacts"));
  auto again = r.start_rebuild("contacts");
  EXPECT_EQ(again.code(), errc::conflict) << again.to_string();
  EXPECT_TRUE(r.start_rebuild("prompts")) << "another view may queue behind it";
  EXPECT_EQ(r.start_rebuild("nosuch").code(), errc::not_found);
}

TEST_F(rebuild_views_test, a_rebuild_cut_short_is_cleared_and_folded_again_when_the_views_next_load) {
  history();
  {
    projection_runner r(*log, kv, views::all());
    ASSERT_TRUE(r.catch_up());
  }
  std::string built = dump(*kv);
  // What a crash in the middle of `crmd rebuild prompts` leaves: the marker,
  // the view's keys from no single position, and no checkpoint.
  auto b = kv->new_batch();
  b->put(cf::projections, "b/prompts", "");
  b->put(cf::projections, "v/prompts/acme/half-built", "x");
  b->del(cf::projections, "c/prompts");
  ASSERT_TRUE(kv->write(*b, true));
  projection_runner r(*log, kv, views::all());
  ASSERT_TRUE(r.catch_up());
  EXPECT_EQ(dump(*kv), built) << "folded again from position 1 into a cleared keyspace";
  std::string marker;
  EXPECT_EQ(kv->get(cf::projections, "b/prompts", &marker).code(), errc::not_found);
}

// A view that records how each event reached it.
struct seen_view : projection {
  std::string id;
  std::function<bool(std::string_view)> reads;
  std::vector<std::string>* seen;
  seen_view(std::string name, std::function<bool(std::string_view)> r, std::vector<std::string>* out)
      : id(std::move(name)), reads(std::move(r)), seen(out) {}
  const char* name() const override { return id.c_str(); }
  bool needs_payload(std::string_view type) const override { return reads(type); }
  status apply(const log_entry& e, view_txn&) override {
    seen->push_back(std::to_string(e.record.position) + " " + std::string(e.record.type) +
                    (e.opened ? " opened" : " closed") + (e.payload.empty() ? "" : " payload"));
    return status::ok();
  }
};

TEST_F(rebuild_views_test, a_rebuild_decrypts_only_what_some_view_reads_and_gives_every_view_every_event_it_folds) {
  // Given subject-bound (encrypted) notes and a plain tenant event
  append("system/registry/tenants", ev::tenant_created{"acme", "Acme", {}});
  ASSERT_TRUE(log->append(one("acme/tenant/acme", test::note("hello", "acme/lead/L1"))));
  ASSERT_TRUE(log->append(one("acme/tenant/acme", test::note("again", "acme/lead/L1"))));
  // When one view reads no payload and another reads only the tenant's creation
  std::vector<std::string> blind_seen, reader_seen;
  seen_view blind("blind", [](std::string_view) { return false; }, &blind_seen);
  seen_view reader("reader", [](std::string_view t) { return t == "tenant_created"; }, &reader_seen);
  ASSERT_TRUE(rebuild_views(*log, *kv, {&blind, &reader}));
  // Then both get every event (no view narrows folds()), the notes unopened
  std::vector<std::string> expected = {"1 tenant_created opened payload", "2 note_added closed", "3 note_added closed"};
  EXPECT_EQ(blind_seen, expected);
  EXPECT_EQ(reader_seen, expected);
  // and a view that reads notes has them decrypted, for itself and the others
  blind_seen.clear();
  std::vector<std::string> notes_seen;
  seen_view notes("notes", [](std::string_view t) { return t == "note_added"; }, &notes_seen);
  ASSERT_TRUE(rebuild_views(*log, *kv, {&blind, &notes}));
  std::vector<std::string> opened = {"1 tenant_created closed", "2 note_added opened payload",
                                     "3 note_added opened payload"};
  EXPECT_EQ(notes_seen, opened);
  EXPECT_EQ(blind_seen, opened);
}

}  // namespace
}  // namespace crmd
