// Access tokens: HS256 JSON Web Tokens (RFC 7519) signed with JWT_SECRET.
//
// verify() accepts exactly what sign() makes: header alg "HS256" (any other
// alg, "none" included, is refused before the signature is looked at), a
// signature that matches under the secret (constant-time compare), and a
// payload with every claim present, well typed, and not expired.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <string>
#include <string_view>

#include "events/status.hpp"

namespace crmd::identity {

struct token_claims {
  std::string user_id;       // "sub"
  std::string tenant;        // "tid"; empty for a system admin
  std::string role;          // "role": system_admin | owner | manager | agent
  std::string session;       // "sid": the refresh-token family (or impersonation) it belongs to
  std::string impersonator;  // "imp": the system admin acting as user_id, or empty
  std::string csrf;          // "csrf": what a cookie-borne request must send as X-CSRF-Token
  uint32_t generation = 0;   // "gen": the user's role generation when issued (optional, default 0)
  int64_t issued_at = 0;     // "iat", seconds since the epoch
  int64_t expires_at = 0;    // "exp", seconds since the epoch
};

// Tokens longer than this are refused unread.
constexpr size_t max_token_bytes = 4096;

std::string sign(const token_claims& c, std::string_view secret);
// Signs any payload text under crmd's header: for tests of verify()'s checks.
std::string sign_payload(std::string_view payload_json, std::string_view secret);
// errc::unauthenticated with reason invalid_token or token_expired.
result<token_claims> verify(std::string_view token, std::string_view secret, int64_t now_s);

}  // namespace crmd::identity

namespace crmd::identity {

// Tokens already verified, so the hot path skips decoding and HMAC for a
// token it has seen: the same bytes under the same secret verify the same
// way. Expiry is still checked on every hit; revocation and the user's
// current role are checked by the caller on every request regardless.
class verified_tokens {
 public:
  explicit verified_tokens(size_t capacity = 10'000) : capacity_(capacity) {}
  // The claims of `token` if it was verified before and has not expired.
  std::optional<token_claims> find(const std::string& token, int64_t now_s) const;
  void put(const std::string& token, const token_claims& c);

 private:
  size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, token_claims> map_;
};

}  // namespace crmd::identity
