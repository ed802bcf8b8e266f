// A Server-Sent Events client for end-to-end tests (/api/stream): reads on
// its own thread until destroyed.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace crmd::test {

// Reads an event stream on its own thread until stopped (or 20 s pass).
class sse_client {
 public:
  sse_client(const std::string& url, std::vector<std::string> headers) {
    thread_ = std::thread([this, url, headers] {
      CURL* c = curl_easy_init();
      curl_slist* hs = nullptr;
      for (auto& h : headers) hs = curl_slist_append(hs, h.c_str());
      curl_easy_setopt(c, CURLOPT_URL, url.c_str());
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
      curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
      curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* self) -> size_t {
        auto* me = static_cast<sse_client*>(self);
        if (me->stop_) return 0;  // aborts the transfer
        std::lock_guard lock(me->mu_);
        me->text_.append(p, s * n);
        return s * n;
      });
      curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
      curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, +[](void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
        return static_cast<sse_client*>(self)->stop_.load() ? 1 : 0;
      });
      curl_easy_setopt(c, CURLOPT_XFERINFODATA, this);
      curl_easy_perform(c);
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status_);
      curl_slist_free_all(hs);
      curl_easy_cleanup(c);
      done_ = true;
    });
  }
  ~sse_client() {
    stop_ = true;
    thread_.join();
  }
  std::string text() {
    std::lock_guard lock(mu_);
    return text_;
  }
  // Waits (up to 10 s) until the stream has shown `needle`.
  bool wait_for(const std::string& needle) {
    for (int i = 0; i < 200; ++i) {
      if (text().find(needle) != std::string::npos) return true;
      if (done_) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  bool finished() const { return done_; }
  long status() const { return status_; }

 private:
  std::mutex mu_;
  std::string text_;
  std::atomic<bool> stop_{false}, done_{false};
  long status_ = 0;
  std::thread thread_;
};

}  // namespace crmd::test
