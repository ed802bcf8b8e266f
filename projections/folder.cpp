#include "projections/folder.hpp"

#include <cassert>
#include <mutex>
#include <shared_mutex>

namespace crmd {
namespace {

std::shared_mutex generations_mu;
std::map<std::string, uint64_t, std::less<>> generations;

}  // namespace

uint64_t view_generation(std::string_view view) {
  std::shared_lock lock(generations_mu);
  auto it = generations.find(view);
  return it == generations.end() ? 0 : it->second;
}

void set_view_generation(std::string_view view, uint64_t generation) {
  std::unique_lock lock(generations_mu);
  generations[std::string(view)] = generation;
}

std::string prefix_for(std::string_view view, uint64_t generation) {
  std::string p = "v/" + std::string(view);
  if (generation) p += "@" + std::to_string(generation);
  return p + "/";
}

std::string generation_key(std::string_view view) { return "g/" + std::string(view); }
std::string rebuild_marker_key(std::string_view view) { return "b/" + std::string(view); }

result<size_t> delete_some(kv_store& kv, const std::string& prefix, size_t max, std::string& from) {
  std::string upper = prefix;
  upper.back() = char(upper.back() + 1);
  auto b = kv.new_batch();
  size_t n = 0;
  std::string last;
  auto it = kv.scan_bulk(cf::projections, from.empty() ? prefix : from, upper);  // a whole view or generation
  for (; it->valid() && n < max; it->next(), ++n) {
    b->del(cf::projections, it->key());
    last.assign(it->key());
  }
  if (auto s = it->error(); !s) return s;
  if (n == 0) return n;
  if (auto s = kv.write_unlogged(*b); !s) return s;
  from = last + '\0';  // the least key after it
  return n;
}

status clear_view(kv_store& kv, std::string_view view) {
  std::string from;
  for (;;) {
    auto n = delete_some(kv, view_prefix(view), 10000, from);
    if (!n) return n.error();
    if (*n == 0) break;
  }
  auto b = kv.new_batch();
  b->del(cf::projections, checkpoint_key(view));
  return kv.write_unlogged(*b);
}

status load_generation(kv_store& kv, std::string_view view) {
  std::string v;
  auto g = kv.get(cf::projections, generation_key(view), &v);
  if (g.is_ok() && v.size() == 8) set_view_generation(view, read_be64(v));
  else if (g.is_ok()) return {errc::corruption, "malformed generation of view " + std::string(view)};
  else if (g.code() != errc::not_found) return g;
  return status::ok();
}

std::string view_prefix(std::string_view view) { return prefix_for(view, view_generation(view)); }

status folder::load() {
  checkpoints.assign(views.size(), 0);
  errors.assign(views.size(), "");
  for (size_t i = 0; i < views.size(); ++i) {
    std::string v;
    if (fixed_prefix.empty()) {
      if (auto g = load_generation(kv, views[i]->name()); !g) return g;
      // An offline rebuild was cut short: its keys are from no single
      // position, so the view starts again from the beginning.
      auto m = kv.get(cf::projections, rebuild_marker_key(views[i]->name()), &v);
      if (m.is_ok()) {
        if (auto s = clear_view(kv, views[i]->name()); !s) return s;
        // The clearing is unlogged: on disk before the synced marker deletion,
        // or a crash could keep the deletion and lose the clearing.
        if (auto s = kv.flush(cf::projections); !s) return s;
        auto b = kv.new_batch();
        b->del(cf::projections, rebuild_marker_key(views[i]->name()));
        if (auto s = kv.write(*b, true); !s) return s;
      } else if (m.code() != errc::not_found) {
        return m;
      }
    }
    auto s = kv.get(cf::projections, checkpoint_of(i), &v);
    if (s.is_ok() && v.size() == 8) checkpoints[i] = read_be64(v);
    else if (s.is_ok()) return {errc::corruption, "malformed checkpoint of view " + std::string(views[i]->name())};
    else if (s.code() != errc::not_found) return s;
  }
  return status::ok();
}

uint64_t folder::low() const {
  uint64_t m = UINT64_MAX;
  for (size_t i = 0; i < views.size(); ++i)
    if (errors[i].empty()) m = std::min(m, checkpoints[i]);
  return m == UINT64_MAX ? 0 : m;
}

const folder::type_masks& folder::masks_of(std::string_view type) {
  if (last_known_ && type == last_type_) return last_masks_;
  auto it = masks_.find(type);
  if (it == masks_.end()) {
    type_masks m;
    for (size_t i = 0; i < views.size(); ++i)
      if (views[i]->folds(type)) {
        m.folding |= uint64_t{1} << i;
        if (views[i]->needs_payload(type)) m.reading |= uint64_t{1} << i;
      }
    it = masks_.emplace(std::string(type), m).first;
  }
  last_type_.assign(type);
  last_masks_ = it->second;
  last_known_ = true;
  return last_masks_;
}

bool folder::apply_to(size_t i, const log_entry& e, const std::string& prefix, change_map& changes) {
  status st;
  if (cache) {
    cache_txn txn(kv, prefix, *cache);
    st = views[i]->apply(e, txn);
    if (st) txn.commit();
  } else {
    event_txn txn(kv, prefix, changes);
    st = views[i]->apply(e, txn);
    if (st)
      for (auto& [k, v] : txn.mine) changes[k] = std::move(v);
  }
  if (!st) errors[i] = "position " + std::to_string(e.record.position) + ": " + st.to_string();
  return st.is_ok();
}

status folder::step(bool& progressed, std::vector<uint64_t>& out_checkpoints) {
  // One bit per view in masks_of(); crmd has nine.
  assert(views.size() <= 64);
  progressed = false;
  out_checkpoints = checkpoints;
  uint64_t from = low() + 1;
  if (from > log.last_position()) return status::ok();
  change_map changes;  // without a cache: the batch's writes
  size_t n = 0;
  std::vector<std::string> prefixes = this->prefixes();
  auto wanted = [this](std::string_view type) { return masks_of(type).reading != 0; };
  auto s = log.scan_types(from, wanted, [&](const log_entry& e) {
    uint64_t pos = e.record.position;
    uint64_t folding = masks_of(e.record.type).apply_to(e.opened);
    for (size_t i = 0; i < views.size(); ++i) {
      if (!errors[i].empty() || out_checkpoints[i] >= pos) continue;
      if (!(folding >> i & 1)) {
        out_checkpoints[i] = pos;  // not a type the view folds: nothing to apply
        continue;
      }
      if (apply_to(i, e, prefixes[i], changes)) out_checkpoints[i] = pos;
    }
    return ++n < batch_events;
  });
  if (!s) return s;
  for (size_t i = 0; i < views.size(); ++i) progressed |= out_checkpoints[i] != checkpoints[i];
  if (cache) {
    // The checkpoints are written with the last of the views' keys
    // (flush_cache); a spill before that writes keys only.
    if (cache->over_budget()) return cache->spill(kv);
    return status::ok();
  }
  auto b = kv.new_batch();
  for (auto& [k, v] : changes) {
    if (v) b->put(cf::projections, k, *v);
    else b->del(cf::projections, k);
  }
  for (size_t i = 0; i < views.size(); ++i)
    if (out_checkpoints[i] != checkpoints[i]) b->put(cf::projections, checkpoint_of(i), be64(out_checkpoints[i]));
  if (!progressed) return status::ok();
  // Views and checkpoints live in one family and go in one batch, so an
  // unlogged write loses them together: the view stays at its checkpoint.
  return sync ? kv.write(*b, true) : kv.write_unlogged(*b);
}

status folder::flush_cache() {
  if (!cache) return status::ok();
  std::vector<std::pair<std::string, std::string>> marks;
  for (size_t i = 0; i < views.size(); ++i) marks.emplace_back(checkpoint_of(i), be64(checkpoints[i]));
  return cache->spill(kv, marks);
}

}  // namespace crmd
