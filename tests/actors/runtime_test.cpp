// The actor runtime: one actor per tenant, idle stop, recovery, registry.
#include <gtest/gtest.h>

#include <future>
#include <iostream>
#include <set>
#include <thread>

#include "actors/runtime.hpp"
#include "events/codec.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"
#include "tests/support/flaky_kv.hpp"

namespace crmd {
namespace {

using namespace std::chrono_literals;

// Runs a command and waits (bounded) for its answer.
template <class F>
result<command_ok> sync(F&& issue) {
  auto p = std::make_shared<std::promise<result<command_ok>>>();
  auto f = p->get_future();
  issue([p](result<command_ok> r) { p->set_value(std::move(r)); });
  if (f.wait_for(10s) != std::future_status::ready) return status{errc::io_error, "no answer in 10 s"};
  return f.get();
}

struct runtime_test : ::testing::Test {
  std::shared_ptr<kv_store> kv = make_memory_kv();
  std::unique_ptr<event_log> log = std::move(*open_event_log(kv));

  std::unique_ptr<runtime> start(runtime_options o = {}) {
    auto rt = start_runtime(*log, kv, o);
    EXPECT_TRUE(rt) << rt.error().to_string();
    return std::move(*rt);
  }
  static result<command_ok> create(runtime& rt, registry::create_tenant c) {
    return sync([&](command_done d) { rt.create_tenant(c, {"test"}, d); });
  }
  static result<command_ok> save(runtime& rt, const std::string& t, const std::string& title) {
    return sync([&](command_done d) {
      rt.tenant_command(t, tenant::save_prompt{title, "body", "general"}, {"test"}, d);
    });
  }
};

TEST_F(runtime_test, the_registry_owns_ids_and_aliases_across_restarts) {
  {
    auto rt = start();
    auto ok = create(*rt, {"business_1", "Acme", {"1"}});
    ASSERT_TRUE(ok) << ok.error().to_string();
    EXPECT_EQ(ok->id, "business_1");
    EXPECT_GT(ok->position, 0u);
    EXPECT_EQ(rt->resolve_tenant("1"), "business_1");
    auto dup = create(*rt, {"beta", "Beta", {"1"}});
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), errc::conflict);
  }
  auto again = start();
  EXPECT_EQ(again->resolve_tenant("1"), "business_1");
  EXPECT_EQ(again->tenant_count(), 1u);
}

TEST_F(runtime_test, concurrent_first_commands_for_one_tenant_make_one_actor) {
  auto rt = start();
  constexpr int n = 50;
  std::vector<std::future<result<command_ok>>> answers;
  std::vector<std::thread> ts;
  std::vector<std::promise<result<command_ok>>> ps(n);
  for (int i = 0; i < n; ++i) answers.push_back(ps[i].get_future());
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&, i] {
      rt->tenant_command("acme", tenant::save_prompt{"t" + std::to_string(i), "b", "general"}, {"test"},
                         [&, i](result<command_ok> r) { ps[i].set_value(std::move(r)); });
    });
  for (auto& t : ts) t.join();
  std::set<std::string> ids;
  for (auto& a : answers) {
    ASSERT_EQ(a.wait_for(10s), std::future_status::ready);
    auto r = a.get();
    ASSERT_TRUE(r) << r.error().to_string();
    ids.insert(r->id);
  }
  EXPECT_EQ(ids.size(), size_t(n));  // one aggregate handed out every id once
  EXPECT_EQ(rt->stats().recoveries, 1u);
  EXPECT_EQ(rt->stats().live_actors, 1u);
}

TEST_F(runtime_test, an_idle_actor_stops_and_recovers_on_the_next_command) {
  runtime_options o;
  o.idle = 50ms;
  auto rt = start(o);
  ASSERT_TRUE(save(*rt, "acme", "first"));
  for (int i = 0; i < 200 && rt->stats().live_actors > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(rt->stats().live_actors, 0u);
  EXPECT_EQ(rt->stats().idle_stops, 1u);
  auto second = save(*rt, "acme", "second");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, "p2");  // the state came back
  EXPECT_EQ(rt->stats().recoveries, 2u);
}

