// The RESTinio server: the only translation unit that compiles RESTinio.
// One catch-all handler hands every request to crmd's router; the response
// is completed later from whatever thread has the answer.
#include <pthread.h>
#include <restinio/all.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "http/http_types.hpp"
#include "http/url.hpp"

namespace crmd::http {

std::string http_request::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return v;
  return {};
}

bool http_request::has_header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return true;
  return false;
}

namespace {

struct traits : restinio::default_traits_t {
  static constexpr bool use_connection_count_limiter = true;
};
using server_t = restinio::http_server_t<traits>;

struct shared_state {
  std::atomic<int64_t> owed{0};  // requests accepted and not yet answered
  std::atomic<bool> draining{false};
  std::mutex mu;
  std::condition_variable cv;
  // Open streams: closed when the server stops (they are never "owed").
  std::mutex streams_mu;
  std::vector<std::weak_ptr<stream_writer>> streams;
};

// Chunked output for a stream. RESTinio's response builder may be used from
// any thread; the mutex keeps chunks in order.
class restinio_stream : public stream_writer {
 public:
  using builder_t = restinio::response_builder_t<restinio::chunked_output_t>;
  explicit restinio_stream(builder_t b) : builder_(std::move(b)) {}
  bool write(std::string chunk, bool wait) override {
    {
      // Backpressure: a writer (a CSV export, say) waits while the client
      // still has 8 chunks to take, so a slow client never makes crmd buffer
      // a whole export. A client that takes nothing for 30 s is dropped.
      std::unique_lock lock(flow_->mu);
      if (!flow_->cv.wait_for(lock, wait ? std::chrono::seconds(30) : std::chrono::seconds(0),
                              [&] { return flow_->in_flight < 8 || flow_->closed; }))
        flow_->closed = true;
      if (flow_->closed) return false;
      ++flow_->in_flight;
    }
    std::lock_guard order(write_mu_);  // chunks leave in the order written
    builder_.append_chunk(std::move(chunk));
    builder_.flush([flow = flow_](const asio::error_code& ec) {
      std::lock_guard l(flow->mu);
      --flow->in_flight;
      if (ec) flow->closed = true;  // the client is gone
      flow->cv.notify_all();
    });
    return true;
  }
  void close() override {
    {
      std::lock_guard l(flow_->mu);
      if (flow_->done) return;
      flow_->done = flow_->closed = true;
      flow_->cv.notify_all();
    }
    std::lock_guard order(write_mu_);
    try {
      builder_.done();
    } catch (const std::exception&) {
      // The connection is gone already.
    }
  }
  bool open() const override {
    std::lock_guard l(flow_->mu);
    return !flow_->closed;
  }
  ~restinio_stream() override { close(); }

 private:
  struct flow {
    std::mutex mu;
    std::condition_variable cv;
    int in_flight = 0;
    bool closed = false, done = false;
  };
  std::mutex write_mu_;
  builder_t builder_;
  std::shared_ptr<flow> flow_ = std::make_shared<flow>();
};

class restinio_responder : public responder {
 public:
  restinio_responder(restinio::request_handle_t req, std::shared_ptr<shared_state> st, asio::io_context& ioc)
      : req_(std::move(req)), st_(std::move(st)), ioc_(ioc) {}

  bool send(http_response r) override {
    if (done_.exchange(true)) return false;
    {
      // arm() and this may run on different threads; asio timers are not
      // safe for concurrent use.
      std::lock_guard lock(timer_mu_);
      if (timer_) timer_->cancel();
    }
    try {
      auto resp = req_->create_response(restinio::http_status_line_t{
          restinio::http_status_code_t{static_cast<std::uint16_t>(r.status)}, reason(r.status)});
      for (auto& [k, v] : r.headers) resp.append_header(k, v);
      resp.set_body(std::move(r.body));
      resp.done();
    } catch (const std::exception& e) {
      // The connection is gone; nothing more can be said to this client.
      std::fprintf(stderr, "crmd http: response not sent: %s\n", e.what());
    }
    if (--st_->owed == 0) st_->cv.notify_all();
    return true;
  }
  bool answered() const override { return done_.load(); }

