// Internal to projections/: folding log events into views in batches, and
// where each view's keys live. Shared by the runner, its online rebuilds and
// the offline rebuild.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "projections/projection.hpp"
#include "projections/fold_cache.hpp"
#include "storage/kv.hpp"

namespace crmd {

// Generations: a view rebuilt online is built under a new generation's
// prefix ("v/<view>@<g>/") and swapped in by changing the generation, which
// every reader's view_prefix() follows at once. Generation 0 is "v/<view>/".
// The table is per process (one store per crmd process); the runner loads
// it from "g/<view>" keys and changes it only when a swap is durable.
uint64_t view_generation(std::string_view view);
void set_view_generation(std::string_view view, uint64_t generation);
std::string prefix_for(std::string_view view, uint64_t generation);
std::string generation_key(std::string_view view);  // "g/<view>"
// Present while an offline rebuild of the view runs (rebuild_views).
std::string rebuild_marker_key(std::string_view view);  // "b/<view>"
// Deletes the keys of the view's current generation and its checkpoint.
status clear_view(kv_store& kv, std::string_view view);
// Deletes up to `max` keys under `prefix` (unlogged), starting at `from`
// (empty: the prefix's start) and moving it past the last one deleted; how
// many it deleted. Resuming there matters: a scan from the prefix's start
// would walk every tombstone of the slices before (quadratic in a big view).
// Only for keyspaces nothing else writes meanwhile.
result<size_t> delete_some(kv_store& kv, const std::string& prefix, size_t max, std::string& from);
// Reads the view's stored generation ("g/<view>") into the process's table.
status load_generation(kv_store& kv, std::string_view view);

using change_map = std::map<std::string, std::optional<std::string>, std::less<>>;

// A view's keyspace for one event: writes land in `mine`, reads fall through
// to the batch's earlier changes and then the store.
class event_txn : public view_txn {
 public:
  event_txn(kv_store& kv, std::string prefix, const change_map& batch)
      : kv_(kv), prefix_(std::move(prefix)), batch_(batch) {}

  std::optional<std::string> get(std::string_view key) override {
    std::string k = prefix_ + std::string(key);
    if (auto it = mine.find(k); it != mine.end()) return it->second;
    if (auto it = batch_.find(k); it != batch_.end()) return it->second;
    std::string v;
    if (kv_.get(cf::projections, k, &v).is_ok()) return v;
    return std::nullopt;
  }
  void put(std::string_view key, std::string_view value) override {
    mine[prefix_ + std::string(key)] = std::string(value);
  }
  void del(std::string_view key) override { mine[prefix_ + std::string(key)] = std::nullopt; }

  std::optional<std::pair<std::string, std::string>> last(std::string_view lower,
                                                          std::string_view upper) override {
    std::string lo = prefix_ + std::string(lower), hi = prefix_ + std::string(upper);
    std::optional<std::pair<std::string, std::string>> best;
    auto consider = [&](const std::string& k, const std::string& v) {
      if (!best || k > best->first) best = std::make_pair(k, v);
    };
    // From the store: the last key not deleted by this batch.
    std::string bound = hi;
    for (;;) {
      std::string k, v;
      if (!kv_.last(cf::projections, lo, bound, &k, &v).is_ok()) break;
      if (overridden(k)) {
        bound = k;
        continue;
      }
      consider(k, v);
      break;
    }
    for (const change_map* m : std::initializer_list<const change_map*>{&batch_, &mine}) {
      auto it = m->lower_bound(hi);
      while (it != m->begin()) {
        --it;
        if (it->first < lo) break;
        auto live = lookup(it->first);
        if (live) {
          consider(it->first, *live);
          break;
        }
      }
    }
    if (best) best->first = best->first.substr(prefix_.size());
    return best;
  }

  change_map mine;

 private:
  bool overridden(const std::string& k) const { return mine.count(k) || batch_.count(k); }
  std::optional<std::string> lookup(const std::string& k) const {
    if (auto it = mine.find(k); it != mine.end()) return it->second;
    if (auto it = batch_.find(k); it != batch_.end()) return it->second;
    return std::nullopt;
  }
  kv_store& kv_;
  std::string prefix_;
  const change_map& batch_;
};

// Folds log events into `views` starting after their checkpoints, one batch
// per call. Shared by the runner thread, catch_up() and rebuilds.
struct folder {
  folder(event_log& l, kv_store& k, std::vector<projection*> v, size_t batch, bool synced)
      : log(l), kv(k), views(std::move(v)), batch_events(batch), sync(synced) {}

  event_log& log;
  kv_store& kv;
  std::vector<projection*> views;
  std::vector<uint64_t> checkpoints;
  std::vector<std::string> errors;
  size_t batch_events;
  bool sync;
  // A shadow build (one view, built beside the live one): its keys and
  // checkpoint go here instead of the view's own.
  std::string fixed_prefix, fixed_checkpoint;
  // Set for a build from position 1 into an empty keyspace (fold_cache.hpp):
  // step() then folds in memory and writes only when the cache spills;
  // flush_cache() writes the rest with the checkpoints.
  std::unique_ptr<fold_cache> cache;

  std::string prefix_of(size_t i) const { return fixed_prefix.empty() ? view_prefix(views[i]->name()) : fixed_prefix; }
  std::vector<std::string> prefixes() const {
    std::vector<std::string> out;
    for (size_t i = 0; i < views.size(); ++i) out.push_back(prefix_of(i));
    return out;
  }
  std::string checkpoint_of(size_t i) const {
    return fixed_checkpoint.empty() ? checkpoint_key(views[i]->name()) : fixed_checkpoint;
  }

  status load();
  uint64_t low() const;
  // One batch; `progressed` says whether any view moved.
  status step(bool& progressed, std::vector<uint64_t>& out_checkpoints);
  // Writes what the cache holds and the checkpoints (no-op without a cache).
  status flush_cache();
  // For a rebuild (a cache set; the folder is not used elsewhere meanwhile):
  // folds every position up to `until`, the log read and decrypted on a
  // second thread (fold_pipeline.cpp); `progress(low())` now and then.
  // Views stop on errors as in step(); only the cache's spills are written.
  status fold_all(uint64_t until, const std::function<void(uint64_t)>& progress);
  // Applies `e` to views[i] under `prefix`, into the cache when there is
  // one, else into `changes`; on an error the view stops (errors[i]) and
  // nothing of the event stays. Whether it applied.
  bool apply_to(size_t i, const log_entry& e, const std::string& prefix, change_map& changes);

 private:
  // Bit i of `folding`: views[i] folds the type; of `reading`: and reads
  // its payload. The last type asked is remembered, as the scan's filter
  // and the visitor ask for the same record in turn.
  struct type_masks {
    uint64_t folding = 0, reading = 0;
    // The views to apply an event of the type to: those that need no
    // payload get it also when it was not opened.
    uint64_t apply_to(bool opened) const { return opened ? folding : folding & ~reading; }
  };
  const type_masks& masks_of(std::string_view type);
  std::map<std::string, type_masks, std::less<>> masks_;
  std::string last_type_;
  type_masks last_masks_;
  bool last_known_ = false;
};

}  // namespace crmd
