// Live updates for /api/stream: one thread follows the log and sends each
// tenant's changes to that tenant's open streams as Server-Sent Events,
//   id: <log position>
//   event: lead.created
//   data: {"type":"lead.created","id":"L7","position":123}
// A stream that reconnects with Last-Event-ID first gets what it missed
// (read back from the log), then the live ones. Idle streams get a comment
// heartbeat. Streams only ever see events of their own tenant.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/http_types.hpp"

namespace crmd {
class event_log;
}

namespace crmd::http {

struct live_options {
  std::chrono::milliseconds heartbeat{5000};  // comment line on quiet streams
  uint64_t max_replay = 100'000;              // further back than this, a reconnect starts live
};

class live_hub {
 public:
  live_hub(event_log& log, live_options o = {});
  ~live_hub();
  void start();
  void stop();  // closes every stream
  // Adds a stream for `tenant`; events after `after` (0: only new ones) are
  // sent. `allowed` is asked at every heartbeat; once it says no (token
  // expired or revoked, user deleted, tenant suspended) the stream closes.
  void subscribe(const std::string& tenant, std::shared_ptr<stream_writer> out, uint64_t after,
                 std::function<bool()> allowed = {});
  size_t streams() const;
  // Open streams per tenant (admin stats): one pass over the streams.
  std::map<std::string, size_t> streams_by_tenant() const;

 private:
  struct subscriber {
    std::string tenant;
    std::shared_ptr<stream_writer> out;
    uint64_t after = 0;
    std::function<bool()> allowed;
  };
  void run();
  void deliver(uint64_t from, uint64_t to, std::vector<subscriber>& to_whom);

  event_log& log_;
  live_options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<subscriber> pending_, live_;
  uint64_t head_ = 0;    // newest position the log reported
  uint64_t cursor_ = 0;  // newest position delivered
  bool stopping_ = false;
  uint64_t subscription_ = 0;
  std::thread thread_;
};

// The SSE name of an event type ("lead.created"), or empty if not streamed.
std::string live_event_name(std::string_view type);

}  // namespace crmd::http