  std::shared_ptr<stream_writer> start_stream(int status,
                                              std::vector<std::pair<std::string, std::string>> headers) override {
    if (done_.exchange(true)) return nullptr;
    {
      std::lock_guard lock(timer_mu_);
      if (timer_) timer_->cancel();
    }
    std::shared_ptr<restinio_stream> out;
    try {
      auto resp = req_->create_response<restinio::chunked_output_t>(restinio::http_status_line_t{
          restinio::http_status_code_t{static_cast<std::uint16_t>(status)}, reason(status)});
      for (auto& [k, v] : headers) resp.append_header(k, v);
      resp.flush();  // the status line and headers go out now
      out = std::make_shared<restinio_stream>(std::move(resp));
      std::lock_guard lock(st_->streams_mu);
      st_->streams.erase(std::remove_if(st_->streams.begin(), st_->streams.end(),
                                        [](const std::weak_ptr<stream_writer>& w) { return w.expired(); }),
                         st_->streams.end());
      st_->streams.push_back(out);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "crmd http: stream not started: %s\n", e.what());
    }
    if (--st_->owed == 0) st_->cv.notify_all();
    return out;
  }

  void arm(std::chrono::milliseconds after, std::function<void()> on_timeout) {
    std::lock_guard lock(timer_mu_);
    if (done_.load()) return;  // answered meanwhile: no timer needed
    // Made only for answers that are not sent at once: most are.
    timer_.emplace(ioc_);
    timer_->expires_after(after);
    timer_->async_wait([fn = std::move(on_timeout)](const asio::error_code& ec) {
      if (!ec) fn();
    });
  }

 private:
  static std::string reason(int s) {
    switch (s) {
      case 200: return "OK";
      case 201: return "Created";
      case 202: return "Accepted";
      case 204: return "No Content";
      case 400: return "Bad Request";
      case 401: return "Unauthorized";
      case 403: return "Forbidden";
      case 404: return "Not Found";
      case 405: return "Method Not Allowed";
      case 409: return "Conflict";
      case 413: return "Payload Too Large";
      case 415: return "Unsupported Media Type";
      case 422: return "Unprocessable Entity";
      case 429: return "Too Many Requests";
      case 500: return "Internal Server Error";
      case 503: return "Service Unavailable";
      case 504: return "Gateway Timeout";
    }
    return "Status";
  }
  restinio::request_handle_t req_;
  std::shared_ptr<shared_state> st_;
  asio::io_context& ioc_;
  std::mutex timer_mu_;
  std::optional<asio::steady_timer> timer_;
  std::atomic<bool> done_{false};
};

class restinio_server : public http_server {
 public:
  restinio_server(const server_options& o, request_handler h) : opts_(o), handler_(std::move(h)) {}

  bool start(std::string* error) {
    auto st = state_;
    auto* ioc = &ioc_;
    auto handler = handler_;
    auto opts = opts_;
    server_ = std::make_unique<server_t>(
        restinio::external_io_context(ioc_), [&](auto& settings) {
          settings.address(opts_.bind)
              .port(opts_.port)
              .max_parallel_connections(4096)
              .incoming_http_msg_limits(restinio::incoming_http_msg_limits_t{}.max_body_size(opts_.transport_body_limit))
              .handle_request_timeout(opts_.answer_timeout + std::chrono::seconds(5))
              .acceptor_post_bind_hook([this](asio::ip::tcp::acceptor& a) { port_ = a.local_endpoint().port(); })
              .request_handler([st, ioc, handler, opts](restinio::request_handle_t req) {
                return accept(std::move(req), st, *ioc, handler, opts);
              });
        });
    guard_.emplace(asio::make_work_guard(ioc_));
    for (size_t i = 0; i < std::max<size_t>(1, opts_.threads); ++i) threads_.emplace_back([this] {
        pthread_setname_np(pthread_self(), "crmd.http");  // names threads in perf and top
        ioc_.run();
      });
    std::promise<std::string> opened;
    server_->open_async([&] { opened.set_value(""); },
                        [&](std::exception_ptr ex) {
                          try {
                            std::rethrow_exception(ex);
                          } catch (const std::exception& e) {
                            opened.set_value(e.what());
                          }
                        });
    std::string err = opened.get_future().get();
    if (!err.empty()) {
      *error = "cannot listen on " + opts_.bind + ":" + std::to_string(opts_.port) + ": " + err;
      // Never opened, and nothing left to run a close: stop() must not wait
      // for one (it did, and a busy port hung start-up instead of failing it).
      stopped_ = true;
      shutdown_threads();
      return false;
    }
    return true;
  }

