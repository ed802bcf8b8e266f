// Issue 8, item 5: views rebuilt from the log equal the views built
// incrementally, byte for byte, over a large random history.
//
// The history (history_generator.hpp) spans 20 tenants and every event type
// of the catalog. The incremental views catch up after every burst of 1..500
// events, in runner batches of a few events, so they fold partial histories
// and meet every batch boundary a running server could; the rebuild folds a
// copy of the same log in one go. Then the `projections` family of both
// stores (views and checkpoints) must hold the same keys and values.
//
// The seed is random and printed; CRMD_EQUIV_SEED=<n> replays a run, and
// CRMD_EQUIV_EVENTS=<n> makes the history longer (or shorter) than 100k.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <variant>

#include "events/call_events.hpp"
#include "events/identity_events.hpp"
#include "events/whatsapp_events.hpp"
#include "projections/folder.hpp"
#include "projections/runner.hpp"
#include "projections/views.hpp"
#include "storage/crypto.hpp"
#include "storage/kv.hpp"
#include "tests/projections/history_generator.hpp"
#include "tests/support/kv_dump.hpp"

namespace crmd {
namespace {

using test::history_generator;

uint64_t env_or(const char* name, uint64_t otherwise) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : otherwise;
}

uint64_t seed() {
  static const uint64_t s = env_or("CRMD_EQUIV_SEED", std::random_device{}() * 0x100000001ull ^ std::random_device{}());
  return s;
}

constexpr size_t tenants = 20;
uint64_t events() { return env_or("CRMD_EQUIV_EVENTS", 100'000); }

// Every event type name of the variants the catalog knows (events/catalog.cpp),
// taken from the types themselves: a new event type fails the coverage test
// until the generator makes it.
template <class... T>
void add_names(std::set<std::string>& out, const std::variant<T...>*) {
  (out.insert(T::type_name), ...);
}
std::set<std::string> catalog_type_names() {
  std::set<std::string> out;
  add_names(out, static_cast<const ev::tenant_event*>(nullptr));
  add_names(out, static_cast<const ev::registry_event*>(nullptr));
  add_names(out, static_cast<const ev::auth_event*>(nullptr));
  add_names(out, static_cast<const ev::call_event*>(nullptr));
  add_names(out, static_cast<const ev::whatsapp_event*>(nullptr));
  return out;
}

std::string missing_types(const std::map<std::string, uint64_t>& counts) {
  std::string out;
  for (auto& name : catalog_type_names())
    if (!counts.count(name)) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// Appends queued with append_async, awaited before the views catch up.
struct in_flight {
  std::mutex mu;
  std::condition_variable cv;
  size_t pending = 0;
  std::string first_error;

  void start() {
    std::lock_guard lock(mu);
    ++pending;
  }
  void done(const result<append_result>& r, bool expect_duplicate) {
    std::lock_guard lock(mu);
    if (first_error.empty() && !r) first_error = r.error().to_string();
    if (first_error.empty() && r->deduplicated != expect_duplicate)
      first_error = "position " + std::to_string(r->first_position) + ": deduplicated is " +
                    (r->deduplicated ? "true" : "false") + ", the generator expected otherwise";
    if (--pending == 0) cv.notify_all();
  }
  std::string wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return pending == 0; });
    return first_error;
  }
};

// The generated logs: OS-buffered, every recorded time from the seed's clock.
log_options history_log(test::stepping_clock& clock) {
  log_options lo;
  lo.sync = false;
  lo.time = &clock;
  return lo;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// A log of `count` positions generated from `seed` over `tenants` tenants,
// appended one at a time, in memory.
struct fixed_history {
  fixed_history(uint64_t seed, size_t tenants, uint64_t count) : clock(seed) {
    auto opened = open_event_log(kv, history_log(clock));
    if (!opened) {
      ADD_FAILURE() << opened.error().to_string();
      return;
    }
    log = std::move(*opened);
    history_generator gen(seed, tenants);
    while (gen.positions() < count) {
      auto step = gen.next();
      if (!step.erase.empty()) {
        EXPECT_TRUE(log->erase_subject(step.erase));
        continue;
      }
      auto r = log->append(std::move(step.append));
      EXPECT_TRUE(r) << r.error().to_string();
    }
  }
  test::stepping_clock clock;
  std::shared_ptr<kv_store> kv = make_memory_kv();
  std::unique_ptr<event_log> log;
};

TEST(views_equivalence, a_random_history_names_every_event_type_of_the_catalog) {
  // Given the generator with the run's seed
  history_generator gen(seed(), tenants);
  // When it makes a full-length history
  while (gen.positions() < events()) gen.next();
  // Then every type of every event variant occurs in it
  EXPECT_EQ(missing_types(gen.type_counts()), "") << "seed " << seed();
  std::vector<std::pair<uint64_t, std::string>> rarest;
  for (auto& [name, n] : gen.type_counts()) rarest.emplace_back(n, name);
  std::sort(rarest.begin(), rarest.end());
  std::cout << "[ coverage ] seed " << seed() << ": " << gen.type_counts().size() << " of "
            << catalog_type_names().size() << " types; rarest";
  for (size_t i = 0; i < rarest.size() && i < 5; ++i) std::cout << " " << rarest[i].second << "=" << rarest[i].first;
  std::cout << "\n";
  EXPECT_GT(gen.erasures(), 0u);
  EXPECT_GT(gen.redeliveries(), 0u);
}

TEST(views_equivalence, views_rebuilt_from_the_log_equal_the_incrementally_built_ones_byte_for_byte) {
  uint64_t s = seed();
  std::mt19937_64 rng(s ^ 0x5eed);
  runner_options small;
  small.batch_events = 1 + rng() % 64;
  std::cout << "[ equivalence ] seed " << s << " (CRMD_EQUIV_SEED=" << s << " replays it), " << events()
            << " events, " << tenants << " tenants, incremental batches of " << small.batch_events << "\n";
  RecordProperty("seed", std::to_string(s));

  // Given a log that grows in bursts of 1..500 events, some of them
  // redeliveries and erasures, with the views catching up after each burst
  test::stepping_clock clock(s);
  in_flight flight;  // outlives the log, whose writer may still answer appends as it closes
  std::shared_ptr<kv_store> kv = make_memory_kv();
  auto opened = open_event_log(kv, history_log(clock));
  ASSERT_TRUE(opened) << opened.error().to_string();
  auto& log = **opened;
  projection_runner incremental(log, kv, views::all(), small);
  history_generator gen(s, tenants);
  auto t0 = std::chrono::steady_clock::now();
  double folding = 0;
  while (gen.positions() < events()) {
    uint64_t goal = gen.positions() + 1 + rng() % 500;
    while (gen.positions() < goal) {
      auto step = gen.next();
      if (!step.erase.empty()) {
        // Queued behind the appends before it: the log orders both.
        auto erased = log.erase_subject(step.erase);
        ASSERT_TRUE(erased) << step.erase << ": " << erased.to_string();
        continue;
      }
      flight.start();
      bool duplicate = step.positions == 0;
      log.append_async(std::move(step.append),
                       [&flight, duplicate](result<append_result> r) { flight.done(r, duplicate); });
    }
    ASSERT_EQ(flight.wait(), "") << "seed " << s;
    auto f0 = std::chrono::steady_clock::now();
    auto caught = incremental.catch_up();
    folding += seconds_since(f0);
    ASSERT_TRUE(caught) << caught.to_string();
    gen.folded(incremental.position());
  }
  double building = seconds_since(t0);
  ASSERT_EQ(log.last_position(), gen.positions()) << "the generator's count of positions is off";
  EXPECT_EQ(missing_types(gen.type_counts()), "");

  // When the views are rebuilt in one go (rebuild_views, as crmd rebuild)
  // over copies of the log: in memory, and with a budget so small that the
  // fold spills to the store many times and reads its own keys back
  auto copy_of_log = [&]() {
    std::shared_ptr<kv_store> copy = make_memory_kv();
    for (int f = 0; f < cf_count; ++f) {
      if (cf(f) == cf::projections) continue;
      EXPECT_TRUE(test::copy_family(*kv, *copy, cf(f)));
    }
    return copy;
  };
  auto rebuild = [&](kv_store& copy_kv, std::shared_ptr<kv_store> copy, size_t memory) -> double {
    auto reopened = open_event_log(std::move(copy));
    EXPECT_TRUE(reopened) << reopened.error().to_string();
    if (!reopened) return 0;
    auto owned = views::all();
    std::vector<projection*> views;
    for (auto& v : owned) views.push_back(v.get());
    rebuild_options o;
    o.memory_bytes = memory;
    o.batch_events = 1 + rng() % 5000;
    auto t1 = std::chrono::steady_clock::now();
    auto rebuilt = rebuild_views(**reopened, copy_kv, views, o);
    EXPECT_TRUE(rebuilt) << rebuilt.to_string();
    return seconds_since(t1);
  };
  auto copy = copy_of_log(), spilled = copy_of_log();
  double rebuilding = rebuild(*copy, copy, rebuild_options{}.memory_bytes);
  double spilling = rebuild(*spilled, spilled, 256 << 10);

  // Then every view of the incremental runner reached the end of the log
  // without an error (a view stopped on an error would match its twin and
  // prove nothing; rebuild_views fails on one)
  auto a = incremental.views();
  ASSERT_EQ(a.size(), views::names().size());
  for (auto& [name, st] : a) {
    EXPECT_EQ(st.error, "") << name << " (incremental), seed " << s;
    EXPECT_EQ(st.position, log.last_position()) << name << " (incremental)";
  }
  // and the stores hold the same views and checkpoints, byte for byte
  EXPECT_EQ(test::first_difference(*kv, *copy, cf::projections), "")
      << "first key where the incremental views (first store) and the rebuilt ones (second) differ; seed " << s;
  EXPECT_EQ(test::first_difference(*kv, *spilled, cf::projections), "")
      << "first key where the incremental views (first store) and the ones rebuilt with spills (second) "
         "differ; seed " << s;

  // and no view is trivially equal because it is empty
  for (auto& name : views::names()) {
    std::string prefix = view_prefix(name), upper = prefix;
    upper.back() = char(upper.back() + 1);
    uint64_t keys = 0;
    for (auto it = copy->scan(cf::projections, prefix, upper); it->valid(); it->next()) ++keys;
    EXPECT_GT(keys, 0u) << name;
    std::cout << "[ equivalence ] view " << name << ": " << keys << " keys\n";
  }
  std::cout << "[ equivalence ] " << log.last_position() << " events, " << gen.erasures() << " erasures, "
            << gen.redeliveries() << " redeliveries; log and incremental views " << building << " s (folding "
            << folding << " s), rebuild " << rebuilding << " s, rebuild spilling every 256 KiB " << spilling
            << " s\n";
}

// `crmd rebuild all` cut short leaves every view cleared and marked; the
// next `crmd serve` builds them in bulk (build_empty_views) rather than
// batch by batch, and they equal the views folded incrementally.
TEST(views_equivalence, views_left_by_a_cut_short_rebuild_are_built_in_bulk_and_equal_the_incremental_ones) {
  constexpr uint64_t fixed_seed = 8081;
  fixed_history h(fixed_seed, 6, 8'000);
  ASSERT_TRUE(h.log);
  auto& log = *h.log;
  std::shared_ptr<kv_store> kv = h.kv;
  // Given views folded incrementally, and a copy of them
  {
    projection_runner incremental(log, kv, views::all());
    ASSERT_TRUE(incremental.catch_up());
  }
  std::shared_ptr<kv_store> expected = make_memory_kv();
  ASSERT_TRUE(test::copy_family(*kv, *expected, cf::projections));
  // When an offline rebuild of every view was cut short: marked, half written
  {
    auto b = kv->new_batch();
    for (auto& name : views::names()) {
      b->put(cf::projections, rebuild_marker_key(name), "");
      b->put(cf::projections, view_prefix(name) + "half-built", "{}");
    }
    ASSERT_TRUE(kv->write(*b, true));
  }
  // Then the next start builds every view in bulk, and nothing is left to catch up
  projection_runner next(log, kv, views::all());
  auto built = next.build_empty_views();
  ASSERT_TRUE(built) << built.error().to_string();
  EXPECT_EQ(*built, views::names());
  EXPECT_EQ(next.position(), log.last_position());
  ASSERT_TRUE(next.catch_up());
  // and the views, checkpoints and markers are those of the incremental fold
  EXPECT_EQ(test::first_difference(*expected, *kv, cf::projections), "");
  // and a start with nothing empty builds nothing
  projection_runner third(log, kv, views::all());
  auto none = third.build_empty_views();
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

// A view that cannot fold one event (it counts events, and refuses the 50th).
class refusing_view : public projection {
 public:
  const char* name() const override { return "refusing"; }
  status apply(const log_entry& e, view_txn& txn) override {
    if (e.record.position == 50) return {errc::corruption, "cannot fold position 50"};
    auto n = txn.get(view_prefix(name()) + "n");
    txn.put(view_prefix(name()) + "n", std::to_string(n ? std::stoull(*n) + 1 : 1));
    return status::ok();
  }
};

TEST(views_equivalence, a_view_that_stops_the_bulk_build_stops_alone_batch_by_batch) {
  fixed_history h(7, 3, 2'000);
  ASSERT_TRUE(h.log);
  auto& log = *h.log;
  std::shared_ptr<kv_store> kv = h.kv;
  // Given every view empty, and one that refuses position 50
  auto with_refusing = [] {
    auto v = views::all();
    v.push_back(std::make_unique<refusing_view>());
    return v;
  };
  projection_runner runner(log, kv, with_refusing());
  // When the start builds the empty views in bulk, and that fails on position 50
  auto built = runner.build_empty_views();
  ASSERT_TRUE(built) << built.error().to_string();
  EXPECT_TRUE(built->empty()) << "a failed bulk build reports no view as built";
  // Then catching up batch by batch stops only the refusing view, before position 50
  ASSERT_TRUE(runner.catch_up());
  for (auto& [name, st] : runner.views()) {
    if (name == "refusing") {
      EXPECT_NE(st.error, "");
      EXPECT_EQ(st.position, 49u);
    } else {
      EXPECT_EQ(st.error, "") << name;
      EXPECT_EQ(st.position, log.last_position()) << name;
    }
  }
  // and the other views are those a plain batch-by-batch fold gives
  std::shared_ptr<kv_store> plain = make_memory_kv();
  for (int f = 0; f < cf_count; ++f)
    if (cf(f) != cf::projections) ASSERT_TRUE(test::copy_family(*kv, *plain, cf(f)));
  auto reopened = open_event_log(plain);
  ASSERT_TRUE(reopened);
  projection_runner reference(**reopened, plain, with_refusing());
  ASSERT_TRUE(reference.catch_up());
  EXPECT_EQ(test::first_difference(*plain, *kv, cf::projections), "");
}

// The views' bytes of one fixed history, as a digest written down when the
// views were built with nlohmann::json: moving a view's entries to json_out
// (or any other writer) must not change a byte the views store. A deliberate
// change of a view's format updates the digest in the same commit, and says so.
TEST(views_equivalence, the_views_of_a_fixed_history_keep_their_bytes) {
  constexpr uint64_t fixed_seed = 20261130;
  fixed_history h(fixed_seed, 8, 30'000);
  ASSERT_TRUE(h.log);
  auto& log = *h.log;
  std::shared_ptr<kv_store> kv = h.kv;
  auto owned = views::all();
  std::vector<projection*> views;
  for (auto& v : owned) views.push_back(v.get());
  ASSERT_TRUE(rebuild_views(log, *kv, views));
  std::string digest(crypto::sha256_size, '\0');
  uint64_t keys = 0;
  for (auto it = kv->scan(cf::projections, "v/", "v0"); it->valid(); it->next(), ++keys) {
    std::string k(it->key()), v(it->value());
    digest = crypto::sha256(digest, be64(k.size()) + k + be64(v.size()) + v);
  }
  EXPECT_GT(keys, 10'000u);
  EXPECT_EQ(test::base64(digest), "AvrJINjqp0fdZ38vcRCUoYt9IAoNrpUdoRtmuai9/FA=") << keys << " keys";
}

}  // namespace
}  // namespace crmd
