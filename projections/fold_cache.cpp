#include "projections/fold_cache.hpp"

#include <algorithm>
#include <cassert>
#include <thread>

namespace crmd {
namespace {

// What a map node costs beside its key and value (node, two string headers).
constexpr size_t node_overhead = 96;
// What a key costs in the ordered index, once there is one (a tree node
// holding a string_view).
constexpr size_t order_overhead = 48;
// put_new() entries are copied into chunks of this size.
constexpr size_t chunk_bytes = size_t{4} << 20;

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
      if (ordered_) {
        order_.erase(it->first);
        bytes_ -= order_overhead;
      }
      entries_.erase(it);
    }
    return;
  }
  if (it == entries_.end()) {
    bytes_ += cost(key, value);
    it = entries_.emplace(std::move(key), std::move(value)).first;
    if (ordered_) {
      order_.insert(it->first);  // node keys stay put across rehashing
      bytes_ += order_overhead;
    }
    return;
  }
  bytes_ -= cost(it->first, it->second);
  it->second = std::move(value);
  bytes_ += cost(it->first, it->second);
}

void fold_cache::add_new(std::string_view key, std::string_view value) {
  // Lengths are kept in 32 bits: a view key or value of 4 GiB is a bug.
  assert(key.size() < UINT32_MAX && value.size() < UINT32_MAX);
  size_t need = key.size() + value.size();
  if (chunks_.empty() || chunk_used_ + need > chunk_size_) {
    // A sixteenth of the budget at most, so that a small budget (tests,
    // a narrow online rebuild) is not filled by one empty chunk.
    chunk_size_ = std::max(need, std::clamp(budget_ / 16, size_t{64} << 10, chunk_bytes));
    chunks_.emplace_back(new char[chunk_size_]);  // not zeroed: every byte is written before it is read
    chunk_used_ = 0;
  }
  char* at = chunks_.back().get() + chunk_used_;
  std::copy(key.begin(), key.end(), at);
  std::copy(value.begin(), value.end(), at + key.size());
  chunk_used_ += need;
  new_.push_back({at, uint32_t(key.size()), uint32_t(value.size())});
  bytes_ += sizeof(appended) + need;
}

const std::pair<const std::string, std::optional<std::string>>* fold_cache::last(
    const std::string& lo, const std::string& hi, const std::function<bool(const std::string&)>& skip) {
  if (!ordered_) {
    for (auto& e : entries_) order_.insert(e.first);
    ordered_ = true;
    bytes_ += order_.size() * order_overhead;  // so that the budget sees it too
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

namespace {

// An entry to sort, with its key's first 24 bytes beside it (big-endian,
// zero-padded): most comparisons end there, without touching the key's
// own memory, scattered over the heap. Sorting the pointers alone made each
// comparison two cache misses, most of the spill's time at millions of keys.
struct spill_item {
  uint64_t head[3];
  const char* key;
  const char* value;  // nullptr: a delete
  uint32_t key_len, value_len;
  std::string_view k() const { return {key, key_len}; }
};

uint64_t load_be(std::string_view k, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = v << 8 | (at + i < k.size() ? static_cast<unsigned char>(k[at + i]) : 0);
  return v;
}

bool before(const spill_item& a, const spill_item& b) {
  for (int i = 0; i < 3; ++i)
    if (a.head[i] != b.head[i]) return a.head[i] < b.head[i];
  return a.k() < b.k();  // the padding makes "ab" and "ab\0" alike: the whole keys decide
}

}  // namespace

fold_cache::~fold_cache() {
  if (freeing_.joinable()) freeing_.join();
}

status fold_cache::spill(kv_store& kv, const std::vector<std::pair<std::string, std::string>>& extra) {
  if (freeing_.joinable()) freeing_.join();
  std::vector<spill_item> run;
  run.reserve(entries_.size() + new_.size());
  auto item = [](std::string_view k, const char* v, size_t v_len) {
    return spill_item{{load_be(k, 0), load_be(k, 8), load_be(k, 16)}, k.data(), v, uint32_t(k.size()), uint32_t(v_len)};
  };
  for (auto& [k, v] : entries_) run.push_back(item(k, v ? v->data() : nullptr, v ? v->size() : 0));
  for (auto& a : new_) run.push_back(item({a.at, a.key_len}, a.at + a.key_len, a.value_len));
  // Two halves sorted at once, then merged: a rebuild waits for this.
  auto mid = run.begin() + run.size() / 2;
  std::thread half([&] { std::sort(run.begin(), mid, before); });
  std::sort(mid, run.end(), before);
  half.join();
  std::inplace_merge(run.begin(), mid, run.end(), before);
  auto s = kv.load_sorted(cf::projections, run.size(), [&](size_t i) {
    const auto& r = run[i];
    return sorted_entry{r.k(), r.value ? std::optional<std::string_view>({r.value, r.value_len}) : std::nullopt};
  });
  if (!s) return s;
  // The store holds the keys now: from here on a delete must be kept as a
  // tombstone, even if what follows fails and the fold goes on.
  spilled_ = true;
  run = {};
  auto b = kv.new_batch();
  for (auto& [k, v] : extra) b->put(cf::projections, k, v);
  if (auto w = kv.write_unlogged(*b); !w) return w;
  order_.clear();
  ordered_ = false;
  // Freeing millions of nodes takes a while: another thread does it while
  // the fold goes on (joined before the next spill, or with the cache).
  freeing_ = std::thread([old = std::move(entries_)]() mutable { old = {}; });
  entries_ = {};
  entries_.reserve(expected_entries());
  chunks_.clear();
  chunk_used_ = chunk_size_ = 0;
  new_ = {};
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
  for (auto& f : fresh_)
    cache_.add_new({fresh_bytes_.data() + f.at, f.key_len}, {fresh_bytes_.data() + f.at + f.key_len, f.value_len});
  fresh_.clear();
  fresh_bytes_.clear();
}

}  // namespace crmd
