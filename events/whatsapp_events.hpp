// Events of a WhatsApp session (stream "<tenant>/wa/<session>"): every state
// change of the connection with its cause. The QR text itself is never
// stored (it pairs a phone for ~20 s, and a log is forever); the session
// actor keeps the current one in memory. WhatsApp credentials never come
// here at all: the bridge keeps them. Same rules as tenant_events.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

namespace crmd::ev {

// crmd asked the bridge to start the session. cause: user | restart |
// restart_required (515) | reconnect (a backoff elapsed) | reconcile.
struct wa_start_requested {
  static constexpr const char* type_name = "wa_start_requested";
  static constexpr uint16_t schema_version = 1;
  std::string session, cause;
  template <class F> void fields(F&& f) {
    f("session", session);
    f("cause", cause);
  }
};

// The bridge showed QR code number `number` of this start.
struct wa_qr_shown {
  static constexpr const char* type_name = "wa_qr_shown";
  static constexpr uint16_t schema_version = 1;
  std::string session;
  int64_t number = 0;
  int64_t seq = -1;  // the bridge's delivery number; -1 when it sent none
  template <class F> void fields(F&& f) {
    f("session", session);
    f("number", number);
    f("seq", seq);
  }
};

// A phone scanned the QR (isNewLogin); `open` should follow.
struct wa_scanned {
  static constexpr const char* type_name = "wa_scanned";
  static constexpr uint16_t schema_version = 1;
  std::string session;
  int64_t seq = -1;
  template <class F> void fields(F&& f) {
    f("session", session);
    f("seq", seq);
  }
};

struct wa_connected {
  static constexpr const char* type_name = "wa_connected";
  static constexpr uint16_t schema_version = 1;
  std::string session, jid, push_name;
  int64_t seq = -1;
  template <class F> void fields(F&& f) {
    f("session", session);
    f("jid", jid);
    f("push_name", push_name);
    f("seq", seq);
  }
};

// The connection closed with Baileys' DisconnectReason `code` (0: unknown),
// and what crmd decided: reconnecting | restarting | logged_out | stopped | failed.
struct wa_disconnected {
  static constexpr const char* type_name = "wa_disconnected";
  static constexpr uint16_t schema_version = 1;
  std::string session;
  int64_t code = 0;
  std::string reason, at, next;
  int64_t seq = -1;
  template <class F> void fields(F&& f) {
    f("session", session);
    f("code", code);
    f("reason", reason);
    f("at", at);
    f("next", next);
    f("seq", seq);
  }
};

// A reconnect is due at `due_us` (attempt n of the current run of failures).
struct wa_retry_scheduled {
  static constexpr const char* type_name = "wa_retry_scheduled";
  static constexpr uint16_t schema_version = 1;
  std::string session;
  int64_t attempt = 0, delay_ms = 0, due_us = 0;
  template <class F> void fields(F&& f) {
    f("session", session);
    f("attempt", attempt);
    f("delay_ms", delay_ms);
    f("due_us", due_us);
  }
};

// The session stopped without a reconnect. cause: qr_attempts_exhausted |
// qr_expired | connection_replaced | forbidden | user.
struct wa_stopped {
  static constexpr const char* type_name = "wa_stopped";
  static constexpr uint16_t schema_version = 1;
  std::string session, cause;
  template <class F> void fields(F&& f) {
    f("session", session);
    f("cause", cause);
  }
};

// WhatsApp logged the device out (401) or a user asked to: a new QR is needed.
struct wa_logged_out {
  static constexpr const char* type_name = "wa_logged_out";
  static constexpr uint16_t schema_version = 1;
  std::string session, cause;  // whatsapp | user
  template <class F> void fields(F&& f) {
    f("session", session);
    f("cause", cause);
  }
};

// Too many failed reconnects in a row; a person has to start it again.
struct wa_failed {
  static constexpr const char* type_name = "wa_failed";
  static constexpr uint16_t schema_version = 1;
  std::string session;
  int64_t failures = 0;
  template <class F> void fields(F&& f) {
    f("session", session);
    f("failures", failures);
  }
};

// A WhatsApp message, in or out (stream "<tenant>/wamsg/<session>"), stored
// once for ever: appended with the idempotency key
// "wa/<tenant>/<session>/<remote_jid>/<from_me>/<message_id>". The contact is
// its data subject, so erasing the person erases what they wrote.
struct wa_message_received {
  static constexpr const char* type_name = "wa_message_received";
  static constexpr uint16_t schema_version = 1;
  std::string session, remote_jid, message_id;
  bool from_me = false;     // outgoing (sent from the business's phone or by crmd)
  bool history = false;     // delivered as history (upsert type "append"): no notifications
  std::string contact_id;   // the lead or customer of the sender's number; empty for groups and hidden numbers
  std::string push_name, text;
  std::string media_type, mimetype, caption;  // media_type empty for text
  int64_t size = -1;
  int64_t sent_at = 0;      // messageTimestamp, seconds
  template <class F> void fields(F&& f) {
    f("session", session);
    f("remote_jid", remote_jid);
    f("message_id", message_id);
    f("from_me", from_me);
    f("history", history);
    f("contact_id", contact_id);
    f("push_name", push_name);
    f("text", text);
    f("media_type", media_type);
    f("mimetype", mimetype);
    f("caption", caption);
    f("size", size);
    f("sent_at", sent_at);
  }
};

// A delivery status of a message: sent, delivered, read, played, failed
// (views keep only forward moves).
struct wa_message_status {
  static constexpr const char* type_name = "wa_message_status";
  static constexpr uint16_t schema_version = 1;
  std::string session, remote_jid, message_id, status;
  template <class F> void fields(F&& f) {
    f("session", session);
    f("remote_jid", remote_jid);
    f("message_id", message_id);
    f("status", status);
  }
};

using whatsapp_event = std::variant<wa_start_requested, wa_qr_shown, wa_scanned, wa_connected, wa_disconnected,
                                    wa_retry_scheduled, wa_stopped, wa_logged_out, wa_failed, wa_message_received,
                                    wa_message_status>;

}  // namespace crmd::ev
