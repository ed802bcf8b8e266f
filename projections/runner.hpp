// Runs projections: one thread folds new log positions into every view.
//
// Each batch (up to `batch_events` events) writes the views' changes and
// their new checkpoints in one kv batch; views may lag, never skip or repeat.
// Readers wanting read-your-writes call when_caught_up() with the position
// of the writes they must see.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "projections/projection.hpp"
#include "storage/kv.hpp"

namespace crmd {

struct runner_options {
  // Events per batch: large enough to amortise the write, small enough that
  // readers waiting for a position are not held up by a long replay.
  size_t batch_events = 1024;
  // Projections can be rebuilt from the log, so their writes bypass the
  // write-ahead log (write_unlogged); true writes them synced (tests).
  bool sync = false;
  // Memory an online rebuild may fold in before it writes (fold_cache.hpp);
  // past it the build goes on, reading back what it wrote from the store.
  size_t rebuild_memory_bytes = size_t{256} << 20;
};

// An online rebuild of a view (the last one, once finished).
struct rebuild_status {
  bool running = false;
  uint64_t generation = 0;   // the version being built (or built)
  uint64_t processed = 0;    // log position the new version has reached
  uint64_t total = 0;        // the log's end, now
  double rate = 0;           // events per second so far
  double eta_s = 0;          // seconds left at that rate
  int64_t started_us = 0, finished_us = 0;  // wall clock
  std::string error;         // why it was abandoned, if it was
};

struct view_status {
  uint64_t position = 0;
  std::string error;  // why the view stopped, if it did
  uint64_t generation = 0;
  std::optional<rebuild_status> rebuild;
};

class projection_runner {
 public:
  projection_runner(event_log& log, std::shared_ptr<kv_store> kv,
                    std::vector<std::unique_ptr<projection>> views, runner_options o = {});
  ~projection_runner();

  // Loads checkpoints and starts the thread.
  status start();
  void stop();

  // The lowest checkpoint of all views: everything up to it is in every view.
  uint64_t position() const;
  // Changes whenever any view has published a change (a view stopped on an
  // error holds position() still while others go on; this moves with them):
  // equal epochs mean no view changed in between.
  uint64_t epoch() const;
  std::map<std::string, view_status> views() const;

  // Calls ready(true) once every view includes `pos`, or ready(false) when
  // `timeout` passes first. Runs `ready` on the caller's thread when already
  // caught up, else on the runner's thread: it must be quick.
  void when_caught_up(uint64_t pos, std::chrono::milliseconds timeout, std::function<void(bool)> ready);

  // Rebuilds `view` beside the live one and swaps it in when caught up
  // (online_rebuild.hpp); reads go on meanwhile. Rebuilds run one at a
  // time in the order asked. errc::not_found for an unknown view,
  // errc::conflict while that view is being (or about to be) rebuilt.
  status start_rebuild(const std::string& view);

  // Applies everything the log has now, on the calling thread (the runner
  // thread must not be running): for rebuilds and tests.
  status catch_up();

  // Before start() (or catch_up()): folds the views that have nothing folded
  // yet (new in this build, or cleared after an offline rebuild was cut
  // short) the way `crmd rebuild` does, in memory and written sorted, many
  // times faster than catch_up() batch by batch. Returns their names; none
  // on an empty log, or when the bulk build failed on a view's error (then
  // catch_up() folds them batch by batch and stops only the failing view).
  result<std::vector<std::string>> build_empty_views();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

struct rebuild_options {
  // Memory the fold may hold before it writes: a whole view usually fits,
  // so nothing is read back from RocksDB (fold_cache.hpp).
  size_t memory_bytes = size_t{1} << 30;
  // Events per scan of the log; nothing is written per batch.
  size_t batch_events = 16384;
};

// Offline rebuild (the server stopped): clears the views' keyspaces and
// checkpoints and folds the whole log into them again, in one pass over
// the log. `progress(done, total)` is called now and then. Until it
// returns, a durable marker says the views are half-built: a rebuild cut
// short is cleared and folded again when the views are next loaded.
status rebuild_views(event_log& log, kv_store& kv, const std::vector<projection*>& views,
                     const rebuild_options& options = {},
                     const std::function<void(uint64_t, uint64_t)>& progress = {});
status rebuild_view(event_log& log, kv_store& kv, projection& view,
                    const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace crmd
