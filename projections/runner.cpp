#include "projections/runner.hpp"

#include <pthread.h>

#include "projections/folder.hpp"
#include "projections/online_rebuild.hpp"
#include "projections/view_util.hpp"

#include <atomic>
#include <cstdio>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace crmd {

std::string checkpoint_key(std::string_view view) { return "c/" + std::string(view); }


struct projection_runner::impl {
  impl(event_log& l, std::shared_ptr<kv_store> k, std::vector<std::unique_ptr<projection>> v, runner_options o)
      : log(l), kv(std::move(k)), owned(std::move(v)), f{l, *kv, {}, o.batch_events, o.sync},
        rebuilds(l, *kv, o.batch_events, o.rebuild_memory_bytes), rebuild_memory_bytes(o.rebuild_memory_bytes) {
    for (auto& p : owned) f.views.push_back(p.get());
  }

  struct waiter {
    uint64_t pos;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(bool)> ready;
  };

  event_log& log;
  std::shared_ptr<kv_store> kv;
  std::vector<std::unique_ptr<projection>> owned;
  folder f;
  online_rebuilds rebuilds;  // touched on the runner's thread only (statuses() aside)
  std::vector<std::string> pending_rebuilds;  // asked for, not yet started (guarded by mu)
  size_t rebuild_memory_bytes;  // for build_empty_views too

  mutable std::mutex mu;  // guards published state, waiters, flags
  std::condition_variable cv;
  std::vector<uint64_t> published;
  std::vector<std::string> published_errors;
  std::atomic<uint64_t> low{0};
  std::atomic<uint64_t> epoch{0};
  std::vector<waiter> waiters;
  bool stopping = false;
  uint64_t subscription = 0;
  bool subscribed = false;
  std::thread thread;

