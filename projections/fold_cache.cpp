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
// A spill keeps, beside the counters, entries read since the last one whose
// value is at most this long (message references ~20 bytes, a contact ~300).
constexpr size_t small_value_bytes = 256;
// The spilled keys' filters: 5 probes and about 10 bits a key (under 1%
// of the lookups of keys never written go to the store). A filter takes
// that many keys, then a twice larger one is added: a build spills ~40M
// keys over 10M events, whatever its budget.
constexpr int filter_probes = 5;
constexpr uint64_t filter_bits_per_key = 10;

size_t cost(const std::string& k, const std::optional<std::string>& v) {
  return node_overhead + k.size() + (v ? v->size() : 0);
}

}  // namespace

void fold_cache::set(std::string key, std::optional<std::string> value, bool counter) {
  auto it = entries_.find(key);
  if (!value && !spilled_) {
    // Nothing in the store to hide: forget the key instead of keeping a tombstone.
    if (it != entries_.end()) {
      bytes_ -= cost(it->first, it->second.value);
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
    it = entries_.emplace(std::move(key), entry{std::move(value), true, counter}).first;
    if (ordered_) {
      order_.insert(it->first);  // node keys stay put across rehashing
      bytes_ += order_overhead;
    }
    return;
  }
  bytes_ -= cost(it->first, it->second.value);
  it->second.value = std::move(value);
  it->second.dirty = true;
  it->second.counter |= counter;
  bytes_ += cost(it->first, it->second.value);
}

namespace {
// Two independent-enough hashes from one: probe i is h1 + i * h2.
std::pair<uint64_t, uint64_t> filter_hashes(std::string_view key) {
  uint64_t h1 = std::hash<std::string_view>{}(key);
  uint64_t h2 = (h1 * 0x9E3779B97F4A7C15ull) >> 17 | 1;
  return {h1, h2};
}
}  // namespace

size_t fold_cache::filter::capacity() const { return words.size() * 64 / filter_bits_per_key; }

void fold_cache::remember_spilled(std::string_view key) {
  if (filters_.empty() || filters_.back().keys >= filters_.back().capacity()) {
    // The first a sixteenth of the budget (at least 8 KiB), each next twice the last.
    size_t words = filters_.empty() ? std::max<size_t>(budget_ / 16 / sizeof(uint64_t), 1024)
                                    : filters_.back().words.size() * 2;
    filters_.push_back({std::vector<uint64_t>(words, 0), 0});
  }
  auto& f = filters_.back();
  uint64_t bits = f.words.size() * 64;
  auto [h1, h2] = filter_hashes(key);
  for (int i = 0; i < filter_probes; ++i) {
    uint64_t b = (h1 + uint64_t(i) * h2) % bits;
    f.words[b / 64] |= uint64_t{1} << (b % 64);
  }
  ++f.keys;
}

bool fold_cache::may_be_stored(std::string_view key) const {
  if (!spilled_) return false;
  auto [h1, h2] = filter_hashes(key);
  for (const auto& f : filters_) {
    uint64_t bits = f.words.size() * 64;
    bool all = true;
    for (int i = 0; i < filter_probes && all; ++i) {
      uint64_t b = (h1 + uint64_t(i) * h2) % bits;
      all = f.words[b / 64] >> (b % 64) & 1;
    }
    if (all) return true;
  }
  return false;
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

const std::pair<const std::string, fold_cache::entry>* fold_cache::last(
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
    if (e.second.value && !skip(e.first)) return &e;
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
  for (auto& [k, e] : entries_) {
    if (!e.dirty) continue;  // kept from an earlier spill, unchanged: stored already
    const auto& v = e.value;
    run.push_back(item(k, v ? v->data() : nullptr, v ? v->size() : 0));
    remember_spilled(k);  // before the write succeeds: a key too many only costs a read
  }
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
  // The small entries move (their nodes, not copies) into the next table
  // as clean copies of what is stored now.
  std::unordered_map<std::string, entry> kept;
  kept.reserve(expected_entries());
  size_t kept_bytes = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const auto& v = it->second.value;
    size_t c = cost(it->first, v);
    bool wanted = it->second.counter || (it->second.read && (!v || v->size() <= small_value_bytes));
    if (!wanted || kept_bytes + c > budget_ / 2) {
      ++it;
      continue;
    }
    auto node = entries_.extract(it++);
    node.mapped().dirty = false;
    node.mapped().read = false;  // to stay past the next spill, it must be read again
    kept.insert(std::move(node));
    kept_bytes += c;
  }
  // Freeing millions of nodes takes a while: another thread does it while
  // the fold goes on (joined before the next spill, or with the cache).
  freeing_ = std::thread([old = std::move(entries_)]() mutable { old = {}; });
  entries_ = std::move(kept);
  chunks_.clear();
  chunk_used_ = chunk_size_ = 0;
  new_ = {};
  bytes_ = kept_bytes;
  return status::ok();
}

const std::optional<std::string>* cache_txn::mine(const std::string& k) const {
  for (auto it = mine_.rbegin(); it != mine_.rend(); ++it)
    if (it->key == k) return &it->value;
  return nullptr;
}

std::optional<std::string> cache_txn::get(std::string_view key) {
  const std::string& k = full(key);
  if (auto* v = mine(k)) return *v;
  if (auto* v = cache_.find(k)) return *v;
  if (!cache_.may_be_stored(k)) return std::nullopt;  // the build wrote nothing there
  std::string v;
  if (kv_.get(cf::projections, k, &v).is_ok()) return v;
  return std::nullopt;
}

void cache_txn::write(std::string_view key, std::optional<std::string> value, bool counter) {
  const std::string& k = full(key);
  for (auto& m : mine_)
    if (m.key == k) {
      m.value = std::move(value);
      m.counter |= counter;
      return;
    }
  mine_.push_back({k, std::move(value), counter});
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
    consider(e->first, *e->second.value);
  for (auto& m : mine_)
    if (m.value && m.key >= lo && m.key < hi) consider(m.key, *m.value);
  if (best) best->first = best->first.substr(prefix_.size());
  return best;
}

void cache_txn::commit() {
  for (auto& m : mine_) cache_.set(std::move(m.key), std::move(m.value), m.counter);
  mine_.clear();
  for (auto& f : fresh_)
    cache_.add_new({fresh_bytes_.data() + f.at, f.key_len}, {fresh_bytes_.data() + f.at + f.key_len, f.value_len});
  fresh_.clear();
  fresh_bytes_.clear();
}

}  // namespace crmd
