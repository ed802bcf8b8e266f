// Sending WhatsApp text messages through Meta's Cloud API (the Graph API):
//   POST {base}/{phone_number_id}/messages
//   Authorization: Bearer <token>
//   {"messaging_product":"whatsapp","recipient_type":"individual","to":"<digits>",
//    "type":"text","text":{"preview_url":false,"body":"..."}}
// -> 200 {"messaging_product":"whatsapp","contacts":[...],"messages":[{"id":"wamid..."}]}
//
// BLOCKING: one HTTP round trip on the calling thread; run it on a worker
// pool. No retries (a retry could send the message twice).
//
// Errors are values:
//   errc::invalid_argument "graph_not_configured" (base not http(s), empty
//                          phone_number_id or token, token not header-safe),
//                          "invalid_request" (empty recipient or text)
//   errc::io_error         "graph_unreachable" (no answer), "graph_error" (5xx,
//                          an answer too large, a 2xx without messages[0].id)
//   errc::conflict         "graph_refused" (4xx; message has the status and
//                          Meta's error.message, e.g. an expired token)
// The token never appears in a message.
#pragma once

#include <string>

#include "events/status.hpp"

namespace crmd::connectors {

struct graph_options {
  std::string base_url = "https://graph.facebook.com/v19.0";  // WHATSAPP_GRAPH_BASE
  long timeout_ms = 10000;
};

// `to` is the recipient's number in digits, no '+' ("972501234567").
result<std::string> graph_send_text(const graph_options& o, const std::string& phone_number_id,
                                    const std::string& token, const std::string& to, const std::string& text);

}  // namespace crmd::connectors
