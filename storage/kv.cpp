#include "storage/kv.hpp"

#include <cassert>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <vector>

namespace crmd {

const char* cf_name(cf family) {
  switch (family) {
    case cf::events: return "events";
    case cf::streams: return "streams";
    case cf::dedup: return "dedup";
    case cf::keys: return "keys";
    case cf::meta: return "meta";
    case cf::projections: return "projections";
    case cf::snapshots: return "snapshots";
    case cf::schedule: return "schedule";
    case cf::sessions: return "sessions";
    case cf::requests: return "requests";
  }
  return "?";
}

std::string be64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}

uint64_t read_be64(std::string_view s) {
  assert(s.size() >= 8);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

namespace {

using table = std::map<std::string, std::string, std::less<>>;

struct memory_batch : kv_batch {
  struct op {
    cf family;
    bool erase;
    std::string key, value;
  };
  std::vector<op> ops;
  size_t bytes = 0;
  void put(cf f, std::string_view k, std::string_view v) override {
    ops.push_back({f, false, std::string(k), std::string(v)});
    bytes += k.size() + v.size();
  }
  void del(cf f, std::string_view k) override {
    ops.push_back({f, true, std::string(k), {}});
    bytes += k.size();
  }
  size_t size_bytes() const override { return bytes; }
};

class memory_kv;

// Re-seeks under the lock at every step, so writers may run concurrently.
class memory_iterator : public kv_iterator {
 public:
  memory_iterator(memory_kv* kv, cf f, std::string lower, std::string upper)
      : kv_(kv), f_(f), upper_(std::move(upper)) {
    seek(lower, false);
  }
  bool valid() const override { return valid_; }
  void next() override { seek(key_, true); }
  std::string_view key() const override { return key_; }
  std::string_view value() const override { return value_; }
  status error() const override { return status::ok(); }

 private:
  void seek(const std::string& from, bool after);
  memory_kv* kv_;
  cf f_;
  std::string upper_, key_, value_;
  bool valid_ = false;
};

class memory_kv : public kv_store {
 public:
  status get(cf f, std::string_view key, std::string* value) override {
    std::shared_lock lock(mu_);
    auto& t = tables_[int(f)];
    auto it = t.find(key);
    if (it == t.end()) return {errc::not_found, "key not found"};
    *value = it->second;
    return status::ok();
  }
  std::unique_ptr<kv_batch> new_batch() override { return std::make_unique<memory_batch>(); }
  status write(kv_batch& b, bool) override {
    auto& mb = static_cast<memory_batch&>(b);
    std::unique_lock lock(mu_);
    for (auto& o : mb.ops) {
      auto& t = tables_[int(o.family)];
      if (o.erase)
        t.erase(o.key);
      else
        t.insert_or_assign(o.key, o.value);
    }
    return status::ok();
  }
  std::unique_ptr<kv_iterator> scan(cf f, std::string lower, std::string upper) override {
    return std::make_unique<memory_iterator>(this, f, std::move(lower), std::move(upper));
  }
  status last(cf f, std::string_view lower, std::string_view upper, std::string* key,
              std::string* value) override {
    std::shared_lock lock(mu_);
    auto& t = tables_[int(f)];
    auto it = upper.empty() ? t.end() : t.lower_bound(upper);
    if (it == t.begin()) return {errc::not_found, "empty range"};
    --it;
    if (it->first < lower) return {errc::not_found, "empty range"};
    *key = it->first;
    *value = it->second;
    return status::ok();
  }
  bool read_only() const override { return false; }

 private:
  friend class memory_iterator;
  std::shared_mutex mu_;
  table tables_[cf_count];
};

void memory_iterator::seek(const std::string& from, bool after) {
  std::shared_lock lock(kv_->mu_);
  auto& t = kv_->tables_[int(f_)];
  auto it = after ? t.upper_bound(from) : t.lower_bound(from);
  valid_ = it != t.end() && (upper_.empty() || it->first < upper_);
  if (valid_) {
    key_ = it->first;
    value_ = it->second;
  }
}

}  // namespace

std::unique_ptr<kv_store> make_memory_kv() { return std::make_unique<memory_kv>(); }

status kv_store::load_sorted(cf family, size_t count, const std::function<sorted_entry(size_t)>& entry) {
  constexpr size_t batch_bytes = 8u << 20;  // amortises a write, bounds the batch's copy
  auto b = new_batch();
  size_t in_batch = 0;
  for (size_t i = 0; i < count; ++i) {
    sorted_entry e = entry(i);
    if (e.value) b->put(family, e.key, *e.value);
    else b->del(family, e.key);
    in_batch += e.key.size() + (e.value ? e.value->size() : 0);
    if (in_batch >= batch_bytes) {
      if (auto s = write_unlogged(*b); !s) return s;
      b = new_batch();
      in_batch = 0;
    }
  }
  return in_batch ? write_unlogged(*b) : status::ok();
}

}  // namespace crmd
