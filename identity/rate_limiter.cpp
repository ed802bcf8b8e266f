#include "identity/rate_limiter.hpp"

namespace crmd::identity {

rate_limiter::window& rate_limiter::current(const std::string& key, int64_t now) {
  if (windows_.size() >= limit_.max_keys && !windows_.count(key)) {
    for (auto it = windows_.begin(); it != windows_.end();)
      it = now - it->second.start_us >= limit_.window_us ? windows_.erase(it) : std::next(it);
    // Still full: drop the keys under their limit, never a lockout, so a
    // flood of fresh keys cannot reset the counts of an account under attack.
    if (windows_.size() >= limit_.max_keys)
      for (auto it = windows_.begin(); it != windows_.end();)
        it = it->second.count < limit_.max ? windows_.erase(it) : std::next(it);
  }
  auto& w = windows_[key];
  if (now - w.start_us >= limit_.window_us) w = window{now, 0};
  return w;
}

int64_t rate_limiter::retry_after_s(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = windows_.find(key);
  if (it == windows_.end()) return 0;
  int64_t now = time_.now_us();
  auto& w = it->second;
  if (now - w.start_us >= limit_.window_us || w.count < limit_.max) return 0;
  return (w.start_us + limit_.window_us - now + 999'999) / 1'000'000;
}

void rate_limiter::record(const std::string& key) {
  std::lock_guard lock(mu_);
  ++current(key, time_.now_us()).count;
}

bool rate_limiter::admit(const std::string& key) {
  std::lock_guard lock(mu_);
  auto& w = current(key, time_.now_us());
  if (w.count >= limit_.max) return false;
  ++w.count;
  return true;
}

void rate_limiter::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  windows_.erase(key);
}

}  // namespace crmd::identity
