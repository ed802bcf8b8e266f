// crmd's HTTP API on plain types (http_types.hpp): routes, authentication,
// JSON errors, read-your-writes. No RESTinio, no CAF.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "http/http_types.hpp"

namespace crmd {
class runtime;
class projection_runner;
class kv_store;
class event_log;
}  // namespace crmd

namespace crmd::http {

struct api_options {
  std::string admin_token;  // CRMD_ADMIN_TOKEN (or generated into the data directory)
  std::string revision;     // the build's git revision, sent as X-Revision
  // CRMD_MAX_BODY_BYTES: larger bodies get 413 JSON.
  size_t max_body = 1u << 20;
  // CRMD_CONSISTENCY_WAIT_MS: how long a read waits for the views to include
  // the caller's acknowledged writes before answering 503.
  std::chrono::milliseconds consistency_wait = std::chrono::milliseconds(2000);
  bool log_rejections = true;  // one stderr line per 4xx/5xx
};

struct api_deps {
  runtime& rt;
  projection_runner& runner;
  kv_store& views;
  event_log& log;
};

struct route_info {
  std::string method, pattern;
  bool authenticated;
};

class api {
 public:
  api(api_deps deps, api_options options);
  ~api();
  void handle(http_request req, std::shared_ptr<responder> out);
  // The 503 the server sends when a request is not answered in time.
  http_response timeout_response(const http_request& req) const;
  std::vector<route_info> routes() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace crmd::http
