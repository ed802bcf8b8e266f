#include "events/status.hpp"

namespace crmd {

const char* to_string(errc c) {
  switch (c) {
    case errc::ok: return "ok";
    case errc::invalid_argument: return "invalid_argument";
    case errc::conflict: return "conflict";
    case errc::not_found: return "not_found";
    case errc::corruption: return "corruption";
    case errc::unsupported: return "unsupported";
    case errc::subject_erased: return "subject_erased";
    case errc::io_error: return "io_error";
    case errc::busy: return "busy";
    case errc::shutting_down: return "shutting_down";
    case errc::unauthenticated: return "unauthenticated";
    case errc::forbidden: return "forbidden";
  }
  return "unknown";
}

std::string status::to_string() const {
  if (is_ok()) return "ok";
  return std::string(crmd::to_string(code_)) + ": " + message_;
}

}  // namespace crmd
