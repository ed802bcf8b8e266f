// Error values shared by every crmd layer.
//
// A rejected command or a failed storage call is a `status` value, never an
// exception crossing a module boundary. The HTTP layer maps codes to status
// codes (conflict -> 409, invalid_argument -> 400, io_error -> 5xx, ...).
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace crmd {

enum class errc {
  ok = 0,
  invalid_argument,   // the caller sent something malformed
  conflict,           // optimistic concurrency: expected version did not match
  not_found,
  corruption,         // stored bytes fail their CRC, bounds or hash checks
  unsupported,        // a future record format or schema version, an unknown type
  subject_erased,     // the data subject's key was destroyed
  io_error,           // the disk or RocksDB failed
  busy,               // the data directory is locked by another process
  shutting_down,
  unauthenticated,    // no valid credentials (HTTP 401)
  forbidden,          // valid credentials, not allowed (HTTP 403)
};

const char* to_string(errc c);

class status {
 public:
  status() = default;
  status(errc code, std::string message) : code_(code), message_(std::move(message)) {}
  // `reason` is a short machine-readable code the API shows as "error"
  // ("tenant_exists", "invalid_tenant_id"); empty means "use the errc name".
  status(errc code, std::string message, std::string reason)
      : code_(code), message_(std::move(message)), reason_(std::move(reason)) {}

  static status ok() { return {}; }
  bool is_ok() const { return code_ == errc::ok; }
  explicit operator bool() const { return is_ok(); }
  errc code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string reason() const { return reason_.empty() ? crmd::to_string(code_) : reason_; }
  // "conflict: expected version 3, stream is at 4"
  std::string to_string() const;

 private:
  errc code_ = errc::ok;
  std::string message_;
  std::string reason_;
};

// Either a value or a non-ok status.
template <class T>
class result {
 public:
  result(T value) : v_(std::move(value)) {}
  result(status s) : v_(std::move(s)) {
    assert(!std::get<status>(v_).is_ok() && "an error result needs a non-ok status");
  }

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const status& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, status> v_;
};

}  // namespace crmd
