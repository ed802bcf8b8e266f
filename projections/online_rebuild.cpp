#include "projections/online_rebuild.hpp"

#include "events/clock.hpp"
#include "projections/view_util.hpp"

namespace crmd {
namespace {

constexpr auto grace = std::chrono::seconds(30);  // longer than any read (request timeout)
using views::util::upper_of;

}  // namespace

status online_rebuilds::find_leftovers(const std::vector<projection*>& views) {
  auto now = std::chrono::steady_clock::now();
  for (auto* v : views) {
    std::string name = v->name();
    uint64_t current = view_generation(name);
    if (current != 0) cleanups_.push_back({prefix_for(name, 0), now});
    // "v/<name>@<g>/..." for every g: jump from one generation to the next.
    std::string lo = "v/" + name + "@", hi = "v/" + name + "A";
    for (;;) {
      auto it = kv_.scan(cf::projections, lo, hi);
      if (!it->valid()) {
        if (auto s = it->error(); !s) return s;
        break;
      }
      std::string key(it->key());
      auto slash = key.find('/', lo.size());
      if (slash == std::string::npos) break;  // not ours: a malformed key
      uint64_t g = std::strtoull(key.c_str() + name.size() + 3, nullptr, 10);
      std::string prefix = key.substr(0, slash + 1);
      if (g != current) cleanups_.push_back({prefix, now});
      lo = upper_of(prefix);
    }
  }
  return status::ok();
}

status online_rebuilds::start(projection* view, size_t index) {
  if (active_) return status{errc::conflict, "view " + std::string(active_->shadow->views[0]->name()) + " is being rebuilt"};
  std::string name = view->name();
  uint64_t gen = view_generation(name) + 1;
  // A generation number is never reused: skip any whose keys still exist.
  for (auto& c : cleanups_)
    if (c.prefix.rfind("v/" + name + "@", 0) == 0)
      gen = std::max<uint64_t>(gen, std::strtoull(c.prefix.c_str() + name.size() + 3, nullptr, 10) + 1);
  build b{index, gen, view_prefix(name), std::make_unique<folder>(log_, kv_, std::vector<projection*>{view}, batch_, false),
          std::chrono::steady_clock::now()};
  b.shadow->fixed_prefix = prefix_for(name, gen);
  b.shadow->fixed_checkpoint = "r/" + name + "@" + std::to_string(gen);
  b.shadow->cache = std::make_unique<fold_cache>(memory_);
  // From position 1, never resumed: the cache starts empty, so a leftover
  // r/ checkpoint of a generation cut short must not be believed.
  b.shadow->checkpoints.assign(1, 0);
  b.shadow->errors.assign(1, "");
  {
    std::lock_guard lock(mu_);
    rebuild_status st;
    st.running = true;
    st.generation = gen;
    st.total = log_.last_position();
    st.started_us = system_clock().now_us();
    status_[name] = st;
  }
  active_ = std::move(b);
  return status::ok();
}

bool online_rebuilds::due() const { return active_ || next_due() <= std::chrono::steady_clock::now(); }

std::chrono::steady_clock::time_point online_rebuilds::next_due() const {
  auto t = std::chrono::steady_clock::time_point::max();
  for (auto& c : cleanups_) t = std::min(t, c.not_before);
  return t;
}

void online_rebuilds::finish(const std::string& name, const std::string& error) {
  std::lock_guard lock(mu_);
  auto& st = status_[name];
  st.running = false;
  st.error = error;
  st.finished_us = system_clock().now_us();
}

status online_rebuilds::work(folder& live) {
  if (active_) {
    auto& b = *active_;
    std::string name = b.shadow->views[0]->name();
    bool progressed = false;
    std::vector<uint64_t> next;
    auto s = b.shadow->step(progressed, next);
    if (s.is_ok()) b.shadow->checkpoints = next;
    if (!s || !b.shadow->errors[0].empty()) {  // abandoned: the live view stays as it is
      finish(name, s ? b.shadow->errors[0] : s.to_string());
      cleanups_.push_back({b.shadow->fixed_prefix, std::chrono::steady_clock::now()});
      active_.reset();
      return s;
    }
    uint64_t at = b.shadow->checkpoints[0];
    {
      std::lock_guard lock(mu_);
      auto& st = status_[name];
      st.processed = at;
      st.total = std::max(log_.last_position(), at);
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - b.started).count();
      st.rate = secs > 0 ? at / secs : 0;
      st.eta_s = st.rate > 0 ? (st.total - at) / st.rate : 0;
    }
    if (at >= live.checkpoints[b.index]) return swap(live);
    return status::ok();
  }
  // A slice of an old version's deletion.
  auto now = std::chrono::steady_clock::now();
  for (auto it = cleanups_.begin(); it != cleanups_.end(); ++it) {
    if (it->not_before > now) continue;
    auto n = delete_some(kv_, it->prefix, 10000, it->resume);
    if (!n) return n.error();
    if (*n == 0) {
      auto c = kv_.new_batch();
      // The shadow's own checkpoint goes with its keys.
      auto at = it->prefix.find('@');
      if (at != std::string::npos)
        c->del(cf::projections, "r/" + it->prefix.substr(2, it->prefix.size() - 3));
      cleanups_.erase(it);
      return kv_.write_unlogged(*c);
    }
    return status::ok();
  }
  return status::ok();
}

status online_rebuilds::swap(folder& live) {
  auto& b = *active_;
  std::string name = b.shadow->views[0]->name();
  uint64_t at = b.shadow->checkpoints[0];
  // The new version must be on disk before the generation that names it.
  if (auto s = b.shadow->flush_cache(); !s) return s;
  if (auto s = kv_.flush(cf::projections); !s) return s;
  auto batch = kv_.new_batch();
  batch->put(cf::projections, generation_key(name), be64(b.generation));
  batch->put(cf::projections, checkpoint_key(name), be64(at));
  batch->del(cf::projections, b.shadow->fixed_checkpoint);
  if (auto s = kv_.write(*batch, true); !s) return s;
  set_view_generation(name, b.generation);
  live.checkpoints[b.index] = at;
  live.errors[b.index].clear();
  cleanups_.push_back({b.old_prefix, std::chrono::steady_clock::now() + grace});
  finish(name, "");
  active_.reset();
  return status::ok();
}

std::map<std::string, rebuild_status> online_rebuilds::statuses() const {
  std::lock_guard lock(mu_);
  return status_;
}

}  // namespace crmd
