// Internal to projections/: folding log events into views in batches, and
// where each view's keys live. Shared by the runner, its online rebuilds and
// the offline rebuild.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "projections/projection.hpp"
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

  std::string prefix_of(size_t i) const { return fixed_prefix.empty() ? view_prefix(views[i]->name()) : fixed_prefix; }
  std::string checkpoint_of(size_t i) const {
    return fixed_checkpoint.empty() ? checkpoint_key(views[i]->name()) : fixed_checkpoint;
  }

  status load() {
    checkpoints.assign(views.size(), 0);
    errors.assign(views.size(), "");
    for (size_t i = 0; i < views.size(); ++i) {
      std::string v;
      if (fixed_prefix.empty()) {
        auto g = kv.get(cf::projections, generation_key(views[i]->name()), &v);
        if (g.is_ok() && v.size() == 8) set_view_generation(views[i]->name(), read_be64(v));
        else if (g.code() != errc::not_found) return g.is_ok() ? status{errc::corruption, "malformed generation"} : g;
      }
      auto s = kv.get(cf::projections, checkpoint_of(i), &v);
      if (s.is_ok() && v.size() == 8) checkpoints[i] = read_be64(v);
      else if (s.is_ok()) return {errc::corruption, "malformed checkpoint of view " + std::string(views[i]->name())};
      else if (s.code() != errc::not_found) return s;
    }
    return status::ok();
  }

  uint64_t low() const {
    uint64_t m = UINT64_MAX;
    for (size_t i = 0; i < views.size(); ++i)
      if (errors[i].empty()) m = std::min(m, checkpoints[i]);
    return m == UINT64_MAX ? 0 : m;
  }

  // One batch; `progressed` says whether any view moved.
  status step(bool& progressed, std::vector<uint64_t>& out_checkpoints) {
    progressed = false;
    out_checkpoints = checkpoints;
    uint64_t from = low() + 1;
    if (from > log.last_position()) return status::ok();
    change_map changes;
    size_t n = 0;
    std::vector<std::string> prefixes;
    for (size_t i = 0; i < views.size(); ++i) prefixes.push_back(prefix_of(i));
    auto s = log.scan(from, [&](const log_entry& e) {
      uint64_t pos = e.record.position;
      for (size_t i = 0; i < views.size(); ++i) {
        if (!errors[i].empty() || out_checkpoints[i] >= pos) continue;
        event_txn txn(kv, prefixes[i], changes);
        auto st = views[i]->apply(e, txn);
        if (!st) {
          errors[i] = "position " + std::to_string(pos) + ": " + st.to_string();
          continue;
        }
        for (auto& [k, v] : txn.mine) changes[k] = std::move(v);
        out_checkpoints[i] = pos;
      }
      return ++n < batch_events;
    });
    if (!s) return s;
    auto b = kv.new_batch();
    for (auto& [k, v] : changes) {
      if (v) b->put(cf::projections, k, *v);
      else b->del(cf::projections, k);
    }
    for (size_t i = 0; i < views.size(); ++i)
      if (out_checkpoints[i] != checkpoints[i]) {
        b->put(cf::projections, checkpoint_of(i), be64(out_checkpoints[i]));
        progressed = true;
      }
    if (!progressed) return status::ok();
    // Views and checkpoints live in one family and go in one batch, so an
    // unlogged write loses them together: the view stays at its checkpoint.
    return sync ? kv.write(*b, true) : kv.write_unlogged(*b);
  }
};


}  // namespace crmd
