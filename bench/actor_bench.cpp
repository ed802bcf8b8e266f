// Actor runtime benchmarks (issue 3):
//   wake   time for a tenant with a long history to answer its first command
//          after a restart: from its snapshot plus tail, and (baseline in the
//          same run) from its whole stream with the snapshot removed
//   rss    peak RSS after activating N tenant actors, and RSS after they
//          have all been stopped as idle
// Usage: actor_bench [--events N] [--tenants N] [--idle S] [--only wake|rss] [--dir D]
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "actors/runtime.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"
#include "storage/rocks_kv.hpp"

using namespace crmd;
using clk = std::chrono::steady_clock;

namespace {

long status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  return -1;
}

struct store {
  std::shared_ptr<kv_store> kv;
  std::unique_ptr<event_log> log;
};

store open_store(const std::string& path) {
  rocks_options ro;
  ro.path = path;
  auto kv = open_rocks_kv(ro);
  if (!kv) {
    std::fprintf(stderr, "%s\n", kv.error().to_string().c_str());
    std::exit(1);
  }
  store s;
  s.kv = std::move(*kv);
  log_options lo;
  lo.sync = false;  // these benchmarks measure actors, not fsync
  s.log = std::move(*open_event_log(s.kv, lo));
  return s;
}

// Issues `n` commands with at most `window` in flight; returns when all answered.
void drive(runtime& rt, uint64_t n, int window, const std::function<std::string(uint64_t)>& tenant_of) {
  std::atomic<uint64_t> answered{0}, issued{0};
  std::atomic<int> inflight{0};
  while (issued < n) {
    while (inflight.load() >= window) std::this_thread::yield();
    uint64_t i = issued++;
    inflight++;
    rt.tenant_command(tenant_of(i), tenant::save_prompt{"t", "prompt body " + std::to_string(i), "general"},
                      {"bench"}, [&](result<command_ok> r) {
                        if (!r) std::abort();
                        answered++;
                        inflight--;
                      });
  }
  while (answered < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

double first_command_ms(runtime& rt, const std::string& tenant) {
  std::promise<void> p;
  auto t0 = clk::now();
  rt.tenant_command(tenant, tenant::save_prompt{"t", "wake", "general"}, {"bench"},
                    [&](result<command_ok> r) {
                      if (!r) std::abort();
                      p.set_value();
                    });
  p.get_future().wait();
  return std::chrono::duration<double, std::milli>(clk::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t events = 1'000'000, tenants = 100'000, idle_s = 120;
  std::string dir = "/tmp/crmd-actor-bench";
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--events")) events = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--tenants")) tenants = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    else if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];  // wake | rss
    else if (!std::strcmp(argv[i], "--idle")) idle_s = std::strtoull(argv[i + 1], nullptr, 10);
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  // --- wake a tenant with a long history ---------------------------------------
  if (only.empty() || only == "wake") {
    auto s = open_store(dir + "/wake");
    {
      auto rt = std::move(*start_runtime(*s.log, s.kv));
      auto t0 = clk::now();
      drive(*rt, events, 256, [](uint64_t) { return std::string("big"); });
      double secs = std::chrono::duration<double>(clk::now() - t0).count();
      std::printf("history: %llu events for one tenant in %.1f s (%.0f commands/s, OS-buffered log)\n",
                  (unsigned long long)events, secs, events / secs);
    }  // stopping snapshots the actor
    {
      auto rt = std::move(*start_runtime(*s.log, s.kv));
      std::printf("wake from snapshot + tail:        %8.1f ms\n", first_command_ms(*rt, "big"));
    }
    auto b = s.kv->new_batch();
    b->del(cf::snapshots, std::string("big/tenant/big\0h", 16));  // the header: the rest is then ignored
    s.kv->write(*b, true);
    {
      auto rt = std::move(*start_runtime(*s.log, s.kv));
      std::printf("wake from the whole stream:       %8.1f ms (baseline: snapshot removed)\n",
                  first_command_ms(*rt, "big"));
    }
  }

  // --- memory with many live actors ---------------------------------------------
  if (only.empty() || only == "rss") {
    auto s = open_store(dir + "/rss");
    long before = status_kb("VmRSS:");
    runtime_options o;
    o.idle = std::chrono::seconds(idle_s);  // longer than the activation takes
    auto rt = std::move(*start_runtime(*s.log, s.kv, o));
    auto t0 = clk::now();
    drive(*rt, tenants, 512, [](uint64_t i) { return "t" + std::to_string(i); });
    double secs = std::chrono::duration<double>(clk::now() - t0).count();
    auto st = rt->stats();
    long peak = status_kb("VmHWM:");
    std::printf("\nactivated %llu tenant actors in %.1f s; live %llu\n", (unsigned long long)tenants, secs,
                (unsigned long long)st.live_actors);
    std::printf("RSS before %ld KiB, peak with all live %ld KiB (%.2f KiB per actor)\n", before, peak,
                double(peak - before) / double(tenants));
    for (int i = 0; i < 10 * int(idle_s) + 600 && rt->stats().live_actors > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    malloc_trim(0);
    std::printf("after idle stop: live %llu, RSS %ld KiB\n", (unsigned long long)rt->stats().live_actors,
                status_kb("VmRSS:"));
  }
  std::filesystem::remove_all(dir);
  return 0;
}
