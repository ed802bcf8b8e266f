// A client for crmd's WhatsApp bridge (a Node service on Baileys) over HTTP:
// starting and logging out a tenant's session, reading its state (QR code to
// scan, or the connected account), and sending text messages.
//
// BLOCKING: each call does a whole HTTP round trip (up to timeout_ms) on the
// calling thread. Run it on a worker thread (storage/worker_pool.hpp), never
// on a CAF actor or RESTinio I/O thread. Calls are thread-safe; each uses its
// own curl handle (no connection reuse). The client never retries.
//
// Every request carries "X-Internal-Secret: <internal_secret>" (when set).
// The tenant id is percent-encoded into the path. Answers larger than
// max_bridge_response_bytes are treated as a failed call.
//
// Errors are values, never exceptions:
//   errc::invalid_argument  "bridge_not_configured": base_url empty or not
//                           http(s), malformed secret, timeout_ms <= 0;
//                           "invalid_request": empty tenant, recipient or text
//   errc::io_error          "bridge_unreachable": no answer (connection
//                           refused, timeout; the message has curl's error);
//                           "bridge_error": 5xx (or another non-2xx, non-4xx),
//                           an answer too large, or a 2xx body that is not
//                           what was asked for (message has the HTTP status)
//   errc::conflict          "bridge_refused": 4xx (401 wrong secret, 404
//                           unknown session, 409 not connected, ...), message
//                           has the HTTP status and the bridge's own error text
// The internal secret never appears in a message.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "events/status.hpp"

namespace crmd::connectors {

struct bridge_options {
  std::string base_url;         // BAILEYS_BASE_URL, e.g. http://127.0.0.1:3300 (trailing slashes dropped)
  std::string internal_secret;  // INTERNAL_SECRET, sent as X-Internal-Secret; never in messages
  long timeout_ms = 10000;      // the whole request, connect included
};

struct bridge_status_answer {
  std::string state;              // connecting | qr | open | close (as the bridge says; unknown values kept)
  std::optional<std::string> qr;  // the QR payload to render while state is "qr"
  std::string me_id, me_name;     // the connected account, when open (empty otherwise)
};

constexpr size_t max_bridge_response_bytes = 64 * 1024;

// Every call addresses one of the tenant's sessions: "main" is
// {base}/sessions/{tenant}/... (the protocol's original form), another is
// {base}/sessions/{tenant}/{session}/..., which a bridge that knows only
// "main" refuses with 404 instead of acting on "main".

// POST {base}/sessions/{tenant}/start with body {}, plus "restart":true to
// replace a socket the bridge still has (stuck, or the user's restart) and
// "maxQrCodes":N (when N > 0) for the QR codes it shows before giving up;
// any 2xx means accepted.
status bridge_start(const bridge_options& o, const std::string& tenant, const std::string& session = "main",
                    bool restart = false, int64_t max_qr_codes = 0);

// POST {base}/sessions/{tenant}/logout with body {}; any 2xx means done.
status bridge_logout(const bridge_options& o, const std::string& tenant, const std::string& session = "main");

// GET {base}/sessions/{tenant}/status ->
//   {"state": string, "qr": string|null, "me": {"id","name"}|null}
// "state" is required; a missing qr/me (or null) leaves the fields empty.
result<bridge_status_answer> bridge_status(const bridge_options& o, const std::string& tenant,
                                          const std::string& session = "main");

// POST {base}/sessions/{tenant}/messages {"to": to, "text": text} (UTF-8 kept
// as is) -> the message id from {"id"}, {"messageId"} or {"key":{"id"}}.
// `to` is digits ("972501234567") or a JID ("972501234567@s.whatsapp.net").
result<std::string> bridge_send(const bridge_options& o, const std::string& tenant, const std::string& to,
                                const std::string& text, const std::string& session = "main");

}  // namespace crmd::connectors
