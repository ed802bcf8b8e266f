// Kill -9 under load, many rounds: nothing acknowledged is lost, positions
// stay dense, chains verify.
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <map>
#include <random>
#include <sstream>

#include "events/codec.hpp"
#include "replay/verify.hpp"
#include "storage/rocks_kv.hpp"
#include "tests/support/events.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

// Reads whatever the child printed within `ms`, appending complete lines.
void read_for(int fd, int ms, std::string& buf) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  char chunk[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
    if (left <= 0) return;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, int(left)) <= 0) continue;
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return;
    buf.append(chunk, size_t(n));
  }
}

void drain(int fd, std::string& buf) {
  char chunk[65536];
  ssize_t n;
  while ((n = ::read(fd, chunk, sizeof chunk)) > 0) buf.append(chunk, size_t(n));
}

TEST(crash, sigkill_under_load_loses_nothing_acknowledged) {
  test::temp_dir dir;
  std::string db = dir.sub("db");
  std::mt19937 rng(std::random_device{}());
  std::map<uint64_t, std::string> acked;  // position -> marker, across rounds
  constexpr int rounds = 12;
  for (int round = 0; round < rounds; ++round) {
    auto c = test::spawn_piped({CRASH_CHILD_BINARY, db, "8", std::to_string(round)});
    ASSERT_GT(c.pid, 0);
    std::string out;
    // Wait (bounded) until the child has opened the log, then let it run.
    for (int waited = 0; out.find("ready") == std::string::npos && waited < 10000; waited += 50)
      read_for(c.out_fd, 50, out);
    read_for(c.out_fd, 10 + int(rng() % 300), out);
    kill(c.pid, SIGKILL);
    int st = 0;
    waitpid(c.pid, &st, 0);
    drain(c.out_fd, out);
    close(c.out_fd);
    ASSERT_NE(out.find("ready"), std::string::npos) << "child never opened the log: " << out;

    std::istringstream lines(out);
    std::string word;
    int acks_this_round = 0;
    while (lines >> word) {
      ASSERT_NE(word, "error") << out;
      if (word != "ack") continue;
      uint64_t pos;
      std::string marker;
      lines >> pos >> marker;
      acked[pos] = marker;
      ++acks_this_round;
    }

    rocks_options ro;
    ro.path = db;
    auto kv = open_rocks_kv(ro);
    ASSERT_TRUE(kv) << kv.error().to_string();
    auto log = open_event_log(std::move(*kv));
    ASSERT_TRUE(log) << log.error().to_string();
    for (auto& [pos, marker] : acked) {
      auto evs = (*log)->read_all(pos, 1);
      ASSERT_TRUE(evs) << evs.error().to_string();
      ASSERT_EQ(evs->size(), 1u) << "acknowledged position " << pos << " lost in round " << round;
      auto dec = codec::decode<ev::tenant_event>((*evs)[0].env.type, 1, (*evs)[0].payload);
      ASSERT_TRUE(dec);
      EXPECT_EQ(std::get<ev::note_added>(*dec).text, marker) << "position " << pos;
    }
    auto rep = verify_log(**log);
    ASSERT_TRUE(rep);
    ASSERT_TRUE(rep->ok) << "round " << round << ": " << rep->reason << " at " << rep->first_bad_position;
    EXPECT_GE(rep->events_checked, acked.empty() ? 0 : acked.rbegin()->first);
    std::cout << "[ round " << round << " ] acks " << acks_this_round << ", log "
              << (*log)->last_position() << " events, all acknowledged present\n";
  }
  EXPECT_GT(acked.size(), 100u) << "the load was too light to mean anything";
}

}  // namespace
}  // namespace crmd
