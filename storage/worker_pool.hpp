// A small bounded pool for slow, CPU-bound or blocking work (password KDF,
// refresh-token writes, an aggregate's recovery) that must never run on an
// HTTP I/O or CAF scheduler thread.
// When all workers are busy and the queue is full, try_submit() refuses at
// once, so the caller can answer 503 + Retry-After instead of stalling.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace crmd {

class worker_pool {
 public:
  // `queue` jobs may wait beyond the `threads` that run.
  worker_pool(size_t threads, size_t queue);
  ~worker_pool();  // runs the queued jobs, then joins
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  // false (and `job` is dropped) when the pool is full or stopping.
  bool try_submit(std::function<void()> job);
  size_t pending() const;

 private:
  void run();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  size_t capacity_;  // threads + queue: jobs accepted but not finished
  size_t accepted_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace crmd
