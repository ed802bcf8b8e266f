#include "projections/runner.hpp"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace crmd {

std::string view_prefix(std::string_view view) { return "v/" + std::string(view) + "/"; }
std::string checkpoint_key(std::string_view view) { return "c/" + std::string(view); }

namespace {

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

  status load() {
    checkpoints.assign(views.size(), 0);
    errors.assign(views.size(), "");
    for (size_t i = 0; i < views.size(); ++i) {
      std::string v;
      auto s = kv.get(cf::projections, checkpoint_key(views[i]->name()), &v);
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
    auto s = log.scan(from, [&](const log_entry& e) {
      uint64_t pos = e.record.position;
      for (size_t i = 0; i < views.size(); ++i) {
        if (!errors[i].empty() || out_checkpoints[i] >= pos) continue;
        event_txn txn(kv, view_prefix(views[i]->name()), changes);
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
        b->put(cf::projections, checkpoint_key(views[i]->name()), be64(out_checkpoints[i]));
        progressed = true;
      }
    if (!progressed) return status::ok();
    // Views and checkpoints live in one family and go in one batch, so an
    // unlogged write loses them together: the view stays at its checkpoint.
    return sync ? kv.write(*b, true) : kv.write_unlogged(*b);
  }
};

}  // namespace

struct projection_runner::impl {
  impl(event_log& l, std::shared_ptr<kv_store> k, std::vector<std::unique_ptr<projection>> v, runner_options o)
      : log(l), kv(std::move(k)), owned(std::move(v)), f{l, *kv, {}, {}, {}, o.batch_events, o.sync} {
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

  mutable std::mutex mu;  // guards published state, waiters, flags
  std::condition_variable cv;
  std::vector<uint64_t> published;
  std::vector<std::string> published_errors;
  std::atomic<uint64_t> low{0};
  std::vector<waiter> waiters;
  bool stopping = false;
  uint64_t subscription = 0;
  bool subscribed = false;
  std::thread thread;

  void publish() {
    std::vector<waiter> fire;
    {
      std::lock_guard lock(mu);
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

  void loop() {
    // Folding views is background work: on a two-core machine it must not
    // take the CPU from the request path (commands wait on fsync, not on views).
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 5);
    std::unique_lock lock(mu);
    while (!stopping) {
      if (low.load() < log.last_position() && f.low() < log.last_position()) {
        lock.unlock();
        auto s = step();
        lock.lock();
        // Storage trouble, or every lagging view stopped on an error: back off.
        if (!s || !last_progress) cv.wait_for(lock, std::chrono::milliseconds(100));
        continue;
      }
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
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
  impl_->publish();
  impl_->subscription = impl_->log.subscribe([i = impl_.get()](uint64_t) { i->cv.notify_all(); });
  impl_->subscribed = true;
  impl_->thread = std::thread([i = impl_.get()] { i->loop(); });
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

std::map<std::string, view_status> projection_runner::views() const {
  std::lock_guard lock(impl_->mu);
  std::map<std::string, view_status> out;
  for (size_t i = 0; i < impl_->f.views.size(); ++i)
    out[impl_->f.views[i]->name()] =
        view_status{i < impl_->published.size() ? impl_->published[i] : 0,
                    i < impl_->published_errors.size() ? impl_->published_errors[i] : ""};
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

status rebuild_view(event_log& log, kv_store& kv, projection& view,
                    const std::function<void(uint64_t, uint64_t)>& progress) {
  // Clear the keyspace and the checkpoint.
  std::string prefix = view_prefix(view.name());
  std::string upper = prefix;
  upper.back() = char(upper.back() + 1);
  for (;;) {
    auto b = kv.new_batch();
    size_t n = 0;
    auto it = kv.scan(cf::projections, prefix, upper);
    for (; it->valid() && n < 10000; it->next(), ++n) b->del(cf::projections, it->key());
    if (auto s = it->error(); !s) return s;
    if (n == 0) break;
    if (auto s = kv.write_unlogged(*b); !s) return s;
  }
  auto b = kv.new_batch();
  b->del(cf::projections, checkpoint_key(view.name()));
  if (auto s = kv.write_unlogged(*b); !s) return s;

  folder f{log, kv, {&view}, {}, {}, 4096, false};
  if (auto s = f.load(); !s) return s;
  uint64_t total = log.last_position();
  while (f.low() < total) {
    bool progressed = false;
    std::vector<uint64_t> next;
    if (auto s = f.step(progressed, next); !s) return s;
    if (!f.errors[0].empty()) return {errc::corruption, "view " + std::string(view.name()) + " stopped at " + f.errors[0]};
    if (!progressed) break;
    f.checkpoints = next;
    if (progress) progress(f.low(), total);
  }
  // Make the rebuilt view durable before reporting success.
  return kv.flush(cf::projections);
}

}  // namespace crmd
