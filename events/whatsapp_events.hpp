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

using whatsapp_event = std::variant<wa_start_requested, wa_qr_shown, wa_scanned, wa_connected, wa_disconnected,
                                    wa_retry_scheduled, wa_stopped, wa_logged_out, wa_failed>;

}  // namespace crmd::ev
