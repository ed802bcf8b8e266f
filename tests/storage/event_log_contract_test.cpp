// The event log contract, run against both implementations: the RocksDB log
// in a temp directory and the in-memory twin. Read as a specification.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "events/codec.hpp"
#include "replay/verify.hpp"
#include "storage/event_log.hpp"
#include "storage/rocks_kv.hpp"
#include "tests/support/events.hpp"
#include "tests/support/flaky_kv.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using test::note;
using test::one;

enum class impl { memory, rocks };

class event_log_contract : public ::testing::TestWithParam<impl> {
 protected:
  void SetUp() override {
    log_options o;
    o.time = &clock_;
    if (GetParam() == impl::memory) {
      log_ = make_memory_event_log(o);
    } else {
      rocks_options ro;
      ro.path = dir_.sub("db");
      auto kv = open_rocks_kv(ro);
      ASSERT_TRUE(kv) << kv.error().to_string();
      auto log = open_event_log(std::move(*kv), o);
      ASSERT_TRUE(log) << log.error().to_string();
      log_ = std::move(*log);
    }
  }

  result<append_result> append(append_request r) { return log_->append(std::move(r)); }

  test::temp_dir dir_;
  manual_clock clock_;
  std::unique_ptr<event_log> log_;
};

TEST_P(event_log_contract, positions_are_dense_from_one_across_streams) {
  EXPECT_EQ(log_->last_position(), 0u);
  auto a = append(one("acme/tenant/acme", note("a")));
  auto b = append(one("beta/tenant/beta", note("b")));
  auto c = append(one("acme/tenant/acme", note("c")));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->first_position, 1u);
  EXPECT_EQ(b->first_position, 2u);
  EXPECT_EQ(c->first_position, 3u);
  EXPECT_EQ(c->stream_version, 2u);
  EXPECT_EQ(log_->last_position(), 3u);
}

TEST_P(event_log_contract, a_multi_event_append_is_one_contiguous_range) {
  append_request r = one("acme/tenant/acme", note("1"));
  r.events.push_back(note("2"));
  r.events.push_back(note("3"));
  auto res = append(r);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->first_position, 1u);
  EXPECT_EQ(res->last_position, 3u);
  EXPECT_EQ(res->stream_version, 3u);
  auto evs = log_->read_stream("acme/tenant/acme", 1, 100);
  ASSERT_TRUE(evs);
  ASSERT_EQ(evs->size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*evs)[i].env.stream_seq, i + 1);
    EXPECT_EQ((*evs)[i].env.position, i + 1);
  }
}

TEST_P(event_log_contract, envelopes_carry_metadata_time_and_type) {
  clock_.set(1'800'000'000'000'000);
  auto r = one("acme/call/CA123", test::make_event(ev::tenant_renamed{"Acme"}));
  r.meta = {"u-7", "admin-1", "req-9", "corr-2", "cause-3"};
  ASSERT_TRUE(append(r));
  auto evs = log_->read_all(1, 10);
  ASSERT_TRUE(evs);
  ASSERT_EQ(evs->size(), 1u);
  auto& env = (*evs)[0].env;
  EXPECT_EQ(env.tenant, "acme");
  EXPECT_EQ(env.stream, "acme/call/CA123");
  EXPECT_EQ(env.type, "tenant_renamed");
  EXPECT_EQ(env.schema_version, 1);
  EXPECT_EQ(env.recorded_at_us, 1'800'000'000'000'000);
  EXPECT_EQ(env.meta.causer, "u-7");
  EXPECT_EQ(env.meta.impersonator, "admin-1");
  EXPECT_EQ(env.meta.request_id, "req-9");
  EXPECT_EQ(env.meta.correlation_id, "corr-2");
  EXPECT_EQ(env.meta.causation_id, "cause-3");
  auto dec = codec::decode<ev::tenant_event>(env.type, env.schema_version, (*evs)[0].payload);
  ASSERT_TRUE(dec);
  EXPECT_EQ(std::get<ev::tenant_renamed>(*dec).name, "Acme");
}

TEST_P(event_log_contract, a_wrong_expected_version_is_a_conflict_and_writes_nothing) {
  ASSERT_TRUE(append(one("acme/tenant/acme", note("a"), no_stream)));
  auto again = append(one("acme/tenant/acme", note("b"), no_stream));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), errc::conflict);
  auto stale = append(one("acme/tenant/acme", note("b"), 5));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code(), errc::conflict);
  EXPECT_EQ(log_->last_position(), 1u);
  auto ok = append(one("acme/tenant/acme", note("b"), 1));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->stream_version, 2u);
}

