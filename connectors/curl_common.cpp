#include "connectors/curl_common.hpp"

#include <mutex>

namespace crmd::connectors::detail {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

easy_ptr new_easy() {
  init_curl_once();
  return easy_ptr(curl_easy_init());
}

bool add_header(slist_ptr& list, const std::string& line) {
  curl_slist* grown = curl_slist_append(list.get(), line.c_str());
  if (!grown) return false;  // the old list is still owned by `list`
  (void)list.release();
  list.reset(grown);
  return true;
}

bool header_safe(std::string_view s) {
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

bool is_http_url(std::string_view s) {
  size_t scheme = s.rfind("https://", 0) == 0 ? 8 : s.rfind("http://", 0) == 0 ? 7 : 0;
  if (scheme == 0 || s.size() <= scheme) return false;
  return header_safe(s);
}

std::string with_path(std::string base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.size() >= path.size() && base.compare(base.size() - path.size(), path.size(), path) == 0) return base;
  return base.append(path);
}

size_t collect_bounded(char* p, size_t size, size_t n, void* out) {
  auto* body = static_cast<bounded_body*>(out);
  if (body->data.size() + size * n > body->limit) {
    body->overflow = true;
    return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
  }
  body->data.append(p, size * n);
  return size * n;
}

std::string transport_detail(CURLcode rc, const char* error_buffer) {
  return error_buffer && error_buffer[0] ? std::string(error_buffer) : std::string(curl_easy_strerror(rc));
}

std::string redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 10))
    text.replace(at, secret.size(), "[redacted]");
  return text;
}

void common_options(CURL* c, const std::string& url, long timeout_ms, char* error_buffer) {
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM from a worker thread
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
}

http_answer http_request(const std::string& url, const std::vector<std::string>& headers,
                         const std::string* post_body, long timeout_ms, size_t max_answer) {
  http_answer a;
  slist_ptr list;  // declared before the easy handle, so freed after it
  for (auto& h : headers)
    if (!add_header(list, h)) return a;
  if (!add_header(list, "Expect:")) return a;  // no 100-continue round trip
  easy_ptr c = new_easy();
  if (!c) return a;
  a.started = true;
  bounded_body body(max_answer);
  char error_buffer[CURL_ERROR_SIZE] = {0};
  common_options(c.get(), url, timeout_ms, error_buffer);
  curl_easy_setopt(c.get(), CURLOPT_FOLLOWLOCATION, 0L);
  if (post_body) {
    curl_easy_setopt(c.get(), CURLOPT_POST, 1L);
    curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, post_body->data());
    curl_easy_setopt(c.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post_body->size()));
  }
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, collect_bounded);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &body);
  a.rc = curl_easy_perform(c.get());
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &a.code);
  a.overflow = body.overflow;
  a.body = std::move(body.data);
  if (a.rc != CURLE_OK) a.transport = transport_detail(a.rc, error_buffer);
  return a;
}

}  // namespace crmd::connectors::detail
