// Internal to http/: the online integrity check behind /api/admin/integrity.
// One run at a time on its own thread (a long walk must not hold a query
// thread); stop() cancels and joins it before the log goes away.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "replay/verify.hpp"

namespace crmd::http {

struct integrity_job {
  std::mutex m;
  std::string state = "idle";  // idle | running | done | failed
  uint64_t checked = 0, total = 0;
  int64_t started_us = 0, finished_us = 0;
  verify_report report;
  std::string error;  // why a run failed (could not read the log), when state is failed
  std::atomic<bool> cancel{false};
  std::thread worker;

  void stop() {
    cancel = true;
    if (worker.joinable()) worker.join();
  }
  ~integrity_job() { stop(); }
};

}  // namespace crmd::http
