#include "actors/whatsapp/session_decider.hpp"

#include <algorithm>

namespace crmd::wa {
namespace {

decision on_close(const state& s, const bridge_update& u, const policy& p) {
  decision d;
  auto disc = [&](const char* next) {
    d.events.push_back(ev::wa_disconnected{s.session, u.code, u.reason, u.at, next,
                                           u.seq ? static_cast<int64_t>(*u.seq) : -1});
  };
  // 408 is both Baileys' timedOut and connectionLost: only "QR refs attempts
  // ended" means nobody scanned. A 408 without a reason while QR codes are on
  // screen (an error serialised without its message) is taken to mean that
  // too; "Connection was lost" during pairing is transient like any other.
  bool qr_ran_out = u.code == 408 && (u.reason.find("QR refs attempts ended") != std::string::npos ||
                                      (u.reason.empty() && s.status == "qr"));
  if (u.code == 515) {  // restart required, normal right after pairing
    disc("restarting");
    d.events.push_back(ev::wa_start_requested{s.session, "restart_required"});
  } else if (u.code == 401) {
    disc("logged_out");
    d.events.push_back(ev::wa_logged_out{s.session, "whatsapp"});
  } else if (u.code == 440 || u.code == 403) {
    disc("stopped");
    d.events.push_back(ev::wa_stopped{s.session, u.code == 440 ? "connection_replaced" : "forbidden"});
  } else if (qr_ran_out) {
    disc("stopped");
    d.events.push_back(ev::wa_stopped{s.session, "qr_expired"});
  } else {  // 428 408 500 503 411, and codes Baileys may add later: transient
    int64_t attempt = s.failures + 1;
    if (attempt > p.max_failures) {
      disc("failed");
      d.events.push_back(ev::wa_failed{s.session, attempt});
    } else {
      disc("reconnecting");
      int64_t delay = backoff_ms(p, attempt, u.jitter);
      d.events.push_back(ev::wa_retry_scheduled{s.session, attempt, delay, u.now_us + delay * 1000});
    }
  }
  return d;
}

decision on_update(const state& s, const bridge_update& u, const policy& p) {
  decision d;
  if (u.seq && static_cast<int64_t>(*u.seq) <= s.last_seq) return d;  // stale or repeated delivery
  int64_t seq = u.seq ? static_cast<int64_t>(*u.seq) : -1;
  bool live = s.status == "starting" || s.status == "qr" || s.status == "connected";
  if (u.connection == "open") {
    if (s.status != "connected" || s.jid != u.me_id)
      d.events.push_back(ev::wa_connected{s.session, u.me_id, u.me_name, seq});
    return d;
  }
  if (u.connection == "close") {
    // A close with no connection in flight (stopped, logged out, failed, or
    // already waiting to reconnect) is an echo: deciding again would stack
    // a second retry.
    if (!live) return d;
    return on_close(s, u, p);
  }
  if (u.is_new_login && live && !s.scanned) d.events.push_back(ev::wa_scanned{s.session, seq});
  if (u.qr && (s.status == "starting" || s.status == "qr")) {
    if (s.qr_count >= p.max_qr) {
      d.events.push_back(ev::wa_stopped{s.session, "qr_attempts_exhausted"});
    } else {
      d.events.push_back(ev::wa_qr_shown{s.session, s.qr_count + 1, seq});
    }
  }
  return d;
}

}  // namespace

std::string stream_of(const std::string& tenant, const std::string& session) { return tenant + "/wa/" + session; }

bool valid_session(const std::string& name) {
  if (name.empty() || name.size() > 32 || name == "cloud") return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

int64_t backoff_ms(const policy& p, int64_t attempt, double jitter) {
  int64_t delay = p.backoff_base_ms;
  for (int64_t i = 1; i < attempt && delay < p.backoff_cap_ms; ++i) delay *= 2;
  delay = std::min(delay, p.backoff_cap_ms);
  jitter = std::clamp(jitter, 0.0, 1.0);
  return delay + static_cast<int64_t>(static_cast<double>(delay) * 0.2 * jitter);
}

result<decision> decide(const state& s, const command& c, const policy& p) {
  decision d;
  if (auto* x = std::get_if<start>(&c)) {
    // Single-flight: a start in flight, a QR on screen or a live connection
    // is never started again (the QR being scanned stays the QR).
    if (x->cause != "restart" && (s.status == "starting" || s.status == "qr" || s.status == "connected")) return d;
    d.events.push_back(ev::wa_start_requested{s.session, x->cause});
    return d;
  }
  if (std::holds_alternative<logout>(c)) {
    if (s.status != "logged_out") d.events.push_back(ev::wa_logged_out{s.session, "user"});
    return d;
  }
  if (auto* x = std::get_if<bridge_update>(&c)) return on_update(s, *x, p);
  if (auto* x = std::get_if<retry_due>(&c)) {
    // Only the pending retry counts: a stale timer (the session moved on) does nothing.
    if (s.status == "reconnecting" && x->attempt == s.retry_attempt)
      d.events.push_back(ev::wa_start_requested{s.session, "reconnect"});
    return d;
  }
  if (auto* x = std::get_if<bridge_status>(&c)) {
    if (s.status == "connected") {
      // crmd (re)started believing the session open: the bridge may have
      // lost it meanwhile (it never reconnects on its own).
      if (x->state != "open") d.events.push_back(ev::wa_start_requested{s.session, "reconcile"});
      return d;
    }
    bool waiting = s.status == "starting" || s.status == "qr" || s.scanned;
    if (!waiting) return d;
    if (x->state == "open") {
      d.events.push_back(ev::wa_connected{s.session, x->me_id, x->me_name, -1});
    } else if (x->state != "qr" || s.scanned) {
      // Restart once. A session still stuck a whole timeout after that
      // restart stops where the user sees it, instead of restarting every
      // timeout for ever. An answer sooner than that (crmd recovering the
      // session, or a late answer to an earlier question) decides nothing:
      // the watchdog asks again.
      if (!s.reconciled)
        d.events.push_back(ev::wa_start_requested{s.session, "reconcile"});
      else if (x->now_us - s.since_us >= p.start_timeout_ms * 1000)
        d.events.push_back(ev::wa_stopped{s.session, "start_timeout"});
    }
    return d;
  }
  auto& w = std::get<watchdog>(c);
  bool stuck = (s.status == "starting" || (s.scanned && s.status != "connected")) &&
               w.now_us - s.since_us >= p.start_timeout_ms * 1000;
  d.ask_bridge_status = stuck;
  return d;
}

void apply(state& s, const ev::whatsapp_event& e, int64_t at_us) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        auto move_to = [&](const char* status) {
          s.status = status;
          s.since_us = at_us;
        };
        auto seen = [&](int64_t seq) {
          if (seq > s.last_seq) s.last_seq = seq;
        };
        s.session = x.session;
        if constexpr (std::is_same_v<T, ev::wa_start_requested>) {
          move_to("starting");
          s.reconciled = x.cause == "reconcile";
          // The user's start or restart begins a new count: after `failed`
          // the next transient close is attempt 1 again, not max + 2.
          if (x.cause == "user" || x.cause == "restart") s.failures = 0;
          s.qr_count = 0;
          s.scanned = false;
          s.retry_attempt = 0;
        } else if constexpr (std::is_same_v<T, ev::wa_qr_shown>) {
          move_to("qr");
          s.reconciled = false;  // the restart made progress
          s.qr_count = x.number;
          seen(x.seq);
        } else if constexpr (std::is_same_v<T, ev::wa_scanned>) {
          s.scanned = true;
          s.since_us = at_us;
          seen(x.seq);
        } else if constexpr (std::is_same_v<T, ev::wa_connected>) {
          move_to("connected");
          s.failures = 0;
          s.scanned = false;
          s.jid = x.jid;
          s.push_name = x.push_name;
          seen(x.seq);
        } else if constexpr (std::is_same_v<T, ev::wa_disconnected>) {
          s.last_disconnect = x;
          seen(x.seq);
        } else if constexpr (std::is_same_v<T, ev::wa_retry_scheduled>) {
          move_to("reconnecting");
          s.failures = x.attempt;
          s.retry_attempt = x.attempt;
          s.retry_due_us = x.due_us;
        } else if constexpr (std::is_same_v<T, ev::wa_stopped>) {
          move_to("stopped");
          s.scanned = false;
        } else if constexpr (std::is_same_v<T, ev::wa_logged_out>) {
          move_to("logged_out");
          s.scanned = false;
          s.jid.clear();
          s.push_name.clear();
        } else if constexpr (std::is_same_v<T, ev::wa_failed>) {
          move_to("failed");
          s.failures = x.failures;
        }
      },
      e);
}

}  // namespace crmd::wa
