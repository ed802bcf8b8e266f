// Internal to projections/: folding a view that is being built from
// position 1 in memory.
//
// A rebuild (offline, or the shadow of an online one) starts from an empty
// keyspace, so everything it reads back it wrote itself. Reading that back
// from RocksDB was most of a rebuild's time (point reads of entries written
// moments before, and compacting them again: bench/RESULTS.md). The cache
// holds every key the build wrote, and writes them once, sorted, when it
// passes its memory budget (a spill) or when the build ends. Until the
// first spill a key the cache does not hold is in no store, so a miss is
// an answer; after one, misses fall through to the store, unless the
// filters of the keys spilled so far say the store cannot hold the key
// (most lookups of a long build are of keys never written: a status that
// did not overtake its message). A spill keeps the counters and the small
// entries read since the one before as clean copies, up to half the
// budget: they are what a build reads back most (a contact's counters
// change a few times in each stretch between spills, all through the log),
// and a read from the store costs a hundred times a lookup here.
//
// Nothing here is durable until written: a build cut short is discarded
// and done again (rebuild_view's marker, online_rebuilds' leftovers).
#pragma once

#include <functional>
#include <memory>
#include <algorithm>
#include <set>
#include <thread>
#include <unordered_map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "projections/projection.hpp"
#include "storage/kv.hpp"

namespace crmd {

class fold_cache {
 public:
  explicit fold_cache(size_t budget_bytes) : budget_(budget_bytes) { entries_.reserve(expected_entries()); }
  ~fold_cache();
  fold_cache(const fold_cache&) = delete;
  fold_cache& operator=(const fold_cache&) = delete;

  // nullptr: the cache does not know the key (ask the store if
  // may_be_stored()); a pointer to nullopt: deleted.
  const std::optional<std::string>* find(const std::string& key) const {
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    it->second.read = true;
    return &it->second.value;
  }
  // Whether a key the cache does not hold may be in the store: false
  // before the first spill, and for keys no spill wrote (the filters have
  // false positives, never false negatives).
  bool may_be_stored(std::string_view key) const;
  // `counter`: a view_txn::put_counter(), kept across spills.
  void set(std::string key, std::optional<std::string> value, bool counter = false);
  // A view_txn::put_new(): appended, never looked up.
  void add_new(std::string_view key, std::string_view value);
  // The last live key in [lo, hi) the cache holds, passing deleted ones
  // and those `skip` names. The first call builds an ordered index of the
  // keys, kept from then on (only erasures need it: work_view's forget).
  struct entry {
    std::optional<std::string> value;
    bool dirty = true;          // not yet in the store as it is here
    bool counter = false;       // a spill keeps it
    mutable bool read = false;  // found since the last spill: a spill keeps it if small
  };
  const std::pair<const std::string, entry>* last(const std::string& lo, const std::string& hi,
                                                  const std::function<bool(const std::string&)>& skip);

  bool spilled() const { return spilled_; }
  bool over_budget() const { return bytes_ > budget_; }
  size_t bytes() const { return bytes_; }

  // Writes every entry not yet stored, sorted, as a bulk load
  // (kv_store::load_sorted), then `extra` (checkpoints) in one unlogged
  // batch, and empties the cache but for the small entries it keeps.
  status spill(kv_store& kv, const std::vector<std::pair<std::string, std::string>>& extra = {});

 private:
  // Hashed: point reads and writes are nearly all a fold does, and a tree
  // of keys sharing long prefixes cost more than the views' own work.
  std::unordered_map<std::string, entry> entries_;
  std::set<std::string_view> order_;  // keys of entries_, once last() was asked
  bool ordered_ = false;
  // Buckets for what the budget holds, so the table is not rehashed (every
  // node touched again) as it grows; entries average a few hundred bytes.
  size_t expected_entries() const { return std::min<size_t>(budget_ / 256, size_t{1} << 24); }
  std::thread freeing_;  // frees the entries of the last spill
  // put_new() keys and values, back to back in chunks that never move
  // (growing one buffer copied it again and again), and where each is.
  struct appended {
    const char* at;
    uint32_t key_len, value_len;
  };
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t chunk_used_ = 0, chunk_size_ = 0;
  std::vector<appended> new_;
  size_t bytes_ = 0;
  size_t budget_;
  bool spilled_ = false;
  // Bloom filters of the keys spilled (not of put_new()'s: never read),
  // outside the budget: a key may be stored if any of them has it. Each
  // is filled to its capacity before the next, twice as large, is made.
  struct filter {
    std::vector<uint64_t> words;
    size_t keys = 0;
    size_t capacity() const;
  };
  std::vector<filter> filters_;
  void remember_spilled(std::string_view key);
};

// A view's keyspace for one event, over the cache: writes are kept until
// commit(), so an event whose apply() fails leaves nothing behind.
class cache_txn : public view_txn {
 public:
  cache_txn(kv_store& kv, const std::string& prefix, fold_cache& cache) : kv_(kv), prefix_(prefix), cache_(cache) {}

  std::optional<std::string> get(std::string_view key) override;
  void put(std::string_view key, std::string_view value) override { write(key, std::string(value)); }
  void put_counter(std::string_view key, std::string_view value) override {
    write(key, std::string(value), true);
  }
  void put_new(std::string_view key, std::string_view value) override {
    fresh_.push_back({fresh_bytes_.size(), prefix_.size() + key.size(), value.size()});
    fresh_bytes_.append(prefix_).append(key).append(value);
  }
  void del(std::string_view key) override { write(key, std::nullopt); }
  std::optional<std::pair<std::string, std::string>> last(std::string_view lower, std::string_view upper) override;

  void commit();

 private:
  void write(std::string_view key, std::optional<std::string> value, bool counter = false);
  const std::string& full(std::string_view key) {
    buf_.assign(prefix_);
    buf_.append(key);
    return buf_;
  }
  const std::optional<std::string>* mine(const std::string& k) const;

  kv_store& kv_;
  const std::string& prefix_;
  fold_cache& cache_;
  std::string buf_;
  // An event writes a handful of keys: a vector searched from the end.
  struct written {
    std::string key;
    std::optional<std::string> value;
    bool counter;
  };
  std::vector<written> mine_;
  // put_new()s, kept until commit() back to back in one buffer (not two
  // strings a key).
  struct fresh {
    size_t at, key_len, value_len;
  };
  std::string fresh_bytes_;
  std::vector<fresh> fresh_;
};

}  // namespace crmd
