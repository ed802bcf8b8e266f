#include "connectors/recording_fetch.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <thread>

#include "connectors/curl_common.hpp"

namespace crmd::connectors {
namespace {

using namespace detail;

constexpr double max_backoff_ms = 30000;
constexpr long max_redirects = 5;
constexpr size_t max_error_body_bytes = 64 * 1024;  // error pages are read and dropped, up to this much

status invalid(const std::string& why) {
  return {errc::invalid_argument, "the recording request is not valid (" + why + ")", "invalid_request"};
}

status write_failed(const std::string& what, int err) {
  return {errc::io_error, "the recording could not be stored (" + what + ": " + std::strerror(err) + ")",
          "media_write_failed"};
}

status validate(const media_options& o, const std::string& url, const std::string& dest_path) {
  if (!is_http_url(url)) return invalid("url must be http:// or https:// without spaces");
  if (dest_path.empty() || dest_path.back() == '/') return invalid("dest_path must name a file");
  if (o.attempts < 1) return invalid("attempts must be at least 1");
  if (o.timeout_ms <= 0) return invalid("timeout_ms must be positive");
  if (o.first_backoff_ms < 0) return invalid("first_backoff_ms must not be negative");
  if (o.max_bytes == 0) return invalid("max_bytes must be positive");
  if (!o.account_sid.empty() && (!header_safe(o.account_sid) || o.account_sid.find(':') != std::string::npos))
    return invalid("malformed account sid");
  if (o.account_sid.empty() && !o.auth_token.empty()) return invalid("an auth token needs an account sid");
  if (!header_safe(o.auth_token)) return invalid("malformed auth token");
  return status::ok();
}

// The .part file: removed when the call fails, whatever the path out.
class part_file {
 public:
  explicit part_file(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  }
  ~part_file() {
    close();
    if (!committed_) ::unlink(path_.c_str());
  }
  part_file(const part_file&) = delete;
  part_file& operator=(const part_file&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  int close() {
    int rc = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return rc;
  }
  void committed() { committed_ = true; }

 private:
  std::string path_;
  int fd_ = -1;
  bool committed_ = false;
};

struct digest_deleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// Where one attempt's body goes: the .part file and the running SHA-256,
// but only for a 2xx answer; error pages are counted and dropped.
struct media_sink {
  CURL* curl = nullptr;
  int fd = -1;
  EVP_MD_CTX* digest = nullptr;
  uint64_t max_bytes = 0;
  uint64_t written = 0;
  size_t dropped = 0;
  bool too_large = false;
  int write_errno = 0;
};

size_t write_media(char* p, size_t size, size_t n, void* out) {
  auto* s = static_cast<media_sink*>(out);
  size_t len = size * n;
  long code = 0;
  curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code > 299) {
    s->dropped += len;
    return s->dropped > max_error_body_bytes ? 0 : len;
  }
  if (len > s->max_bytes - s->written) {
    s->too_large = true;
    return 0;
  }
  for (size_t done = 0; done < len;) {
    ssize_t w = ::write(s->fd, p + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      s->write_errno = w < 0 ? errno : EIO;
      return 0;
    }
    done += static_cast<size_t>(w);
  }
  if (EVP_DigestUpdate(s->digest, p, len) != 1) {
    s->write_errno = EIO;
    return 0;
  }
  s->written += len;
  return len;
}

enum class outcome { ok, retry, refused, too_large, disk };

struct attempt_result {
  outcome kind;
  std::string detail;  // "HTTP 404", curl's error text, ...
  int err = 0;         // errno for outcome::disk
};

bool retryable_status(long code) { return code == 404 || code == 429 || (code >= 500 && code <= 599); }

attempt_result attempt(const media_options& o, const std::string& url, part_file& part, EVP_MD_CTX* digest,
                       uint64_t& written) {
  if (::ftruncate(part.fd(), 0) != 0 || ::lseek(part.fd(), 0, SEEK_SET) != 0) return {outcome::disk, "truncate", errno};
  if (EVP_DigestInit_ex(digest, EVP_sha256(), nullptr) != 1) return {outcome::disk, "sha256", EIO};
  easy_ptr c = new_easy();
  if (!c) return {outcome::retry, "could not start an HTTP request"};

  media_sink sink;
  sink.curl = c.get();
  sink.fd = part.fd();
  sink.digest = digest;
  sink.max_bytes = o.max_bytes;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  common_options(c.get(), url, o.timeout_ms, error_buffer);
  // Never from https down to http; libcurl itself strips the credentials
  // when a redirect changes host, port or scheme.
  curl_easy_setopt(c.get(), CURLOPT_REDIR_PROTOCOLS_STR, url.rfind("https://", 0) == 0 ? "https" : "http,https");
  curl_easy_setopt(c.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c.get(), CURLOPT_MAXREDIRS, max_redirects);
  if (!o.account_sid.empty()) {
    curl_easy_setopt(c.get(), CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(c.get(), CURLOPT_USERNAME, o.account_sid.c_str());
    curl_easy_setopt(c.get(), CURLOPT_PASSWORD, o.auth_token.c_str());
  }
  auto cap = std::min<uint64_t>(o.max_bytes, static_cast<uint64_t>(std::numeric_limits<curl_off_t>::max()));
  curl_easy_setopt(c.get(), CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(cap));  // refuses an announced size early
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, write_media);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &sink);

