// A projection is a pure fold of the global log into its own keyspace of the
// `projections` column family. The runner (runner.hpp) feeds it events in
// position order and writes its changes together with its checkpoint in one
// batch, so every event is applied exactly once, also across crashes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "events/status.hpp"
#include "storage/event_log.hpp"

namespace crmd {

// A view's keyspace inside one runner batch: reads see the batch's own writes.
class view_txn {
 public:
  virtual ~view_txn() = default;
  virtual std::optional<std::string> get(std::string_view key) = 0;
  virtual void put(std::string_view key, std::string_view value) = 0;
  virtual void del(std::string_view key) = 0;
  // put() of a key the view writes once, never reads while folding, and
  // never writes again (a change log keyed by position): a rebuild keeps
  // such keys out of its lookup table (fold_cache.hpp).
  virtual void put_new(std::string_view key, std::string_view value) { put(key, value); }
  // put() of a counter (util::bump): read back on every change all through
  // the log, so a rebuild keeps it in memory when it spills (fold_cache.hpp).
  virtual void put_counter(std::string_view key, std::string_view value) { put(key, value); }
  // The last key (and value) in [lower, upper) as the batch sees it.
  virtual std::optional<std::pair<std::string, std::string>> last(std::string_view lower,
                                                                  std::string_view upper) = 0;
};

class projection {
 public:
  virtual ~projection() = default;
  // Keyspace and checkpoint name; [a-z_]+.
  virtual const char* name() const = 0;
  // Folds one event. Must be deterministic: the same log gives the same bytes.
  // An error stops this view (it stays at the event before) and is reported.
  virtual status apply(const log_entry& e, view_txn& txn) = 0;
  // Whether apply() does anything with events of `type`. The folder skips
  // the others (and a rebuild does not decrypt them), so this must be the
  // very test apply() makes. Default: every type.
  virtual bool folds(std::string_view type) const {
    (void)type;
    return true;
  }
  // Whether apply() reads the payload (or `erased`) of events of `type`
  // it folds. When no view being folded does, a rebuild does not decrypt
  // them: apply() then gets the record with an empty payload and `opened`
  // false. Default: it does.
  virtual bool needs_payload(std::string_view type) const {
    (void)type;
    return true;
  }
};

// Key layout in the `projections` column family.
// "v/<view>/", or "v/<view>@<g>/" once rebuilt online (folder.hpp).
std::string view_prefix(std::string_view view);
std::string checkpoint_key(std::string_view view);   // "c/<view>"

}  // namespace crmd
