// The WhatsApp session aggregate: one per tenant and session name (stream
// "<tenant>/wa/<session>", default session "main").
//
// It makes the failures of the system crmd replaces impossible by
// construction: `start` while starting, showing a QR or connected decides
// nothing (single-flight, so a QR being scanned is never replaced); stale
// bridge deliveries (seq not above the last) decide nothing; every
// disconnect code maps to exactly one next state; at most one retry is
// pending; nothing stays `starting` forever (watchdog). Pure functions: the
// actor turns the decided events into bridge calls and timers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "events/status.hpp"
#include "events/whatsapp_events.hpp"

namespace crmd::wa {

struct policy {
  int64_t max_qr = 6;                 // QR codes per start without a scan, then stopped
  int64_t backoff_base_ms = 1000;     // first reconnect delay, doubled per failure
  int64_t backoff_cap_ms = 60000;     // WA_BACKOFF_CAP_MS
  int64_t max_failures = 8;           // failed reconnects in a row, then failed
  int64_t start_timeout_ms = 60000;   // starting (or scanned) this long: reconcile with the bridge
};

std::string stream_of(const std::string& tenant, const std::string& session);
// Session names: 1..32 of [a-z0-9_-], not "cloud" (the label of the Cloud
// API's messages).
bool valid_session(const std::string& name);
// What a refused name is told.
inline constexpr const char* session_rule = "field 'session' must be 1..32 of a-z, 0-9, '_' and '-', and not 'cloud'";

struct state {
  std::string session;
  std::string status = "stopped";  // stopped starting qr connected reconnecting logged_out failed
  int64_t last_seq = -1;
  int64_t qr_count = 0;            // QR codes shown since the last start
  int64_t failures = 0;            // failed connects in a row
  bool scanned = false;            // isNewLogin seen, open not yet
  bool reconciled = false;         // the current start is the one reconcile restart
  int64_t since_us = 0;            // when the status last changed (event time)
  int64_t retry_attempt = 0, retry_due_us = 0;  // the pending retry, when reconnecting
  std::string jid, push_name;
  std::optional<ev::wa_disconnected> last_disconnect;
};

// Commands. `now_us` is the caller's clock (time behind an interface).
struct start {
  std::string cause = "user";  // user | restart
  int64_t now_us = 0;
};
struct logout {};
// One connection.update from the bridge.
struct bridge_update {
  std::optional<uint64_t> seq;
  std::string connection;  // connecting | open | close | ""
  std::optional<std::string> qr;
  bool is_new_login = false;
  int64_t code = 0;  // lastDisconnect status code on close (0: unknown)
  std::string reason, at;
  std::string me_id, me_name;
  int64_t now_us = 0;
  double jitter = 0;  // uniform in [0, 1): the backoff's random part, chosen by the caller
};
// The pending retry's timer fired.
struct retry_due {
  int64_t attempt = 0;
};
// The bridge's own view of the session (reconciling): open | qr | connecting | close.
struct bridge_status {
  std::string state;
  std::string me_id, me_name;
  int64_t now_us = 0;
};
// Periodic check: a session starting or scanned for too long is reconciled.
struct watchdog {
  int64_t now_us = 0;
};
using command = std::variant<start, logout, bridge_update, retry_due, bridge_status, watchdog>;

struct decision {
  std::vector<ev::whatsapp_event> events;
  bool ask_bridge_status = false;  // watchdog: reconcile before deciding more
};

// Rejections: errc::invalid_argument (invalid_field) for a QR while the
// session is not starting, only never: odd deliveries decide nothing.
result<decision> decide(const state& s, const command& c, const policy& p = {});
void apply(state& s, const ev::whatsapp_event& e, int64_t at_us);

// The reconnect delay before attempt `attempt` (from 1): base * 2^(attempt-1),
// capped, plus up to 20% jitter.
int64_t backoff_ms(const policy& p, int64_t attempt, double jitter);

}  // namespace crmd::wa