  ~restinio_server() override { stop(std::chrono::milliseconds(0)); }

  uint16_t port() const override { return port_; }

  void stop(std::chrono::milliseconds grace) override {
    if (stopped_.exchange(true)) return;
    state_->draining = true;
    {
      std::lock_guard lock(state_->streams_mu);
      for (auto& w : state_->streams)
        if (auto s = w.lock()) s->close();
      state_->streams.clear();
    }
    {
      std::unique_lock lock(state_->mu);
      state_->cv.wait_for(lock, grace, [&] { return state_->owed.load() <= 0; });
    }
    std::promise<void> closed;
    server_->close_async([&] { closed.set_value(); }, [&](std::exception_ptr) { closed.set_value(); });
    closed.get_future().wait();
    shutdown_threads();
  }

 private:
  // Headers of the answers the server makes itself (draining, failures).
  static std::vector<std::pair<std::string, std::string>> own_headers(
      const http_request& r, const server_options& opts, std::vector<std::pair<std::string, std::string>> extra) {
    std::string id = r.header("X-Request-Id");
    if (id.empty() || id.size() > 128) id = "server-" + std::to_string(std::rand());
    std::vector<std::pair<std::string, std::string>> h{{"Content-Type", "application/json; charset=utf-8"},
                                                       {"X-Request-Id", id}, {"X-Revision", opts.revision}};
    for (auto& e : extra) h.push_back(std::move(e));
    return h;
  }

  static restinio::request_handling_status_t accept(restinio::request_handle_t req, std::shared_ptr<shared_state> st,
                                                    asio::io_context& ioc, const request_handler& handler,
                                                    const server_options& opts) {
    // Nothing may escape to RESTinio: it would close the connection unanswered.
    st->owed++;
    auto resp = std::make_shared<restinio_responder>(req, st, ioc);
    try {
      http_request r;
      r.method = req->header().method().c_str();
      r.path = percent_decode(req->header().path(), false);
      r.query = std::string(req->header().query());
      for (auto& f : req->header()) r.headers.emplace_back(f.name(), f.value());
      r.body = req->body();
      r.remote = req->remote_endpoint().address().to_string();
      if (st->draining) {
        resp->send({503, own_headers(r, opts, {{"Retry-After", "1"}}),
                    R"({"ok":false,"error":"shutting_down","message":"crmd is stopping"})"});
        return restinio::request_accepted();
      }
      auto method = r.method;
      std::string request_id = r.header("X-Request-Id");
      handler(std::move(r), resp);
      // Most answers are given synchronously; only a request still owed an
      // answer gets a timer (a timer per request costs more than /health).
      if (opts.timeout_response && !resp->answered()) {
        std::weak_ptr<restinio_responder> weak = resp;
        auto copy = std::make_shared<http_request>();
        copy->method = std::move(method);
        if (!request_id.empty()) copy->headers.emplace_back("X-Request-Id", std::move(request_id));
        auto make = opts.timeout_response;
        resp->arm(opts.answer_timeout, [weak, copy, make] {
          if (auto p = weak.lock()) p->send(make(*copy));
        });
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "crmd http: handler failed: %s\n", e.what());
      resp->send({500, own_headers(http_request{}, opts, {}),
                  R"({"ok":false,"error":"internal","message":"unexpected error"})"});
    }
    return restinio::request_accepted();
  }

  void shutdown_threads() {
    guard_.reset();
    ioc_.stop();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

  server_options opts_;
  request_handler handler_;
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::unique_ptr<server_t> server_;
  std::vector<std::thread> threads_;
  std::shared_ptr<shared_state> state_ = std::make_shared<shared_state>();
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> stopped_{false};
};

}  // namespace

std::unique_ptr<http_server> start_server(const server_options& o, request_handler h, std::string* error) {
  auto s = std::make_unique<restinio_server>(o, std::move(h));
  if (!s->start(error)) return nullptr;
  return s;
}

}  // namespace crmd::http
