// Idempotency-Key on POST /api/*: a retry with the same key and body gets the
// first answer again (status and body) and causes nothing new; the same key
// with another body is 422; while the first is still running, 409.
//
// Keys are scoped to tenant, user, method and path, kept 24 h, and stored (CF `requests`)
// before the answer leaves, so they survive a restart. Only answers below
// 500 are kept: a 5xx may be retried for real. /api/auth/* is excluded (its
// answers carry credentials).
//
// Layout: sha256(tenant '\0' user '\0' key) -> be64(stored_us) sha256(body) be16(status) body
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "events/clock.hpp"
#include "events/status.hpp"
#include "storage/kv.hpp"

namespace crmd::http {

struct kept_answer {
  int status = 0;
  std::string body;
};

class idempotency_store {
 public:
  explicit idempotency_store(kv_store& kv, int64_t ttl_us = 24LL * 3600 * 1'000'000,
                             const clock& time = system_clock())
      : kv_(kv), ttl_us_(ttl_us), time_(time) {}

  enum class outcome { fresh, replay, mismatch, in_progress };
  struct claim {
    outcome what = outcome::fresh;
    kept_answer answer;  // for replay
    std::string id;      // pass back to finish()/abandon()
  };
  // Looks the key up; for a fresh one, marks it running.
  result<claim> begin(const std::string& tenant, const std::string& user, const std::string& key,
                      const std::string& body);
  // Stores the answer (below 500) and ends the run; a 5xx just ends it.
  void finish(const claim& c, const std::string& body_hash_source, const kept_answer& a);
  // Drops records older than the time to live (at start-up).
  status purge();

 private:
  kv_store& kv_;
  int64_t ttl_us_;
  const clock& time_;
  std::mutex mu_;
  // Running claims and when they began; one older than a minute was never
  // finished (its answer was the server's own timeout) and is given up.
  std::unordered_map<std::string, int64_t> running_;
  uint64_t claims_ = 0;  // every 4096th claim also purges expired records
};

// A key is 1..255 printable ASCII characters.
bool valid_idempotency_key(const std::string& key);

}  // namespace crmd::http
