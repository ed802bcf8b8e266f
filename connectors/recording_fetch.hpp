// Downloading a call recording from Twilio (or any http(s) media URL) to a
// file on disk, on libcurl.
//
// BLOCKING: one call may take attempts x timeout_ms plus the backoff sleeps
// between attempts (defaults: up to 5 x 60 s + about 18 s). Run it on a
// worker thread (storage/worker_pool.hpp), never on a CAF actor or RESTinio
// I/O thread. Calls are thread-safe; each attempt uses its own curl handle.
// Two calls must not write the same dest_path at the same time (they would
// share dest_path + ".part").
//
// Twilio posts the recording callback before the media is always servable,
// so 404 is retried like 429, 5xx and transport failures (no answer, TLS,
// timeout, a body cut short, a 2xx with an empty body): `attempts` requests
// in all, sleeping first_backoff_ms, then twice that, ... (each plus up to
// 20% random jitter, capped at 30 s) in between. Other answers are final.
// Redirects (Twilio may hand out a CDN location) are followed, at most 5,
// http(s) only, never from https down to http; libcurl drops the basic
// credentials when a redirect changes host, port or scheme.
//
// The body is streamed to dest_path + ".part" (mode 0600, parent directories
// created as needed), fsynced, renamed over dest_path, and the directory is
// fsynced, so dest_path either holds a whole recording or was not touched.
// On any failure the .part file is removed and nothing is created at
// dest_path (a file that was already there before the call is left alone).
//
// Errors are values, never exceptions:
//   errc::invalid_argument  "invalid_request": refused before sending (not an
//                           http(s) URL, empty dest_path, bad options);
//                           "media_refused": a final 4xx (401, 403, 410, ...)
//                           or a redirect crmd will not follow; not retried
//   errc::io_error          "media_unavailable": every attempt failed; the
//                           message names the last HTTP status or curl error
//                           "media_too_large": the body exceeds max_bytes
//                           (announced or counted); not retried
//                           "media_write_failed": the local disk refused
//                           (create, write, fsync, rename); not retried
// Messages never contain the auth token (nor the URL, which a caller may
// have built with credentials in it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "events/status.hpp"

namespace crmd::connectors {

struct media_options {
  std::string account_sid;            // HTTP basic auth user (TWILIO_ACCOUNT_SID); empty: no auth sent
  std::string auth_token;             // basic auth password (TWILIO_AUTH_TOKEN); never in messages
  long timeout_ms = 60000;            // one attempt, connect included
  int attempts = 5;                   // a 404 right after the callback is normal: the file may not exist yet
  long first_backoff_ms = 1000;       // doubled per retry, with up to 20% jitter, capped at 30 s
  uint64_t max_bytes = 200ull << 20;  // larger bodies are refused
  std::function<void(std::chrono::milliseconds)> sleep;  // empty -> std::this_thread::sleep_for (tests pass a recorder)
};

struct fetched_recording {
  std::string path;        // dest_path
  std::string sha256_hex;  // of the bytes written, lowercase hex
  uint64_t bytes = 0;
  int attempts = 0;  // requests made, the successful one included
};

// The pause before retry number `retry` (1 = after the first failure):
// first_backoff_ms * 2^(retry-1), plus jitter in [0, 20%] drawn from
// `unit_random` in [0, 1), capped at 30 s (exposed for tests).
std::chrono::milliseconds media_backoff(long first_backoff_ms, int retry, double unit_random);

// GET url (the caller passes "{RecordingUrl}.mp3") with basic auth, writes the body to
// dest_path via a temp file in the same directory (dest_path + ".part"), fsync of the file,
// rename, fsync of the directory; creates missing parent directories. Retries 404, 429,
// 5xx and transport errors with backoff up to `attempts`; other 4xx (401, 403) fail at once.
// On failure no file is left at dest_path or .part (one that was there before the call is
// not touched). Only http:// and https:// URLs.
result<fetched_recording> fetch_recording(const media_options& o, const std::string& url, const std::string& dest_path);

}  // namespace crmd::connectors
