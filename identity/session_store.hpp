// Refresh tokens, kept outside the event log (CF `sessions`): they are
// secrets that rotate on every use, not history. Only their SHA-256 is stored.
//
// A login starts a token family; each refresh spends the presented token and
// issues the next one of the same family. Presenting a spent token again
// means it was copied: the whole family is revoked, and access tokens that
// carry the family id ("sid") stop working at once (family_revoked() is
// checked on every request). Every write is synced before it returns.
//
// Layout: "r/" sha256(token) -> be64(expires_us) used(1) family '\0' user '\0' tenant
//         "f/" family        -> be64(revoked_at_us)
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_set>

#include "events/clock.hpp"
#include "events/status.hpp"
#include "storage/kv.hpp"

namespace crmd::identity {

struct refresh_grant {
  std::string token;  // give to the client; never stored
  std::string family;
  std::string user_id, tenant;
};

class session_store {
 public:
  session_store(kv_store& kv, int64_t ttl_us, const clock& time = system_clock())
      : kv_(kv), ttl_us_(ttl_us), time_(time) {}

  // Loads the revoked families; drops records long expired.
  status load();
  // A new family, for a login.
  result<refresh_grant> start(const std::string& user_id, const std::string& tenant);
  // Spends `token` and returns the next one of its family. errc::unauthenticated
  // with reason refresh_invalid (unknown, expired, revoked family) or
  // refresh_reused (spent before: the family is now revoked).
  result<refresh_grant> rotate(std::string_view token);
  // Logout, reuse, a deleted user's sessions.
  status revoke(const std::string& family);
  bool revoked(const std::string& family) const;
  // Whose token it is (family, user, tenant; `token` left empty), if known:
  // for logout by cookie and for recording a reuse.
  std::optional<refresh_grant> describe(std::string_view token);

 private:
  result<refresh_grant> issue(const std::string& family, const std::string& user, const std::string& tenant,
                              kv_batch& batch);
  kv_store& kv_;
  int64_t ttl_us_;
  const clock& time_;
  std::mutex write_mu_;  // rotate() reads, checks and writes as one step
  mutable std::shared_mutex revoked_mu_;
  std::unordered_set<std::string> revoked_;
};

}  // namespace crmd::identity
