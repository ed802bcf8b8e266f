#include "projections/fold_cache.hpp"

#include <algorithm>

namespace crmd {
namespace {

// What a map node costs beside its key and value (node, two string headers).
constexpr size_t node_overhead = 96;

size_t cost(const std::string& k, const std::optional<std::string>& v) {
  return node_overhead + k.size() + (v ? v->size() : 0);
}

}  // namespace

void fold_cache::set(std::string key, std::optional<std::string> value) {
  auto it = entries_.find(key);
  if (!value && !spilled_) {
    // Nothing in the store to hide: forget the key instead of keeping a tombstone.
    if (it != entries_.end()) {
      bytes_ -= cost(it->first, it->second);
      if (ordered_) order_.erase(it->first);
      entries_.erase(it);
    }
    return;
  }
  if (it == entries_.end()) {
    bytes_ += cost(key, value);
    it = entries_.emplace(std::move(key), std::move(value)).first;
    if (ordered_) order_.insert(it->first);  // node keys stay put across rehashing
    return;
  }
  bytes_ -= cost(it->first, it->second);
  it->second = std::move(value);
  bytes_ += cost(it->first, it->second);
}

const std::pair<const std::string, std::optional<std::string>>* fold_cache::last(
    const std::string& lo, const std::string& hi, const std::function<bool(const std::string&)>& skip) {
  if (!ordered_) {
    for (auto& e : entries_) order_.insert(e.first);
    ordered_ = true;
  }
  auto it = order_.lower_bound(hi);
  while (it != order_.begin()) {
    --it;
    if (*it < lo) break;
    auto& e = *entries_.find(std::string(*it));
    if (e.second && !skip(e.first)) return &e;
  }
  return nullptr;
}

status fold_cache::spill(kv_store& kv, const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<sorted_entry> run;
  run.reserve(entries_.size());
  for (auto& [k, v] : entries_)
    run.push_back({k, v ? std::optional<std::string_view>(*v) : std::nullopt});
  std::sort(run.begin(), run.end(), [](const sorted_entry& a, const sorted_entry& b) { return a.key < b.key; });
  if (auto s = kv.load_sorted(cf::projections, run); !s) return s;
  run = {};
  auto b = kv.new_batch();
  for (auto& [k, v] : extra) b->put(cf::projections, k, v);
  if (auto s = kv.write_unlogged(*b); !s) return s;
  entries_.clear();
  order_.clear();
  bytes_ = 0;
  spilled_ = true;
  return status::ok();
}

const std::optional<std::string>* cache_txn::mine(const std::string& k) const {
  for (auto it = mine_.rbegin(); it != mine_.rend(); ++it)
    if (it->first == k) return &it->second;
  return nullptr;
}

std::optional<std::string> cache_txn::get(std::string_view key) {
  const std::string& k = full(key);
  if (auto* v = mine(k)) return *v;
  if (auto* v = cache_.find(k)) return *v;
  if (!cache_.spilled()) return std::nullopt;  // the build wrote nothing there
  std::string v;
  if (kv_.get(cf::projections, k, &v).is_ok()) return v;
  return std::nullopt;
}

void cache_txn::write(std::string_view key, std::optional<std::string> value) {
  const std::string& k = full(key);
  for (auto& [mk, mv] : mine_)
    if (mk == k) {
      mv = std::move(value);
      return;
    }
  mine_.emplace_back(k, std::move(value));
}

std::optional<std::pair<std::string, std::string>> cache_txn::last(std::string_view lower, std::string_view upper) {
  std::string lo = prefix_ + std::string(lower), hi = prefix_ + std::string(upper);
  std::optional<std::pair<std::string, std::string>> best;
  auto consider = [&](const std::string& k, const std::string& v) {
    if (!best || k > best->first) best = std::make_pair(k, v);
  };
  // This event's writes win over the cache's, and both over the store's.
  if (cache_.spilled()) {
    std::string bound = hi;
    for (;;) {
      std::string k, v;
      if (!kv_.last(cf::projections, lo, bound, &k, &v).is_ok()) break;
      if (mine(k) || cache_.find(k)) {
        bound = k;
        continue;
      }
      consider(k, v);
      break;
    }
  }
  if (auto* e = cache_.last(lo, hi, [&](const std::string& k) { return mine(k) != nullptr; }))
    consider(e->first, *e->second);
  for (auto& [k, v] : mine_)
    if (v && k >= lo && k < hi) consider(k, *v);
  if (best) best->first = best->first.substr(prefix_.size());
  return best;
}

void cache_txn::commit() {
  for (auto& [k, v] : mine_) cache_.set(std::move(k), std::move(v));
  mine_.clear();
}

}  // namespace crmd