TEST_F(runtime_test, a_quiet_call_actor_is_stopped_and_the_next_callback_recovers_the_call) {
  runtime_options o;
  o.idle = 60ms;
  auto rt = start(o);
  auto call = [&](crmd::call::command c) {
    return sync([&](command_done d) { rt->call_command("acme", "CA1", std::move(c), {"twilio"}, d); });
  };
  crmd::call::start_call started{"CA1", "+97250000001", "+97233763805", "inbound", "", "ringing"};
  ASSERT_TRUE(call(started));
  EXPECT_EQ(rt->stats().recoveries, 1u) << "a new call actor reads its (empty) stream once";
  // Callbacks 20 ms apart keep it alive: it is stopped only when quiet.
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(20ms);
    auto r = call(crmd::call::record_status{started, "in-progress", -1, -1});
    ASSERT_TRUE(r) << r.error().to_string();
  }
  EXPECT_EQ(rt->stats().recoveries, 1u) << "stopped while callbacks kept coming";
  auto done = call(crmd::call::record_status{started, "completed", -1, 42});
  ASSERT_TRUE(done);
  EXPECT_GT(done->position, 0u);
  // Quiet for longer than the idle time (60 ms, swept every 15 ms)
  std::this_thread::sleep_for(200ms);
  // A late "ringing" is answered by a fresh actor that recovered the call:
  // a finished call never goes back to ringing, so nothing is appended.
  auto late = call(crmd::call::record_status{started, "ringing", -1, -1});
  ASSERT_TRUE(late) << late.error().to_string();
  EXPECT_EQ(late->position, 0u) << "the recovered call did not know it had ended";
  EXPECT_EQ(rt->stats().recoveries, 2u);
}

TEST_F(runtime_test, commands_racing_an_idle_stop_are_not_lost) {
  runtime_options o;
  o.idle = 5ms;
  auto rt = start(o);
  std::set<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    auto r = save(*rt, "acme", "t");
    ASSERT_TRUE(r) << r.error().to_string();
    ids.insert(r->id);
    // Mostly quick, sometimes long enough for an idle stop to begin.
    std::this_thread::sleep_for(std::chrono::milliseconds(i % 10 == 9 ? 40 : i % 7));
  }
  EXPECT_EQ(ids.size(), 60u);
  EXPECT_GT(rt->stats().idle_stops, 0u);
}

TEST_F(runtime_test, two_first_contacts_from_one_number_at_once_make_one_lead) {
  auto rt = start();
  // Twenty "calls" and "messages" from one number, typed three ways, all at
  // once, some while the tenant actor is still being recovered.
  std::vector<std::future<result<command_ok>>> answers;
  const char* forms[] = {"050-123-4567", "+972501234567", "0501234567"};
  for (int i = 0; i < 20; ++i)
    answers.push_back(std::async(std::launch::async, [&, i] {
      return sync([&](command_done d) {
        rt->tenant_command("acme", crm::find_or_create_contact{forms[i % 3], "", i % 2 ? "phone" : "whatsapp"},
                           {"test"}, d);
      });
    }));
  std::set<std::string> ids;
  for (auto& a : answers) {
    auto r = a.get();
    ASSERT_TRUE(r) << r.error().to_string();
    ids.insert(r->id);
  }
  EXPECT_EQ(ids, std::set<std::string>{"L1"});
  size_t created = 0;
  ASSERT_TRUE(log->scan(1, [&](const log_entry& e) {
    created += e.record.type == "lead_created";
    return true;
  }));
  EXPECT_EQ(created, 1u);
  // And after a restart, from the snapshot and the log, the number is known.
  rt.reset();
  rt = start();
  auto again = sync([&](command_done d) {
    rt->tenant_command("acme", crm::find_or_create_contact{"050 123 4567", "", "phone"}, {"test"}, d);
  });
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, "L1");
}

TEST_F(runtime_test, recovery_uses_the_snapshot_plus_the_tail) {
  runtime_options o;
  o.snapshot_every = 4;
  {
    auto rt = start(o);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(save(*rt, "acme", "t"));
  }
  std::string snap;
  ASSERT_TRUE(kv->get(cf::snapshots, std::string("acme/tenant/acme\0H", 18), &snap));
  EXPECT_EQ(read_be64(snap), 10u);  // written at 4, 8 and on stop
  size_t prompts = 0;
  for (auto it = kv->scan(cf::snapshots, std::string("acme/tenant/acme\0p", 18), ""); it->valid(); it->next())
    prompts += std::string(it->key()).rfind(std::string("acme/tenant/acme\0p", 18), 0) == 0;
  EXPECT_EQ(prompts, 10u) << "one entry per prompt, written as they changed";
  auto rt = start(o);
  auto r = save(*rt, "acme", "t");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, "p11");
  tenant::update_prompt bad;
  bad.prompt_id = "p99";
  bad.title = "x";
  auto missing = sync([&](command_done d) { rt->tenant_command("acme", bad, {"test"}, d); });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), errc::not_found);
}

}  // namespace
}  // namespace crmd