TEST_P(event_log_contract, concurrent_writers_with_expected_versions_never_fork_a_stream) {
  constexpr int threads = 8, rounds = 25;
  std::atomic<int> wins{0}, conflicts{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        // Read-decide-append, the way an aggregate without an actor would.
        auto evs = log_->read_stream("acme/tenant/acme", 1, 100000);
        uint64_t v = evs ? evs->size() : 0;
        auto r = append(one("acme/tenant/acme", note("x"), v));
        (r ? wins : conflicts)++;
        if (!r) {
          EXPECT_EQ(r.error().code(), errc::conflict);
        }
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(log_->last_position(), uint64_t(wins.load()));
  auto evs = log_->read_stream("acme/tenant/acme", 1, 100000);
  ASSERT_TRUE(evs);
  for (size_t i = 0; i < evs->size(); ++i) EXPECT_EQ((*evs)[i].env.stream_seq, i + 1);
}

TEST_P(event_log_contract, concurrent_appends_get_dense_unique_positions) {
  constexpr int threads = 16, per = 50;
  std::vector<std::thread> ts;
  std::vector<std::vector<uint64_t>> got(threads);
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < per; ++i) {
        auto r = append(one("t" + std::to_string(t % 4) + "/tenant/x", note("y")));
        ASSERT_TRUE(r);
        got[t].push_back(r->first_position);
      }
    });
  for (auto& t : ts) t.join();
  std::vector<bool> seen(threads * per + 1, false);
  for (auto& v : got)
    for (auto p : v) {
      ASSERT_GE(p, 1u);
      ASSERT_LE(p, uint64_t(threads * per));
      EXPECT_FALSE(seen[p]) << "position " << p << " handed out twice";
      seen[p] = true;
    }
  EXPECT_EQ(log_->last_position(), uint64_t(threads * per));
  auto rep = verify_log(*log_);
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->ok) << rep->reason;
}

TEST_P(event_log_contract, a_known_idempotency_key_returns_the_original_positions) {
  auto first = append(one("acme/call/CA1", note("ringing"), any_version, "twilio/CA1/status/ringing"));
  ASSERT_TRUE(append(one("acme/call/CA1", note("other"))));
  auto retry = append(one("acme/call/CA1", note("ringing"), any_version, "twilio/CA1/status/ringing"));
  ASSERT_TRUE(first && retry);
  EXPECT_FALSE(first->deduplicated);
  EXPECT_TRUE(retry->deduplicated);
  EXPECT_EQ(retry->first_position, first->first_position);
  EXPECT_EQ(retry->last_position, first->last_position);
  EXPECT_EQ(log_->last_position(), 2u);
}

TEST_P(event_log_contract, duplicate_keys_in_one_group_commit_write_once) {
  std::vector<std::thread> ts;
  std::vector<uint64_t> firsts(12);
  for (int t = 0; t < 12; ++t)
    ts.emplace_back([&, t] {
      auto r = append(one("acme/wa/main", note("msg"), any_version, "wa/acme/main/key-1"));
      ASSERT_TRUE(r);
      firsts[t] = r->first_position;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(log_->last_position(), 1u);
  for (auto f : firsts) EXPECT_EQ(f, 1u);
}

TEST_P(event_log_contract, streams_with_a_prefix_are_listed_once_each_in_order) {
  for (auto stream : {"acme/wa/sales", "acme/wa/main", "acme/wamsg/main", "acme/wa/main", "beta/wa/main", "acme/w/x"})
    ASSERT_TRUE(append(one(stream, note("v"))));
  auto wa = log_->streams_with_prefix("acme/wa/");
  ASSERT_TRUE(wa);
  EXPECT_EQ(*wa, (std::vector<std::string>{"acme/wa/main", "acme/wa/sales"}));
  auto none = log_->streams_with_prefix("gamma/");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(event_log_contract, read_all_and_read_stream_page) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(append(one(i % 2 ? "a/k/x" : "b/k/y", note(std::to_string(i)))));
  auto page = log_->read_all(4, 3);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].env.position, 4u);
  EXPECT_EQ((*page)[2].env.position, 6u);
  auto s = log_->read_stream("a/k/x", 3, 2);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].env.stream_seq, 3u);
  EXPECT_EQ((*s)[0].env.position, 6u);
  auto none = log_->read_stream("c/k/z", 1, 10);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto past_end = log_->read_stream("a/k/x", 6, 10);
  ASSERT_TRUE(past_end);
  EXPECT_TRUE(past_end->empty());
  auto last = log_->read_stream("a/k/x", 5, 10);
  ASSERT_TRUE(last);
  ASSERT_EQ(last->size(), 1u);
  EXPECT_EQ((*last)[0].env.position, 10u);
  auto from_zero = log_->read_stream("a/k/x", 0, 10);  // sequences start at 1: all of it
  ASSERT_TRUE(from_zero);
  EXPECT_EQ(from_zero->size(), 5u);
  // A stream whose name extends another's is still new.
  auto extended = log_->read_stream("a/k/xx", 1, 10);
  ASSERT_TRUE(extended);
  EXPECT_TRUE(extended->empty());
  auto first = append(one("a/k/xx", note("first"), 0));
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_EQ(first->stream_version, 1u);
}

