// Starts the real `crmd serve` on an ephemeral loopback port for a test.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

namespace crmd::test {

constexpr const char* test_token = "test-operator-token-0123456789";

class crmd_server {
 public:
  explicit crmd_server(std::string data_dir, std::vector<std::pair<std::string, std::string>> env = {})
      : data_(std::move(data_dir)), env_(std::move(env)) {}
  ~crmd_server() { kill_now(); }
  // From the next start(), crmd's stderr (its log) goes to `path` too, for
  // tests that check what it logs.
  void log_to(std::string path) { log_file_ = std::move(path); }

  // Starts and waits for "listening on"; returns false with the output so far.
  bool start(std::string* output = nullptr) {
    ::setenv("CRMD_ADMIN_TOKEN", test_token, 1);
    // Tests hash passwords cheaply unless they say otherwise (production
    // refuses fewer than 600000 rounds).
    ::setenv("CRMD_KDF_ITERATIONS", "1000", 1);
    for (auto& [k, v] : env_) ::setenv(k.c_str(), v.c_str(), 1);
    if (log_file_.empty()) {
      child_ = spawn_piped({CRMD_BINARY, "serve", "--data-dir", data_, "--port", "0"});
    } else {  // crmd's stderr appended to the file; exec, so the pid is crmd's
      child_ = spawn_piped({"/bin/sh", "-c", "exec \"$0\" serve --data-dir \"$1\" --port 0 2>>\"$2\"", CRMD_BINARY,
                            data_, log_file_});
    }
    for (auto& [k, v] : env_) ::unsetenv(k.c_str());
    ::unsetenv("CRMD_ADMIN_TOKEN");
    ::unsetenv("CRMD_KDF_ITERATIONS");
    std::string out = read_until(child_.out_fd, "listening on", std::chrono::seconds(30));
    if (output) *output = out;
    auto at = out.find("listening on http://");
    if (at == std::string::npos) return false;
    auto colon = out.find(':', at + 20);
    port_ = std::atoi(out.c_str() + colon + 1);
    return port_ > 0;
  }
  void kill_now() {
    if (child_.pid > 0) {
      ::kill(child_.pid, SIGKILL);
      ::waitpid(child_.pid, nullptr, 0);
      ::close(child_.out_fd);
      child_.pid = -1;
    }
  }
  // SIGTERM and wait; returns the exit code (-signal if killed).
  int terminate() {
    if (child_.pid <= 0) return -1;
    ::kill(child_.pid, SIGTERM);
    int st = 0;
    ::waitpid(child_.pid, &st, 0);
    ::close(child_.out_fd);
    child_.pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  http_result get(const std::string& path, std::vector<std::string> h = {auth()}) { return http("GET", url(path), {}, h); }
  http_result post(const std::string& path, const std::string& body, std::vector<std::string> h = {auth(), json()}) {
    return http("POST", url(path), body, h);
  }
  http_result put(const std::string& path, const std::string& body) { return http("PUT", url(path), body, {auth(), json()}); }
  http_result del(const std::string& path) { return http("DELETE", url(path), {}, {auth()}); }

  static std::string auth() { return std::string("Authorization: Bearer ") + test_token; }
  static std::string bearer(const std::string& token) { return "Authorization: Bearer " + token; }
  http_result login(const std::string& email, const std::string& password, std::vector<std::string> extra = {}) {
    extra.push_back(json());
    return http("POST", url("/api/auth/login"),
                "{\"email\":\"" + email + "\",\"password\":\"" + password + "\"}", extra);
  }
  const std::string& data_dir() const { return data_; }
  static std::string json() { return "Content-Type: application/json"; }

 private:
  std::string log_file_;
  std::string data_;
  std::vector<std::pair<std::string, std::string>> env_;
  child child_;
  int port_ = 0;
};

}  // namespace crmd::test
