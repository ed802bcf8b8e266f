// Time behind an interface, so tests control it (after RocksDB's SystemClock).
#pragma once

#include <atomic>
#include <cstdint>

namespace crmd {

class clock {
 public:
  virtual ~clock() = default;
  // Microseconds since the Unix epoch, UTC.
  virtual int64_t now_us() const = 0;
};

// The process-wide real clock.
clock& system_clock();

// A clock that only moves when told to; thread-safe.
class manual_clock : public clock {
 public:
  explicit manual_clock(int64_t start_us = 1'700'000'000'000'000) : now_(start_us) {}
  int64_t now_us() const override { return now_.load(); }
  void set(int64_t us) { now_.store(us); }
  void advance(int64_t us) { now_.fetch_add(us); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace crmd
