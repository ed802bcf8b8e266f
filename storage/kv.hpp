// An ordered key-value store with column families and atomic batches: the
// narrow waist under the event log (and, later, the projection runner).
// RocksDB implements it for real; an in-memory map implements it for tests.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <string_view>

#include "events/status.hpp"

namespace crmd {

// Column families. Stored names are in kv.cpp; never renumber or rename.
enum class cf : uint8_t {
  events,       // be64(position) -> record
  streams,      // stream '\0' be64(seq) -> be64(position)
  dedup,        // sha256(idempotency key) -> be64(first) be64(last) be64(stream version)
  keys,         // subject id -> 32-byte AES key (deleted on erasure)
  meta,         // "format", "chain/<tenant>", "erased/<subject>", ...
  projections,  // projection keyspaces and checkpoints
  snapshots,    // aggregate snapshots: stream -> be64(version) state
  schedule,     // durable timers: be64(due_us) kind '\0' key '\0' timer id -> payload
  sessions,     // refresh tokens and revoked token families (identity/session_store.hpp)
  requests,     // answers kept for Idempotency-Key retries (http/idempotency.hpp)
};
constexpr int cf_count = 10;
const char* cf_name(cf family);

class kv_batch {
 public:
  virtual ~kv_batch() = default;
  virtual void put(cf family, std::string_view key, std::string_view value) = 0;
  virtual void del(cf family, std::string_view key) = 0;
  virtual size_t size_bytes() const = 0;
};

class kv_iterator {
 public:
  virtual ~kv_iterator() = default;
  virtual bool valid() const = 0;
  virtual void next() = 0;
  // Valid until the next call to next().
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // Non-ok if iteration stopped because of an error rather than the end.
  virtual status error() const = 0;
};

// One entry of a sorted bulk load: a put, or a delete when value is nullopt.
struct sorted_entry {
  std::string_view key;
  std::optional<std::string_view> value;
};

class kv_store {
 public:
  virtual ~kv_store() = default;
  // errc::not_found when absent.
  virtual status get(cf family, std::string_view key, std::string* value) = 0;
  // Point reads of many keys, ascending, at once: the store may share the
  // index and block lookups between neighbours. values[i] and the i-th
  // status answer keys[i] (errc::not_found for a missing one).
  virtual std::vector<status> multi_get(cf family, const std::vector<std::string>& keys,
                                        std::vector<std::string>* values) {
    std::vector<status> out;
    values->assign(keys.size(), std::string());
    for (size_t i = 0; i < keys.size(); ++i) out.push_back(get(family, keys[i], &(*values)[i]));
    return out;
  }
  virtual std::unique_ptr<kv_batch> new_batch() = 0;
  // Atomic. With `sync`, returns only once the batch is on stable storage.
  virtual status write(kv_batch& batch, bool sync) = 0;
  // Atomic, without the write-ahead log: for data that can be rebuilt from
  // the log (views, snapshots). A crash loses such writes back to the last
  // flush of their family, whole batches at a time, never half of one; they
  // also stay out of the WAL that every synced append must fsync.
  virtual status write_unlogged(kv_batch& batch) { return write(batch, false); }
  // Persists a family's unlogged writes.
  virtual status flush(cf family) { return status::ok(); }
  // Writes `count` entries, `entry(i)` for i = 0.. in turn (keys strictly
  // ascending), as unlogged writes would, but as whole table files where
  // the store has them (RocksDB: written with SstFileWriter and ingested),
  // past the memtable, the WAL and the compactions that would sort them
  // again: for bulk loads into a keyspace the caller owns (a view rebuilt
  // from scratch). Not atomic: a crash may keep some of the files. This
  // default writes unlogged batches.
  virtual status load_sorted(cf family, size_t count, const std::function<sorted_entry(size_t)>& entry);
  status load_sorted(cf family, const std::vector<sorted_entry>& entries) {
    return load_sorted(family, entries.size(), [&](size_t i) { return entries[i]; });
  }
  // Keys in [lower, upper) ascending; an empty `upper` means no bound.
  // Reads only what it is asked for: meant for short ranges (a page of a
  // view, one stream), where reading ahead would cost more than the answer.
  virtual std::unique_ptr<kv_iterator> scan(cf family, std::string lower, std::string upper) = 0;
  // Like scan, for a long sequential read (the whole log, an export, a
  // rebuild): reads ahead in large chunks. Never for a page: each would read
  // megabytes it does not look at.
  virtual std::unique_ptr<kv_iterator> scan_bulk(cf family, std::string lower, std::string upper) {
    return scan(family, std::move(lower), std::move(upper));
  }
  // The last entry with a key in [lower, upper); errc::not_found if none.
  virtual status last(cf family, std::string_view lower, std::string_view upper, std::string* key,
                      std::string* value) = 0;
  virtual bool read_only() const = 0;
  // A consistent copy of the store as of one moment, in `dir` (which must
  // not exist), while writes go on: everything but the views, which the
  // first writer to open the copy builds from its log again (RocksDB: the
  // views live in a database of their own). errc::unsupported where there
  // is no such thing (the in-memory store).
  // Makes deleted data physically gone: every family flushed (so no live
  // write-ahead log still holds an old value) and the keys and snapshots
  // families compacted to the bottom (so no table file does). For erasure.
  virtual status purge() { return status::ok(); }
  virtual status checkpoint(const std::string& dir) {
    (void)dir;
    return status{errc::unsupported, "this store cannot make checkpoints"};
  }
};

std::unique_ptr<kv_store> make_memory_kv();

// Big-endian fixed 64-bit encoding: keys sort in numeric order.
std::string be64(uint64_t v);
uint64_t read_be64(std::string_view s);  // s.size() >= 8 is the caller's invariant

}  // namespace crmd