  void publish() {
    std::vector<waiter> fire;
    {
      std::lock_guard lock(mu);
      if (published != f.checkpoints) ++epoch;
      published = f.checkpoints;
      published_errors = f.errors;
      low = f.low();
      auto now = std::chrono::steady_clock::now();
      for (auto it = waiters.begin(); it != waiters.end();) {
        if (it->pos <= low || it->deadline <= now) {
          fire.push_back(std::move(*it));
          it = waiters.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& w : fire) w.ready(w.pos <= low.load());
  }

  bool last_progress = false;

  status step() {
    bool progressed = false;
    std::vector<uint64_t> next;
    auto s = f.step(progressed, next);
    last_progress = progressed;
    if (s.is_ok()) f.checkpoints = next;
    publish();
    return s;
  }

  // Starts what was asked for (on this thread: the rebuild state is ours).
  // One at a time, in the order asked.
  void start_pending(std::unique_lock<std::mutex>& lock) {
    if (rebuilds.building()) return;
    std::string name = pending_rebuilds.front();
    pending_rebuilds.erase(pending_rebuilds.begin());
    lock.unlock();
    for (size_t i = 0; i < f.views.size(); ++i)
      if (name == f.views[i]->name()) {
        if (auto s = rebuilds.start(f.views[i], i); !s)
          std::fprintf(stderr, "crmd projections: rebuild of %s not started: %s\n", name.c_str(), s.to_string().c_str());
      }
    lock.lock();
  }

  void loop() {
    // Folding views is background work: on a two-core machine it must not
    // take the CPU from the request path (commands wait on fsync, not on views).
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 5);
    std::unique_lock lock(mu);
    while (!stopping) {
      if (!pending_rebuilds.empty()) start_pending(lock);
      bool live_work = low.load() < log.last_position() && f.low() < log.last_position();
      if (live_work || rebuilds.due()) {
        lock.unlock();
        status s = status::ok();
        if (live_work) s = step();
        bool live_stuck = live_work && (!s || !last_progress);
        if (rebuilds.due()) {
          // The live views go first; a rebuild takes the turns they leave.
          if (auto r = rebuilds.work(f); !r)
            std::fprintf(stderr, "crmd projections: rebuild: %s\n", r.to_string().c_str());
          publish();
          live_stuck = false;
        }
        lock.lock();
        // Storage trouble, or every lagging view stopped on an error: back off.
        if (live_stuck) cv.wait_for(lock, std::chrono::milliseconds(100));
        continue;
      }
      auto deadline = std::min(std::chrono::steady_clock::now() + std::chrono::seconds(1), rebuilds.next_due());
      for (auto& w : waiters) deadline = std::min(deadline, w.deadline);
      cv.wait_until(lock, deadline);
      if (!waiters.empty()) {
        lock.unlock();
        publish();  // fires expired waiters
        lock.lock();
      }
    }
  }
};

projection_runner::projection_runner(event_log& log, std::shared_ptr<kv_store> kv,
                                     std::vector<std::unique_ptr<projection>> views, runner_options o)
    : impl_(std::make_unique<impl>(log, std::move(kv), std::move(views), o)) {}

projection_runner::~projection_runner() { stop(); }

status projection_runner::start() {
  if (impl_->published.empty()) {  // not loaded by an earlier catch_up()
    if (auto s = impl_->f.load(); !s) return s;
  }
  if (auto s = impl_->rebuilds.find_leftovers(impl_->f.views); !s) return s;
  impl_->publish();
  impl_->subscription = impl_->log.subscribe([i = impl_.get()](uint64_t) { i->cv.notify_all(); });
  impl_->subscribed = true;
  impl_->thread = std::thread([i = impl_.get()] {
    pthread_setname_np(pthread_self(), "crmd.views");  // names threads in perf and top
    i->loop();
  });
  return status::ok();
}

void projection_runner::stop() {
  if (impl_->subscribed) {
    impl_->log.unsubscribe(impl_->subscription);
    impl_->subscribed = false;
  }
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  std::vector<impl::waiter> left;
  {
    std::lock_guard lock(impl_->mu);
    left.swap(impl_->waiters);
  }
  for (auto& w : left) w.ready(false);
}

uint64_t projection_runner::position() const { return impl_->low.load(); }
uint64_t projection_runner::epoch() const { return impl_->epoch.load(); }

std::map<std::string, view_status> projection_runner::views() const {
  std::lock_guard lock(impl_->mu);
  std::map<std::string, view_status> out;
  auto rebuilds = impl_->rebuilds.statuses();
  for (size_t i = 0; i < impl_->f.views.size(); ++i) {
    std::string name = impl_->f.views[i]->name();
    auto& v = out[name];
    v.position = i < impl_->published.size() ? impl_->published[i] : 0;
    v.error = i < impl_->published_errors.size() ? impl_->published_errors[i] : "";
    v.generation = view_generation(name);
    if (auto it = rebuilds.find(name); it != rebuilds.end()) v.rebuild = it->second;
  }
  return out;
}

void projection_runner::when_caught_up(uint64_t pos, std::chrono::milliseconds timeout,
                                       std::function<void(bool)> ready) {
  if (impl_->low.load() >= pos) {
    ready(true);
    return;
  }
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->stopping) {
      impl_->waiters.push_back({pos, std::chrono::steady_clock::now() + timeout, std::move(ready)});
      impl_->cv.notify_all();
      return;
    }
  }
  ready(impl_->low.load() >= pos);
}

status projection_runner::start_rebuild(const std::string& view) {
  bool known = false;
  for (auto* v : impl_->f.views) known |= view == v->name();
  if (!known) return status{errc::not_found, "no view '" + view + "'"};
  std::lock_guard lock(impl_->mu);
  auto statuses = impl_->rebuilds.statuses();
  if (auto it = statuses.find(view); it != statuses.end() && it->second.running)
    return status{errc::conflict, "view " + view + " is being rebuilt", "rebuild_running"};
  for (auto& p : impl_->pending_rebuilds)
    if (p == view) return status{errc::conflict, "view " + view + " is about to be rebuilt", "rebuild_running"};
  impl_->pending_rebuilds.push_back(view);
  impl_->cv.notify_all();
  return status::ok();
}

