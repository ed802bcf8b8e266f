// Pure parsing of what WhatsApp sends crmd: the Baileys bridge's webhook
// bodies, the legacy incoming-message body, and Meta Cloud API webhooks.
// No I/O, no state; see docs "WhatsApp through Baileys" and "WhatsApp Cloud
// API" in providers.md for where the shapes come from.
//
// Inputs are hostile. Every parser returns an error value and never throws:
// errc::invalid_argument with reason
//   "malformed_body"  the body is too large, too deeply nested, not JSON, or
//                     not a JSON object;
//   "invalid_field"   a required field is missing, a field has the wrong JSON
//                     type or an out-of-range value, or an array is too long.
// The message names the field as a path ("data.messages[2].key.id").
//
// Common rules:
//  - A JSON null is the same as an absent field (JS bridges serialise
//    `undefined` members of protobuf objects as null).
//  - Identifiers (JIDs, message ids, event, type, status, tenant and phone
//    number ids) longer than max_string_bytes refuse the body; free text
//    (message text, captions, push names, QR strings, disconnect messages,
//    dates, mimetypes) is truncated to max_string_bytes at a UTF-8 boundary.
//    (WhatsApp allows 65,536 characters of text, i.e. more bytes than that in
//    non-Latin scripts: such a text is kept, cut, rather than lost.)
//  - Integers (timestamps, sizes) are JSON integers, numeric strings (digits
//    only), or protobufjs Longs {"low":N,"high":N,"unsigned":b} as a bridge
//    that JSON.stringify's a WebMessageInfo produces. Floats are refused.
//  - Unknown members are ignored; unknown message kinds (reactions, protocol
//    and stub messages) parse with empty text and no media.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "events/status.hpp"

namespace crmd::connectors::wa {

constexpr size_t max_body_bytes = 2 * 1024 * 1024;
constexpr size_t max_messages = 500;        // messages / statuses in one body (per value for Cloud)
constexpr size_t max_string_bytes = 64 * 1024;
constexpr size_t max_json_depth = 64;       // nesting beyond this is refused before parsing

// ---- Baileys bridge -----------------------------------------------------------

struct disconnect {
  int code = 0;          // DisconnectReason (401 loggedOut, 515 restartRequired, ...); 0 when lost
  std::string message;
  std::string date;      // as given (ISO) or empty
};

struct connection_update {
  std::string connection;             // "connecting" | "open" | "close" | "" (absent)
  std::optional<std::string> qr;      // a new QR string
  bool is_new_login = false;
  std::optional<disconnect> last_disconnect;
  std::string me_id, me_name;         // on open: data.me {id, name}
};

struct media_info {
  std::string type;      // image | video | audio | document | sticker
  std::string mimetype;
  int64_t size = -1;     // bytes; -1 when not given (always for the Cloud API)
  std::string caption;
};

struct message_in {
  std::string remote_jid, id, participant, push_name;
  bool from_me = false;
  int64_t timestamp = 0;  // seconds; 0 when not given
  std::string text;       // conversation / extendedTextMessage.text / media caption
  std::optional<media_info> media;
  std::string phone;      // "+<digits>" for "<digits>[:device]@s.whatsapp.net"; empty otherwise
};

struct upsert {
  std::string type;  // "notify" (live) | "append" (history)
  std::vector<message_in> messages;
};

struct status_update {
  std::string remote_jid, id;
  bool from_me = false;
  std::string status;  // sent | delivered | read | played | failed | pending
};

// "<digits>[:device]@s.whatsapp.net" -> "+<digits>"; groups, @lid,
// broadcast and anything else -> "".
std::string phone_from_jid(std::string_view jid);

struct bridge_event {
  std::optional<uint64_t> seq;  // absent from older bridges
  std::string session = "main"; // which of the tenant's sessions; absent: "main"
  std::string event;            // "connection.update" | "messages.upsert" | "messages.update"
  std::variant<connection_update, upsert, std::vector<status_update>> data;
};

// {"seq":N?, "session":S?, "event":..., "data":...}. seq, when present, is
// an integer >= 0; session, when present, a string (its form is the caller's
// to check).
//
// connection.update: data is an object. `connection` must be one of the three
// states; lastDisconnect is read from the written-out form
// {"statusCode":N,"message":..,"date":..} or from Baileys' own
// {"error":{"output":{"statusCode":N,"payload":{"message":..}},"message":..},
// "date":..} (top-level fields win, then error.output.statusCode /
// error.message, then error.output.payload.*); an Error serialised as {} gives
// code 0 and an empty message.
//
// messages.upsert: data {"messages":[...], "type":"notify"|"append"}; a
// missing type is "notify" (older bridges forwarded live messages only).
// Each message needs key.remoteJid and key.id (strings). The content is
// unwrapped through ephemeralMessage, viewOnceMessage(V2, V2Extension),
// documentWithCaptionMessage, editedMessage and
// protocolMessage.editedMessage (how Baileys delivers an edit), at most 8
// levels deep. A message without content (null `message`, a stub) is kept
// with empty text.
//
// messages.update: data is the array [{key, update}] (or {"updates":[...]}).
// update.status is Baileys' number (0 failed, 1 pending, 2 sent, 3 delivered,
// 4 read, 5 played) or one of those words or the proto names ("READ",
// "DELIVERY_ACK", ...). Entries without update.status (edits, reactions,
// stars) and unknown status values are skipped, not refused.
result<bridge_event> parse_bridge_event(std::string_view body);

// {"tenantId":"...","payload":{messages.upsert data}}, the body of
// POST /webhook/whatsapp/incoming and /webhook/wa/incoming. tenantId is a
// non-empty string; payload is read as messages.upsert data above.
result<std::pair<std::string, upsert>> parse_legacy_incoming(std::string_view body);

// ---- Meta Cloud API -----------------------------------------------------------

// X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256(app_secret, raw_body),
// computed over the bytes received. Hex digits in either case; compared in
// constant time. An empty secret or header, a missing "sha256=" prefix, or a
// digest of the wrong length is never valid.
bool valid_meta_signature(std::string_view app_secret, std::string_view raw_body, std::string_view header);

// The header Meta would send for raw_body (lowercase hex), for tests and fakes.
std::string meta_signature_header(std::string_view app_secret, std::string_view raw_body);

struct cloud_batch {
  std::string phone_number_id;
  std::vector<message_in> messages;
  std::vector<status_update> statuses;
};

// {"object":..., "entry":[{"changes":[{"field":"messages","value":{...}}]}]}:
// one batch per change whose field is "messages" (or absent); other fields
// (template status, account updates) are skipped. value.metadata.phone_number_id
// is required. A message needs `from` and `id`: remote_jid is from +
// "@s.whatsapp.net", phone "+" + from when from is 1-15 digits, push_name the
// matching contacts[].profile.name, timestamp the string (or integer) given.
// Text comes from text.body, a media caption, button.text or an interactive
// reply title; media from image/video/audio/document/sticker {mime_type,
// caption}. A status needs id and status; remote_jid is recipient_id +
// "@s.whatsapp.net", from_me true; statuses other than sent, delivered, read,
// played, failed are skipped. Each value may carry at most max_messages
// messages and max_messages statuses.
result<std::vector<cloud_batch>> parse_cloud_webhook(std::string_view body);

}  // namespace crmd::connectors::wa
