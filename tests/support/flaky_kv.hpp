// A store that fails one synced write, as a full disk might (tests only).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "storage/kv.hpp"

namespace crmd::test {

// The `fail_at`-th synced write (from 0) fails once; the one before it is
// slow (30 ms), so that later appends pile up behind it and go out in the
// failing batch.
class flaky_kv : public kv_store {
 public:
  flaky_kv(std::shared_ptr<kv_store> inner, int fail_at) : inner_(std::move(inner)), left_(fail_at) {}
  status get(cf f, std::string_view k, std::string* v) override { return inner_->get(f, k, v); }
  std::unique_ptr<kv_batch> new_batch() override { return inner_->new_batch(); }
  status write(kv_batch& b, bool sync) override {
    if (!sync) return inner_->write(b, sync);
    int n = left_--;
    if (n == 0) return {errc::io_error, "injected write failure"};
    // The write before the failing one is slow, so that later commands pile
    // up behind it (decided on top of it) and go out in the failing batch.
    if (n == 1) std::this_thread::sleep_for(std::chrono::milliseconds(30));
    return inner_->write(b, sync);
  }
  status write_unlogged(kv_batch& b) override { return inner_->write_unlogged(b); }
  std::unique_ptr<kv_iterator> scan(cf f, std::string lo, std::string hi) override {
    return inner_->scan(f, std::move(lo), std::move(hi));
  }
  status last(cf f, std::string_view lo, std::string_view hi, std::string* k, std::string* v) override {
    return inner_->last(f, lo, hi, k, v);
  }
  bool read_only() const override { return false; }

 private:
  std::shared_ptr<kv_store> inner_;
  std::atomic<int> left_;
};

}  // namespace crmd::test
