// A seeded random history for property tests of the views: many tenants,
// every event type of the catalog, references that exist (contacts, tasks,
// calls, messages, users), statuses that move forward the way the deciders
// move them, data subjects, and erasures of some of them.
//
// It imitates the deciders rather than calling them: the views must fold
// whatever the log holds, and a model this small keeps 100k events cheap
// and every path reachable (a decider would refuse most random commands).
//
// Everything that reaches the log follows from the seed alone: the steps,
// their order, and (through stepping_clock) every recorded_at, so a failing
// seed replays the same log.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "events/clock.hpp"
#include "storage/event_log.hpp"

namespace crmd::test {

struct history_step {
  append_request append;   // when `erase` is empty
  std::string erase;       // else: the data subject to erase
  uint64_t positions = 0;  // log positions the append takes; 0 for a redelivery the log deduplicates
};

class history_generator {
 public:
  history_generator(uint64_t seed, size_t tenants);
  ~history_generator();

  history_step next();

  // The incremental views have folded everything up to `position`. A
  // subject is only erased while none of its events is folded yet: a view
  // that folded a subject's data before its erasure keeps it until the view
  // is rebuilt (nothing tells the runner of erasures), so that case has no
  // incremental twin to compare with.
  void folded(uint64_t position);

  uint64_t positions() const;  // taken by all steps so far
  uint64_t erasures() const;
  uint64_t redeliveries() const;
  const std::map<std::string, uint64_t>& type_counts() const;  // stored events by type

 private:
  struct model;
  std::unique_ptr<model> m_;
};

// A clock that moves forward by a pseudo-random 0..4 s on every reading.
// The log reads its clock once per accepted append and once per erasure,
// on its writer thread, in queue order, so the recorded times follow from
// the seed even though appends are queued asynchronously.
class stepping_clock : public clock {
 public:
  explicit stepping_clock(uint64_t seed, int64_t start_us = 1'700'000'000'000'000);
  int64_t now_us() const override;

 private:
  mutable std::atomic<uint64_t> state_;
  mutable std::atomic<int64_t> now_;
};

}  // namespace crmd::test
