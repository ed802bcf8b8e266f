// A tiny blocking HTTP/1.1 server on 127.0.0.1 for tests that stand in for a
// provider (the fake Stripe): one thread accepts and serves one connection at
// a time, one request per connection (answers carry Connection: close).
//
// It reads the request line, the headers and a Content-Length body (no
// chunked bodies, no keep-alive), records the request, and answers what the
// handler returns: any body bytes, with Content-Length, plus any extra headers
// (a Location for a redirect, say). The handler runs on the server thread.
// The destructor stops the accept loop and joins the thread. Loopback only: it never talks
// to anything but the test's own client.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace crmd::test {

struct fake_request {
  std::string method;
  std::string target;                         // "/v1/payment_intents?x=1", as sent
  std::map<std::string, std::string> headers;  // names lower-cased; the last of repeated ones
  std::string body;

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct fake_response {
  int status = 200;
  std::string body;  // any bytes (binary is fine)
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers = {};  // extra response headers, e.g. {"Location", url}
};

class fake_http_server {
 public:
  using handler = std::function<fake_response(const fake_request&)>;

  explicit fake_http_server(handler h) : handler_(std::move(h)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;  // ephemeral
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        ::pipe2(wake_, O_CLOEXEC) != 0)
      std::abort();  // a test cannot run without its server
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }

  ~fake_http_server() {
    char b = 1;
    (void)!::write(wake_[1], &b, 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  fake_http_server(const fake_http_server&) = delete;
  fake_http_server& operator=(const fake_http_server&) = delete;

  uint16_t port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Every request received so far, in arrival order.
  std::vector<fake_request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  static constexpr size_t max_head_bytes = 64 * 1024;
  static constexpr size_t max_body_bytes = 4 * 1024 * 1024;

  void run() {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents) return;
      if (!(fds[0].revents & POLLIN)) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      timeval tv{5, 0};  // a stuck client cannot hold the server (or the destructor) forever
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      serve(fd);
      ::close(fd);
    }
  }

  void serve(int fd) {
    std::string in;
    size_t head_end;
    while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
      if (in.size() > max_head_bytes || !read_some(fd, in)) return;
    }
    fake_request req;
    if (!parse_head(in.substr(0, head_end), req)) return answer(fd, {400, "bad request", "text/plain"});
    size_t length = 0;
    if (auto cl = req.headers.find("content-length"); cl != req.headers.end()) {
      char* end = nullptr;
      unsigned long long n = std::strtoull(cl->second.c_str(), &end, 10);
      if (cl->second.empty() || *end != '\0' || n > max_body_bytes)
        return answer(fd, {400, "bad content-length", "text/plain"});
      length = static_cast<size_t>(n);
    } else if (req.headers.count("transfer-encoding")) {
      return answer(fd, {411, "length required", "text/plain"});
    }
    req.body = in.substr(head_end + 4);
    while (req.body.size() < length)
      if (!read_some(fd, req.body)) return;
    req.body.resize(length);
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
    }
    fake_response res;
    try {
      res = handler_(req);
    } catch (...) {
      res = {500, "handler threw", "text/plain"};
    }
    answer(fd, res);
  }

  static bool read_some(int fd, std::string& out) {
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    out.append(buf, static_cast<size_t>(n));
    return true;
  }

  static bool parse_head(const std::string& head, fake_request& req) {
    size_t eol = head.find("\r\n");
    std::string line = head.substr(0, eol);
    size_t s1 = line.find(' '), s2 = line.rfind(' ');
    if (s1 == std::string::npos || s2 == s1 || line.compare(s2 + 1, 5, "HTTP/") != 0) return false;
    req.method = line.substr(0, s1);
    req.target = line.substr(s1 + 1, s2 - s1 - 1);
    while (eol != std::string::npos) {
      size_t start = eol + 2;
      eol = head.find("\r\n", start);
      std::string h = head.substr(start, eol == std::string::npos ? std::string::npos : eol - start);
      size_t colon = h.find(':');
      if (colon == std::string::npos || colon == 0) return false;
      std::string name = h.substr(0, colon), value = h.substr(colon + 1);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(value.begin());
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
      req.headers[name] = value;
    }
    return true;
  }

  static void answer(int fd, const fake_response& r) {
    std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) +
                      "\r\nContent-Type: " + r.content_type +
                      "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\nConnection: close\r\n";
    for (const auto& [name, value] : r.headers) out += name + ": " + value + "\r\n";
    out += "\r\n" + r.body;
    size_t sent = 0;
    while (sent < out.size()) {
      ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  static const char* reason_phrase(int status) {
    switch (status) {
      case 200: return "OK";
      case 302: return "Found";
      case 400: return "Bad Request";
      case 401: return "Unauthorized";
      case 402: return "Payment Required";
      case 403: return "Forbidden";
      case 404: return "Not Found";
      case 409: return "Conflict";
      case 411: return "Length Required";
      case 429: return "Too Many Requests";
      case 500: return "Internal Server Error";
      case 503: return "Service Unavailable";
      default: return "Status";
    }
  }

  handler handler_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::vector<fake_request> requests_;
  std::thread thread_;
};

}  // namespace crmd::test
