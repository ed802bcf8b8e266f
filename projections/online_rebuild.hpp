// Internal to projections/: rebuilding a view while crmd serves.
//
// The new version is folded from position 1 under the view's next
// generation prefix ("v/<view>@<g>/", folder.hpp), beside the live one,
// one batch at a time on the runner's thread between its live batches,
// in memory until its budget is passed (fold_cache.hpp).
// When it has caught up with the live view, the runner's thread flushes it,
// writes the new generation and the view's checkpoint in one synced batch,
// and only then switches view_prefix(): readers see the old version or the
// new one, never a half-built one. The old version's keys are deleted after
// a grace period, so reads that began before the switch finish on them.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "projections/folder.hpp"
#include "projections/runner.hpp"

namespace crmd {

class online_rebuilds {
 public:
  online_rebuilds(event_log& log, kv_store& kv, size_t batch_events, size_t memory_bytes)
      : log_(log), kv_(kv), batch_(batch_events), memory_(memory_bytes) {}

  // At start: keys of generations other than the current one (a rebuild cut
  // by a crash, an old version not yet deleted) are scheduled for deletion.
  status find_leftovers(const std::vector<projection*>& views);

  // errc::conflict while another rebuild runs.
  status start(projection* view, size_t index);

  bool building() const { return active_.has_value(); }
  // Whether work() has something to do now.
  bool due() const;
  // When a scheduled deletion becomes due (time_point::max() if none).
  std::chrono::steady_clock::time_point next_due() const;

  // One batch of work on the runner's thread: the shadow build, the swap
  // when it has caught up with `live`, or a slice of an old version's deletion.
  status work(folder& live);

  std::map<std::string, rebuild_status> statuses() const;

 private:
  struct build {
    size_t index;
    uint64_t generation;
    std::string old_prefix;
    std::unique_ptr<folder> shadow;
    std::chrono::steady_clock::time_point started;
  };
  struct cleanup {
    std::string prefix;
    std::chrono::steady_clock::time_point not_before;
    std::string resume = {};  // delete_some's `from`
  };
  void finish(const std::string& name, const std::string& error);
  status swap(folder& live);

  event_log& log_;
  kv_store& kv_;
  size_t batch_;
  size_t memory_;  // the shadow build's fold_cache budget
  std::optional<build> active_;
  std::vector<cleanup> cleanups_;
  mutable std::mutex mu_;  // guards status_ (read by other threads)
  std::map<std::string, rebuild_status> status_;
};

}  // namespace crmd
