#include "identity/session_store.hpp"

#include <vector>

#include "identity/base64url.hpp"
#include "storage/crypto.hpp"

namespace crmd::identity {
namespace {

std::string token_key(std::string_view token) { return "r/" + crypto::sha256(token); }

struct record {
  int64_t expires_us = 0;
  bool used = false;
  std::string family, user, tenant;
};

std::string encode(const record& r) {
  return be64(static_cast<uint64_t>(r.expires_us)) + std::string(1, r.used ? '\1' : '\0') + r.family + '\0' +
         r.user + '\0' + r.tenant;
}

bool decode(std::string_view v, record& r) {
  if (v.size() < 9) return false;
  r.expires_us = static_cast<int64_t>(read_be64(v));
  r.used = v[8] != 0;
  v.remove_prefix(9);
  auto a = v.find('\0');
  if (a == std::string_view::npos) return false;
  auto b = v.find('\0', a + 1);
  if (b == std::string_view::npos) return false;
  r.family = std::string(v.substr(0, a));
  r.user = std::string(v.substr(a + 1, b - a - 1));
  r.tenant = std::string(v.substr(b + 1));
  return true;
}

status invalid() {
  return {errc::unauthenticated, "the refresh token is not valid; log in again", "refresh_invalid"};
}

}  // namespace

status session_store::load() {
  int64_t now = time_.now_us();
  std::unordered_set<std::string> revoked;
  auto batch = kv_.new_batch();
  auto it = kv_.scan(cf::sessions, "f/", "f0");
  for (; it->valid(); it->next()) {
    auto v = it->value();
    // A family revoked longer ago than a token lives has no live tokens left.
    if (v.size() == 8 && now - static_cast<int64_t>(read_be64(v)) > 2 * ttl_us_)
      batch->del(cf::sessions, it->key());
    else
      revoked.insert(std::string(it->key().substr(2)));
  }
  if (auto e = it->error(); !e) return e;
  auto rt = kv_.scan(cf::sessions, "r/", "r0");
  for (; rt->valid(); rt->next()) {
    record r;
    if (!decode(rt->value(), r) || r.expires_us < now) batch->del(cf::sessions, rt->key());
  }
  if (auto e = rt->error(); !e) return e;
  if (batch->size_bytes() > 0)
    if (auto s = kv_.write(*batch, true); !s) return s;
  std::unique_lock lock(revoked_mu_);
  revoked_ = std::move(revoked);
  return status::ok();
}

result<refresh_grant> session_store::issue(const std::string& family, const std::string& user,
                                           const std::string& tenant, kv_batch& batch) {
  refresh_grant g{base64url_encode(crypto::random_bytes(32)), family, user, tenant};
  record r{time_.now_us() + ttl_us_, false, family, user, tenant};
  batch.put(cf::sessions, token_key(g.token), encode(r));
  if (auto s = kv_.write(batch, true); !s) return s;
  return g;
}

result<refresh_grant> session_store::start(const std::string& user_id, const std::string& tenant) {
  auto batch = kv_.new_batch();
  return issue(crypto::to_hex(crypto::random_bytes(16)), user_id, tenant, *batch);
}

result<refresh_grant> session_store::rotate(std::string_view token) {
  if (token.empty() || token.size() > 256) return invalid();
  std::lock_guard lock(write_mu_);
  std::string key = token_key(token), value;
  auto s = kv_.get(cf::sessions, key, &value);
  if (s.code() == errc::not_found) return invalid();
  if (!s) return s;
  record r;
  if (!decode(value, r)) return invalid();
  if (revoked(r.family) || r.expires_us <= time_.now_us()) return invalid();
  if (r.used) {
    if (auto st = revoke(r.family); !st) return st;
    return status{errc::unauthenticated, "this refresh token was already used; every session of its login is revoked",
                  "refresh_reused"};
  }
  r.used = true;
  auto batch = kv_.new_batch();
  batch->put(cf::sessions, key, encode(r));
  return issue(r.family, r.user, r.tenant, *batch);
}

status session_store::revoke(const std::string& family) {
  if (family.empty()) return status::ok();
  auto batch = kv_.new_batch();
  batch->put(cf::sessions, "f/" + family, be64(static_cast<uint64_t>(time_.now_us())));
  if (auto s = kv_.write(*batch, true); !s) return s;
  std::unique_lock lock(revoked_mu_);
  revoked_.insert(family);
  return status::ok();
}

bool session_store::revoked(const std::string& family) const {
  std::shared_lock lock(revoked_mu_);
  return revoked_.count(family) > 0;
}

std::optional<refresh_grant> session_store::describe(std::string_view token) {
  if (token.empty() || token.size() > 256) return std::nullopt;
  std::string value;
  record r;
  if (!kv_.get(cf::sessions, token_key(token), &value).is_ok() || !decode(value, r)) return std::nullopt;
  return refresh_grant{"", r.family, r.user, r.tenant};
}

}  // namespace crmd::identity
