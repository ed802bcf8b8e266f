#include "app/server_file.hpp"

#include <curl/curl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

namespace crmd::cli {

status write_server_file(const std::string& dir, const running_server& s) {
  std::string tmp = dir + "/serve.json.tmp", path = dir + "/serve.json";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << nlohmann::json{{"pid", s.pid}, {"url", s.url}}.dump() << "\n";
    if (!out) return {errc::io_error, "cannot write " + tmp};
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return {errc::io_error, "cannot write " + path};
  return status::ok();
}

void remove_server_file(const std::string& dir) { std::remove((dir + "/serve.json").c_str()); }

std::optional<running_server> find_server(const std::string& dir) {
  std::ifstream in(dir + "/serve.json");
  if (!in) return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j["pid"].is_number_integer() || !j["url"].is_string()) return std::nullopt;
  running_server s{j["pid"].get<long>(), j["url"].get<std::string>()};
  if (s.pid <= 0 || (::kill(static_cast<pid_t>(s.pid), 0) != 0 && errno == ESRCH)) return std::nullopt;
  return s;
}

namespace {
size_t collect(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}
}  // namespace

result<std::string> operator_get(const running_server& s, const std::string& path, const std::string& token,
                                 long* http_status) {
  return operator_request(s, "GET", path, token, "", http_status);
}

result<std::string> operator_request(const running_server& s, const std::string& method, const std::string& path,
                                     const std::string& token, const std::string& json_body, long* http_status) {
  CURL* c = curl_easy_init();
  if (!c) return status{errc::io_error, "cannot start libcurl"};
  std::string body, url = s.url + path, auth = "Authorization: Bearer " + token;
  curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
  if (method != "GET") {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(json_body.size()));
  }
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, http_status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) return status{errc::io_error, url + ": " + curl_easy_strerror(rc)};
  return body;
}

std::string operator_token(const std::string& data_dir) {
  if (const char* env = std::getenv("CRMD_ADMIN_TOKEN"); env && *env) return env;
  std::string token;
  std::getline(std::ifstream(data_dir + "/admin_token"), token);
  return token;
}

}  // namespace crmd::cli