result<std::vector<std::string>> projection_runner::build_empty_views() {
  if (impl_->published.empty())
    if (auto s = impl_->f.load(); !s) return s;
  std::vector<std::string> names;
  if (impl_->log.last_position() == 0) return names;
  std::vector<projection*> empty;
  for (size_t i = 0; i < impl_->f.views.size(); ++i)
    if (impl_->f.checkpoints[i] == 0 && impl_->f.errors[i].empty()) {
      empty.push_back(impl_->f.views[i]);
      names.push_back(impl_->f.views[i]->name());
    }
  if (empty.empty()) return names;
  // An online rebuild's memory budget: on the 1M-event bench store the
  // build took as long with it as with an offline rebuild's 1 GiB.
  rebuild_options o;
  o.memory_bytes = impl_->rebuild_memory_bytes;
  auto built = rebuild_views(impl_->log, *impl_->kv, empty, o, {});
  if (!built) {
    // A view stopped on an event it cannot fold (rebuild_views fails whole,
    // leaving its markers): batch by batch, catch_up() stops only that view
    // and serves the others, as it always did. load() clears the half-built
    // keyspaces first.
    std::fprintf(stderr, "crmd projections: bulk build failed (%s); folding batch by batch\n",
                 built.to_string().c_str());
    names.clear();
  }
  if (auto s = impl_->f.load(); !s) return s;  // their checkpoints: the log's end, or 0 again
  impl_->publish();
  return names;
}

status projection_runner::catch_up() {
  if (impl_->published.empty())
    if (auto s = impl_->f.load(); !s) return s;
  while (impl_->f.low() < impl_->log.last_position()) {
    uint64_t before = impl_->f.low();
    if (auto s = impl_->step(); !s) return s;
    if (impl_->f.low() == before) break;  // every remaining view has stopped on an error
  }
  return status::ok();
}

status rebuild_views(event_log& log, kv_store& kv, const std::vector<projection*>& views,
                     const rebuild_options& options, const std::function<void(uint64_t, uint64_t)>& progress) {
  // The marker first: from here on the keyspaces may be half-built.
  {
    auto b = kv.new_batch();
    for (auto* v : views) b->put(cf::projections, rebuild_marker_key(v->name()), "");
    if (auto s = kv.write(*b, true); !s) return s;
  }
  for (auto* v : views) {
    if (auto s = load_generation(kv, v->name()); !s) return s;
    if (auto s = clear_view(kv, v->name()); !s) return s;
  }
  folder f{log, kv, views, options.batch_events, false};
  f.cache = std::make_unique<fold_cache>(options.memory_bytes);
  // Not load(): it would take the marker for a rebuild cut short. Cleared
  // views start at 0.
  f.checkpoints.assign(views.size(), 0);
  f.errors.assign(views.size(), "");
  uint64_t total = log.last_position();
  if (auto s = f.fold_all(total, [&](uint64_t done) {
        if (progress) progress(done, total);
      });
      !s)
    return s;
  for (size_t i = 0; i < views.size(); ++i)
    if (!f.errors[i].empty()) return {errc::corruption, "view " + std::string(views[i]->name()) + " stopped at " + f.errors[i]};
  if (progress) progress(f.low(), total);
  if (auto s = f.flush_cache(); !s) return s;
  // Make the rebuilt views durable before the marker goes and success is reported.
  if (auto s = kv.flush(cf::projections); !s) return s;
  auto b = kv.new_batch();
  for (auto* v : views) b->del(cf::projections, rebuild_marker_key(v->name()));
  return kv.write(*b, true);
}

status rebuild_view(event_log& log, kv_store& kv, projection& view,
                    const std::function<void(uint64_t, uint64_t)>& progress) {
  return rebuild_views(log, kv, {&view}, {}, progress);
}

}  // namespace crmd
