// The process the crash test kills: appends from several threads as fast as
// durable appends go, printing "ack <position> <marker>" after each
// acknowledgement, until it is SIGKILLed. Usage: crash_child <db path> <threads>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/rocks_kv.hpp"
#include "tests/support/events.hpp"
#include "tests/support/zeroed_wal.hpp"

int main(int argc, char** argv) {
  using namespace crmd;
  if (argc != 4) {
    std::fprintf(stderr, "usage: crash_child <db path> <threads> <round>\n");
    return 2;
  }
  rocks_options ro;
  ro.path = argv[1];
  ro.zeroed_wal_bytes = 4u << 20;  // small, so a killed child often leaves a WAL ending in zeros
  auto kv = open_rocks_kv(ro);
  if (!kv) {
    std::fprintf(stderr, "crash_child: %s\n", kv.error().to_string().c_str());
    return 1;
  }
  // Appends go into a WAL made from a zeroed spare, as in production.
  if (!test::switch_to_zeroed_wal(**kv, argv[1])) {
    std::fprintf(stderr, "crash_child: no switch to a zeroed WAL\n");
    return 1;
  }
  auto log = open_event_log(std::move(*kv));
  if (!log) {
    std::fprintf(stderr, "crash_child: %s\n", log.error().to_string().c_str());
    return 1;
  }
  int threads = std::atoi(argv[2]);
  std::string round = argv[3];
  std::mutex out_mu;
  auto say = [&](const std::string& line) {
    std::lock_guard lock(out_mu);
    // One write() per line: whole lines reach the pipe even when killed.
    if (::write(1, line.data(), line.size()) < 0) std::_Exit(3);
  };
  say("ready\n");
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (uint64_t i = 0;; ++i) {
        std::string marker = "r" + round + "-t" + std::to_string(t) + "-" + std::to_string(i);
        std::string tenant = "tenant" + std::to_string(t % 5);
        // Every 7th event is subject-bound (encrypted), every 5th carries a key.
        std::string subject = i % 7 == 0 ? tenant + "/lead/" + marker : "";
        auto req = test::one(tenant + "/tenant/" + tenant, test::note(marker, subject), any_version,
                             i % 5 == 0 ? "idem/" + marker : "");
        req.events.push_back(test::note(marker + "-second"));
        auto r = (*log)->append(std::move(req));
        if (!r) {
          say("error " + r.error().to_string() + "\n");
          return;
        }
        say("ack " + std::to_string(r->first_position) + " " + marker + "\n");
      }
    });
  for (auto& t : ts) t.join();
  return 0;
}