  CURLcode rc = curl_easy_perform(c.get());
  long code = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
  written = sink.written;
  bool success_code = code >= 200 && code <= 299;

  if (sink.write_errno) return {outcome::disk, "write", sink.write_errno};
  if (sink.too_large || (rc == CURLE_FILESIZE_EXCEEDED && success_code))
    return {outcome::too_large, "more than " + std::to_string(o.max_bytes) + " bytes"};
  if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_TOO_MANY_REDIRECTS || rc == CURLE_URL_MALFORMAT)
    return {outcome::refused, transport_detail(rc, error_buffer)};
  if (code == 0) return {outcome::retry, transport_detail(rc, error_buffer)};
  std::string http = "HTTP " + std::to_string(code);
  if (success_code) {
    if (rc != CURLE_OK) return {outcome::retry, http + ", then " + transport_detail(rc, error_buffer)};
    if (sink.written == 0) return {outcome::retry, http + " with an empty body"};
    return {outcome::ok, http};
  }
  return {retryable_status(code) ? outcome::retry : outcome::refused, http};
}

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}

status sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return write_failed("open directory", errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? status::ok() : write_failed("fsync directory", err);
}

double unit_random() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

result<fetched_recording> fetch(const media_options& o, const std::string& url, const std::string& dest_path) {
  if (auto s = validate(o, url, dest_path); !s) return s;
  std::filesystem::path dest(dest_path);
  std::string dir = dest.has_parent_path() ? dest.parent_path().string() : std::string(".");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return write_failed("create directory", ec.value());

  part_file part(dest_path + ".part");
  if (part.fd() < 0) return write_failed("create", errno);
  std::unique_ptr<EVP_MD_CTX, digest_deleter> digest(EVP_MD_CTX_new());
  if (!digest) return write_failed("sha256", ENOMEM);

  auto sleep = o.sleep ? o.sleep : [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  fetched_recording got;
  attempt_result last{outcome::retry, "no attempt"};
  for (int i = 1; i <= o.attempts; ++i) {
    if (i > 1) sleep(media_backoff(o.first_backoff_ms, i - 1, unit_random()));
    got.attempts = i;
    last = attempt(o, url, part, digest.get(), got.bytes);
    if (last.kind != outcome::retry) break;
  }

  switch (last.kind) {
    case outcome::ok:
      break;
    case outcome::retry:
      return status{errc::io_error,
                    redact("the recording could not be fetched after " + std::to_string(got.attempts) +
                               " attempts (last: " + last.detail + ")",
                           o.auth_token),
                    "media_unavailable"};
    case outcome::refused:
      return status{errc::invalid_argument,
                    redact("the media server refused the recording request (" + last.detail + ")", o.auth_token),
                    "media_refused"};
    case outcome::too_large:
      return status{errc::io_error, "the recording is too large (" + last.detail + ")", "media_too_large"};
    case outcome::disk:
      return write_failed(last.detail, last.err);
  }

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_DigestFinal_ex(digest.get(), md, &md_len) != 1) return write_failed("sha256", EIO);
  if (::fsync(part.fd()) != 0) return write_failed("fsync", errno);
  if (part.close() != 0) return write_failed("close", errno);
  if (::rename(part.path().c_str(), dest_path.c_str()) != 0) return write_failed("rename", errno);
  part.committed();
  if (auto s = sync_directory(dir); !s) {
    ::unlink(dest_path.c_str());  // not known to be durable: report failure and leave nothing behind
    return s;
  }
  got.path = dest_path;
  got.sha256_hex = hex(md, md_len);
  return got;
}

}  // namespace

std::chrono::milliseconds media_backoff(long first_backoff_ms, int retry, double unit_random) {
  if (first_backoff_ms <= 0 || retry < 1) return std::chrono::milliseconds(0);
  double base = std::min(max_backoff_ms, std::ldexp(static_cast<double>(first_backoff_ms), std::min(retry - 1, 30)));
  double jitter = std::clamp(unit_random, 0.0, 1.0) * 0.2 * base;
  return std::chrono::milliseconds(static_cast<long long>(std::min(max_backoff_ms, base + jitter)));
}

result<fetched_recording> fetch_recording(const media_options& o, const std::string& url,
                                          const std::string& dest_path) {
  try {
    return fetch(o, url, dest_path);
  } catch (const std::exception& e) {  // bad_alloc, a throwing sleep hook: still an error value
    return status{errc::io_error, redact(std::string("the recording fetch failed (") + e.what() + ")", o.auth_token),
                  "media_unavailable"};
  }
}

}  // namespace crmd::connectors
