// Internal helpers shared by the recording pipeline's libcurl clients
// (recording_fetch, transcriber, summarizer). Not a public API: include it
// from connectors/*.cpp only.
//
// Nothing here throws on its own; callers keep their "errors are values"
// contract by catching what the standard library may still throw (bad_alloc).
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace crmd::connectors::detail {

// curl_global_init once, before the first handle (libcurl 7.84+ with the
// "threadsafe" feature would tolerate races, older builds would not).
void init_curl_once();

// RAII owners: one handle per call, freed on every path.
struct easy_deleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct slist_deleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct mime_deleter {
  void operator()(curl_mime* m) const { curl_mime_free(m); }
};
using easy_ptr = std::unique_ptr<CURL, easy_deleter>;
using slist_ptr = std::unique_ptr<curl_slist, slist_deleter>;
using mime_ptr = std::unique_ptr<curl_mime, mime_deleter>;

easy_ptr new_easy();
// Appends one header line; false if curl could not allocate it.
bool add_header(slist_ptr& list, const std::string& line);

// Printable ASCII without spaces: nothing that could end or split a header line.
bool header_safe(std::string_view s);

// "http://..." or "https://..." with something after the scheme and no
// spaces or control characters.
bool is_http_url(std::string_view s);

// base (trailing slashes dropped) + path, unless base already ends with path.
std::string with_path(std::string base, std::string_view path);

// A response body kept in memory up to `limit` bytes; beyond that the
// transfer fails (CURLE_WRITE_ERROR) and `overflow` is set.
struct bounded_body {
  explicit bounded_body(size_t max) : limit(max) {}
  std::string data;
  size_t limit;
  bool overflow = false;
};
size_t collect_bounded(char* p, size_t size, size_t n, void* body);  // CURLOPT_WRITEFUNCTION for bounded_body

// Why a transfer failed, for messages: curl's error buffer when it has
// text, else curl_easy_strerror.
std::string transport_detail(CURLcode rc, const char* error_buffer);

// `text` with every occurrence of `secret` replaced by "[redacted]" (a
// belt-and-braces pass over anything that goes into a message).
std::string redact(std::string text, const std::string& secret);

// Sets the options every pipeline call shares: url, http(s) only (redirects
// too), timeout, no signals, the error buffer.
void common_options(CURL* c, const std::string& url, long timeout_ms, char* error_buffer);

// What one request got back (http_request below).
struct http_answer {
  bool started = false;  // false: curl could not even build the request
  CURLcode rc = CURLE_OK;
  long code = 0;
  std::string body;       // up to the limit
  bool overflow = false;  // the answer was larger than the limit
  std::string transport;  // transport_detail() when rc != CURLE_OK
};

// One JSON-speaking request with common_options(), no redirects followed and
// no 100-continue: a POST of `post_body` (GET when null), `headers` as given
// ("Name: value" lines). The JSON clients (bridge, LLM, Graph) share it; each
// maps the answer to its own errors.
http_answer http_request(const std::string& url, const std::vector<std::string>& headers,
                         const std::string* post_body, long timeout_ms, size_t max_answer);

}  // namespace crmd::connectors::detail
