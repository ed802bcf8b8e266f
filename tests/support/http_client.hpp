// A small blocking HTTP client on libcurl for end-to-end tests (loopback only).
#pragma once

#include <curl/curl.h>

#include <map>
#include <string>
#include <vector>

namespace crmd::test {

struct http_result {
  long status = 0;  // 0: no answer (connection refused or closed)
  std::map<std::string, std::string> headers;  // names lower-cased; the last of repeated ones
  std::vector<std::string> set_cookies;        // every Set-Cookie line
  std::string body;

  // The value the response set for cookie `name` (empty if none).
  std::string cookie(const std::string& name) const {
    for (auto& c : set_cookies)
      if (c.rfind(name + "=", 0) == 0) return c.substr(name.size() + 1, c.find(';') - name.size() - 1);
    return {};
  }
  // The whole Set-Cookie line for `name`.
  std::string cookie_line(const std::string& name) const {
    for (auto& c : set_cookies)
      if (c.rfind(name + "=", 0) == 0) return c;
    return {};
  }
};

inline size_t collect_body(char* p, size_t s, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, s * n);
  return s * n;
}

inline size_t collect_header(char* p, size_t s, size_t n, void* out) {
  std::string line(p, s * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon), value = line.substr(colon + 1);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (!value.empty() && (value.front() == ' ')) value.erase(value.begin());
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    auto* r = static_cast<http_result*>(out);
    if (name == "set-cookie") r->set_cookies.push_back(value);
    r->headers[name] = value;
  }
  return s * n;
}

inline http_result http(const std::string& method, const std::string& url, const std::string& body = {},
                        const std::vector<std::string>& headers = {}, long timeout_ms = 15000) {
  http_result r;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_slist* hs = nullptr;
  for (auto& h : headers) hs = curl_slist_append(hs, h.c_str());
  hs = curl_slist_append(hs, "Expect:");  // no 100-continue dance
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(hs);
  curl_easy_cleanup(c);
  return r;
}

}  // namespace crmd::test
