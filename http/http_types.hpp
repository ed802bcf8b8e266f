// HTTP as crmd's handlers see it: plain structs, no RESTinio. The server
// (server.cpp, the only RESTinio translation unit) turns each request into
// an http_request and completes it through a responder.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crmd::http {

struct http_request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded path, no query
  std::string query;   // raw query string, without '?'
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // peer address

  // Case-insensitive header lookup; empty when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

struct http_response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// A response sent in pieces over time (Server-Sent Events). Thread-safe.
class stream_writer {
 public:
  virtual ~stream_writer() = default;
  // Queues `chunk` for the client; false once the stream is closed (by
  // close(), the client going away, or the server stopping). When the client
  // lags, `wait` blocks the writer (exports); without it the stream is
  // closed instead (live updates: one slow reader must not hold up others).
  virtual bool write(std::string chunk, bool wait = true) = 0;
  virtual void close() = 0;
  virtual bool open() const = 0;
};

// Completes one request. Thread-safe; the first send() wins, later ones are
// ignored (a handler racing its own timeout can answer at most once).
class responder {
 public:
  virtual ~responder() = default;
  virtual bool send(http_response r) = 0;
  virtual bool answered() const = 0;
  // Answers with a stream instead (status and headers now, the body in
  // pieces); nullptr when this responder cannot stream or already answered.
  virtual std::shared_ptr<stream_writer> start_stream(int status,
                                                      std::vector<std::pair<std::string, std::string>> headers) {
    return nullptr;
  }
};

using request_handler = std::function<void(http_request, std::shared_ptr<responder>)>;

struct server_options {
  std::string bind = "127.0.0.1";  // CRMD_BIND
  uint16_t port = 8080;            // CRMD_PORT; 0 picks a free port
  size_t threads = 2;              // I/O threads
  // RESTinio drops a connection whose body exceeds its own limit without an
  // answer; crmd's limit (checked in the handler, 413) is kept well below it.
  size_t transport_body_limit = 8u << 20;
  // A request not answered in time gets 503 from the server itself.
  std::chrono::milliseconds answer_timeout = std::chrono::seconds(10);
  // The body of that 503 (JSON on /api, set by the caller).
  std::function<http_response(const http_request&)> timeout_response;
  // Sent as X-Revision on the answers the server makes itself.
  std::string revision;
};

class http_server {
 public:
  virtual ~http_server() = default;
  virtual uint16_t port() const = 0;
  // Stops accepting, waits up to `grace` for answers still owed, closes.
  virtual void stop(std::chrono::milliseconds grace) = 0;
};

// Throws nothing: a bind failure is an error value.
std::unique_ptr<http_server> start_server(const server_options& o, request_handler h, std::string* error);

}  // namespace crmd::http