TEST_P(event_log_contract, scan_streams_merges_the_named_streams_in_position_order_up_to_a_bound) {
  // "a/k/xy" shares a prefix with "a/k/x" and must not leak into it.
  const char* streams[] = {"a/k/x", "a/k/xy", "b/k/y", "a/k/x", "b/k/y", "a/k/xy", "a/k/x", "b/k/y", "a/k/x"};
  for (int i = 0; i < 9; ++i)
    ASSERT_TRUE(append(one(streams[i], test::note("n" + std::to_string(i), i == 3 ? "a/lead/L1" : i == 6 ? "a/lead/L2" : ""))));
  ASSERT_TRUE(log_->erase_subject("a/lead/L2"));
  auto seen = [&](std::vector<std::string> names, uint64_t until) {
    std::vector<std::string> out;
    auto s = log_->scan_streams(names, until, [&](const log_entry& e) {
      out.push_back(std::to_string(e.record.position) + ":" + std::string(e.record.stream) + ":" +
                    (e.erased ? std::string("erased") : std::string(e.payload)));
      return true;
    });
    EXPECT_TRUE(s) << s.to_string();
    return out;
  };
  auto wanted = [&](std::vector<std::string> names, uint64_t until) {  // the same from a full scan
    std::vector<std::string> out;
    EXPECT_TRUE(log_->scan(1, [&](const log_entry& e) {
      if (e.record.position > until) return false;
      for (auto& n : names)
        if (e.record.stream == n)
          out.push_back(std::to_string(e.record.position) + ":" + n + ":" +
                        (e.erased ? std::string("erased") : std::string(e.payload)));
      return true;
    }));
    return out;
  };
  auto all = seen({"b/k/y", "a/k/x"}, 100);
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all, wanted({"b/k/y", "a/k/x"}, 100));
  EXPECT_EQ(all.front().substr(0, 8), "1:a/k/x:");
  EXPECT_EQ(all[4], "7:a/k/x:erased") << "an erased subject reads as erased here too";
  EXPECT_NE(all[2].find("4:a/k/x:"), std::string::npos) << "a sealed payload is decrypted";
  EXPECT_EQ(seen({"b/k/y", "a/k/x"}, 5), wanted({"b/k/y", "a/k/x"}, 5));
  EXPECT_EQ(seen({"b/k/y", "a/k/x"}, 5).size(), 4u);
  EXPECT_EQ(seen({"a/k/xy"}, 100), wanted({"a/k/xy"}, 100));
  EXPECT_TRUE(seen({"no/such/stream"}, 100).empty());
}

TEST_P(event_log_contract, subscribers_hear_each_durable_position) {
  std::atomic<uint64_t> heard{0};
  auto id = log_->subscribe([&](uint64_t p) { heard = p; });
  ASSERT_TRUE(append(one("a/k/x", note("1"))));
  EXPECT_EQ(heard.load(), 1u);
  ASSERT_TRUE(append(one("a/k/x", note("2"))));
  EXPECT_EQ(heard.load(), 2u);
  log_->unsubscribe(id);
  ASSERT_TRUE(append(one("a/k/x", note("3"))));
  EXPECT_EQ(heard.load(), 2u);
}

