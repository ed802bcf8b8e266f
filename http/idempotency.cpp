#include "http/idempotency.hpp"

#include "storage/crypto.hpp"

namespace crmd::http {

bool valid_idempotency_key(const std::string& key) {
  if (key.empty() || key.size() > 255) return false;
  for (char c : key)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

result<idempotency_store::claim> idempotency_store::begin(const std::string& tenant, const std::string& user,
                                                          const std::string& key, const std::string& body) {
  claim c;
  c.id = crypto::sha256(tenant + '\0' + user + '\0' + key);
  bool housekeeping = false;
  {
    std::lock_guard lock(mu_);
    housekeeping = ++claims_ % 4096 == 0;
    // Claims never finished (lost to a crash of their handler) go too.
    if (housekeeping)
      for (auto it = running_.begin(); it != running_.end();)
        it = time_.now_us() - it->second > 60'000'000 ? running_.erase(it) : std::next(it);
  }
  if (housekeeping) purge();
  std::lock_guard lock(mu_);
  int64_t now = time_.now_us();
  if (auto r = running_.find(c.id); r != running_.end() && now - r->second < 60'000'000) {
    c.what = outcome::in_progress;
    return c;
  }
  std::string v;
  auto s = kv_.get(cf::requests, c.id, &v);
  if (s.is_ok() && v.size() >= 8 + 32 + 2 && now - static_cast<int64_t>(read_be64(v)) < ttl_us_) {
    if (v.compare(8, 32, crypto::sha256(body)) != 0) {
      c.what = outcome::mismatch;
      return c;
    }
    c.what = outcome::replay;
    c.answer.status = (static_cast<unsigned char>(v[40]) << 8) | static_cast<unsigned char>(v[41]);
    c.answer.body = v.substr(42);
    return c;
  }
  if (!s.is_ok() && s.code() != errc::not_found) return s;
  running_[c.id] = now;
  return c;
}

void idempotency_store::finish(const claim& c, const std::string& request_body, const kept_answer& a) {
  if (a.status < 500) {
    std::string v = be64(static_cast<uint64_t>(time_.now_us())) + crypto::sha256(request_body);
    v.push_back(static_cast<char>((a.status >> 8) & 0xff));
    v.push_back(static_cast<char>(a.status & 0xff));
    v += a.body;
    auto b = kv_.new_batch();
    b->put(cf::requests, c.id, v);
    // Not fsynced on its own: the events it answers for were, and the WAL
    // write reaches the OS before the answer leaves, so a crashed process
    // keeps it (a power cut may lose it; see docs/decisions.md).
    kv_.write(*b, false);
  }
  std::lock_guard lock(mu_);
  running_.erase(c.id);
}

status idempotency_store::purge() {
  auto b = kv_.new_batch();
  int64_t now = time_.now_us();
  auto it = kv_.scan_bulk(cf::requests, "", "");  // every key
  for (; it->valid(); it->next()) {
    auto v = it->value();
    if (v.size() < 8 || now - static_cast<int64_t>(read_be64(v)) >= ttl_us_) b->del(cf::requests, it->key());
  }
  if (auto e = it->error(); !e) return e;
  if (b->size_bytes() > 0) return kv_.write(*b, false);
  return status::ok();
}

}  // namespace crmd::http
