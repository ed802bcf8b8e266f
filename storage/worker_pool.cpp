#include "storage/worker_pool.hpp"

namespace crmd {

worker_pool::worker_pool(size_t threads, size_t queue) : capacity_(threads + queue) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

worker_pool::~worker_pool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool worker_pool::try_submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || accepted_ >= capacity_) return false;
    ++accepted_;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

size_t worker_pool::pending() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

void worker_pool::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to run
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
    std::lock_guard lock(mu_);
    --accepted_;
  }
}

}  // namespace crmd