TEST_P(event_log_contract, subject_payloads_are_readable_until_erased) {
  auto lead = test::make_event(ev::lead_created{"L1", "Dana", "+972501234567", "", "phone"},
                               "acme/lead/L1");
  auto other = test::make_event(ev::lead_created{"L2", "Noa", "+972501111111", "", "phone"},
                                "acme/lead/L2");
  ASSERT_TRUE(append(one("acme/tenant/acme", lead)));
  ASSERT_TRUE(append(one("acme/tenant/acme", other)));
  auto before = log_->read_all(1, 10);
  ASSERT_TRUE(before);
  EXPECT_EQ((*before)[0].payload, lead.payload);
  EXPECT_FALSE((*before)[0].erased);

  ASSERT_TRUE(log_->erase_subject("acme/lead/L1"));

  auto after = log_->read_all(1, 10);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 2u);
  EXPECT_TRUE((*after)[0].erased);
  EXPECT_TRUE((*after)[0].payload.empty());
  EXPECT_FALSE((*after)[1].erased);
  EXPECT_EQ((*after)[1].payload, other.payload);
  auto rep = verify_log(*log_);
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->ok) << rep->reason;
  auto again = append(one("acme/tenant/acme", test::note("more", "acme/lead/L1")));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), errc::subject_erased);
}

TEST_P(event_log_contract, malformed_appends_are_invalid_arguments) {
  for (std::string bad : {"", "acme", "acme/tenant", "Acme/tenant/x", "acme//x", "acme/tenant/",
                          "acme/tenant/a/b", "acme/Tenant/x"}) {
    auto r = append(one(bad, note("x")));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), errc::invalid_argument) << bad;
  }
  append_request empty;
  empty.stream = "acme/tenant/acme";
  auto r = append(empty);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_EQ(log_->last_position(), 0u);
}

TEST_P(event_log_contract, a_rejected_request_does_not_disturb_its_group) {
  // Many appends in flight at once, every third one stale: the others commit.
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 30; ++t)
    ts.emplace_back([&, t] {
      auto r = append(one("s" + std::to_string(t) + "/k/x", note("v"), t % 3 == 0 ? 9 : any_version));
      if (r) ok++;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(log_->last_position(), 20u);
}

// A duplicate of an append made in the same group commit rides on that
// append's write: when the write fails, neither is acknowledged (a success
// would name positions that were never stored).
TEST(event_log_failures, a_duplicate_riding_on_a_failed_batch_is_not_acknowledged) {
  std::shared_ptr<kv_store> kv = std::make_shared<test::flaky_kv>(make_memory_kv(), 2);  // #0 format, #1 slow, #2 fails
  auto log = std::move(*open_event_log(kv));
  std::promise<result<append_result>> slow, first, dup;
  log->append_async(one("acme/k/a", note("slow")), [&](result<append_result> r) { slow.set_value(std::move(r)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(10));  // being written now, for 30 ms
  log->append_async(one("acme/k/b", note("x"), any_version, "key-1"),
                    [&](result<append_result> r) { first.set_value(std::move(r)); });
  log->append_async(one("acme/k/b", note("x"), any_version, "key-1"),
                    [&](result<append_result> r) { dup.set_value(std::move(r)); });
  ASSERT_TRUE(slow.get_future().get());
  auto f = first.get_future().get();
  auto d = dup.get_future().get();
  ASSERT_FALSE(f) << "the batch failed";
  EXPECT_FALSE(d) << "so its duplicate, decided on it, failed too";
  if (!d) {
    EXPECT_EQ(d.error().code(), errc::io_error);
  }
  EXPECT_EQ(log->last_position(), 1u);
  // Retried, the key is new: written once, at the next dense position.
  auto again = log->append(one("acme/k/b", note("x"), any_version, "key-1"));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->deduplicated);
  EXPECT_EQ(again->first_position, 2u);
  auto twice = log->append(one("acme/k/b", note("x"), any_version, "key-1"));
  ASSERT_TRUE(twice);
  EXPECT_TRUE(twice->deduplicated);
  EXPECT_EQ(twice->first_position, 2u);
}

INSTANTIATE_TEST_SUITE_P(both, event_log_contract, ::testing::Values(impl::memory, impl::rocks),
                         [](const auto& info) {
                           return info.param == impl::memory ? std::string("memory") : std::string("rocks");
                         });

}  // namespace
}  // namespace crmd