namespace crmd {
namespace {

int64_t wall_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

size_t count_type(event_log& log, const std::string& type) {
  size_t n = 0;
  log.scan(1, [&](const log_entry& e) {
    n += e.record.type == type;
    return true;
  });
  return n;
}

TEST_F(runtime_test, a_timer_wakes_its_tenant_even_after_an_idle_stop) {
  runtime_options o;
  o.idle = 20ms;
  auto rt = start(o);
  auto set = sync([&](command_done d) {
    rt->tenant_command("acme", tenant::set_timer{"reminder-1", wall_us() + 300'000, "test"}, {"test"}, d);
  });
  ASSERT_TRUE(set) << set.error().to_string();
  for (int i = 0; i < 100 && rt->stats().live_actors > 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(rt->stats().live_actors, 0u) << "the tenant should have stopped as idle first";
  for (int i = 0; i < 300 && count_type(*log, "timer_fired") == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(count_type(*log, "timer_fired"), 1u);
  EXPECT_EQ(rt->stats().recoveries, 2u);  // spawned again by the timer
  std::this_thread::sleep_for(100ms);
  std::string k, v;
  EXPECT_EQ(kv->last(cf::schedule, "", "", &k, &v).code(), errc::not_found);  // entry removed once done
}

TEST_F(runtime_test, an_overdue_timer_fires_once_right_after_a_restart) {
  {
    auto rt = start();
    auto set = sync([&](command_done d) {
      rt->tenant_command("acme", tenant::set_timer{"t1", wall_us() + 400'000, "test"}, {"test"}, d);
    });
    ASSERT_TRUE(set);
  }  // "crmd is down" while the timer falls due
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(count_type(*log, "timer_fired"), 0u);
  auto rt = start();
  for (int i = 0; i < 300 && count_type(*log, "timer_fired") == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(count_type(*log, "timer_fired"), 1u);
  // Firing it again (a lost deletion) records nothing new.
  auto again = sync([&](command_done d) { rt->tenant_command("acme", tenant::fire_timer{"t1"}, {"system"}, d); });
  ASSERT_TRUE(again);
  EXPECT_EQ(count_type(*log, "timer_fired"), 1u);
}

}  // namespace
}  // namespace crmd

namespace crmd {
namespace {

using test::flaky_kv;

TEST(runtime_pipeline, a_failed_append_fails_what_was_decided_on_it_and_the_actor_recovers) {
  auto inner = make_memory_kv();
  std::shared_ptr<kv_store> kv = std::make_shared<flaky_kv>(std::shared_ptr<kv_store>(std::move(inner)), 2);  // #0 is the format marker, #1 succeeds
  auto log = std::move(*open_event_log(kv));
  auto rt = std::move(*start_runtime(*log, kv));
  // Many commands at once: the first ones are written (slowly), the rest are
  // decided on top of them and go out in the batch that fails.
  constexpr int n = 40;
  std::vector<std::promise<result<command_ok>>> ps(n);
  for (int i = 0; i < n; ++i) {
    rt->tenant_command("acme", tenant::save_prompt{"t" + std::to_string(i), "b", "general"}, {"test"},
                       [&ps, i](result<command_ok> r) { ps[i].set_value(std::move(r)); });
    if (i == 0) std::this_thread::sleep_for(10ms);  // the first is being written (slowly) now
  }
  std::set<std::string> ok_ids;
  int failed = 0;
  for (auto& p : ps) {
    auto f = p.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    auto r = f.get();
    if (r) ok_ids.insert(r->id);
    else ++failed;
  }
  EXPECT_GT(failed, 0);
  EXPECT_FALSE(ok_ids.empty());
  std::cout << "[ pipeline ] " << failed << " failed, " << ok_ids.size() << " acknowledged\n";
  // Every acknowledged prompt is in the log, and nothing else is.
  std::set<std::string> logged;
  log->scan(1, [&](const log_entry& e) {
    if (e.record.type == "prompt_saved") {
      auto d = codec::decode<ev::tenant_event>(e.record.type, 1, e.payload);
      logged.insert(std::get<ev::prompt_saved>(*d).prompt_id);
    }
    return true;
  });
  EXPECT_EQ(logged, ok_ids);
  // The actor re-read its stream: the next id follows what is really stored.
  auto next = sync([&](command_done d) {
    rt->tenant_command("acme", tenant::save_prompt{"after", "b", "general"}, {"test"}, d);
  });
  ASSERT_TRUE(next) << next.error().to_string();
  EXPECT_EQ(next->id, "p" + std::to_string(ok_ids.size() + 1));
  EXPECT_EQ(ok_ids.count(next->id), 0u);
}

}  // namespace
}  // namespace crmd
