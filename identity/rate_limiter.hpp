// Counts events (failed logins, forged webhook signatures, requests) per key
// in a fixed window and says when a key is over its limit and for how long.
// Time comes from a crmd::clock, so tests move it by hand.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "events/clock.hpp"

namespace crmd::identity {

struct rate_limit {
  uint32_t max = 10;                      // events allowed per window
  int64_t window_us = 60'000'000;         // one minute
  size_t max_keys = 100'000;              // memory bound: expired, then unlocked keys are dropped past this
};

class rate_limiter {
 public:
  explicit rate_limiter(rate_limit limit, const clock& time = system_clock()) : limit_(limit), time_(time) {}

  // Seconds until `key` may try again (0: it may now).
  int64_t retry_after_s(const std::string& key);
  // Counts one event for `key`.
  void record(const std::string& key);
  // Counts one event and says whether it was still within the limit.
  bool admit(const std::string& key);
  void forget(const std::string& key);

 private:
  struct window {
    int64_t start_us = 0;
    uint32_t count = 0;
  };
  window& current(const std::string& key, int64_t now);
  rate_limit limit_;
  const clock& time_;
  std::mutex mu_;
  std::unordered_map<std::string, window> windows_;
};

}  // namespace crmd::identity
