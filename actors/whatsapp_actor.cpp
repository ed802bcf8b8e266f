// One actor per WhatsApp session (key "<tenant>/<session>"): decide, append,
// then act on what was decided, one command at a time, so concurrent starts
// see each other (single flight) and a QR on screen is never replaced.
//
// Effects follow durable events only: wa_start_requested -> bridge start;
// wa_logged_out and QR-ended stops -> bridge logout; wa_retry_scheduled ->
// a timer for retry_due. Bridge calls block, so they run on the context's
// recovery pool and report back as messages. A recovered session that was
// waiting to reconnect re-arms its timer with the time left; one that was
// starting is reconciled by the watchdog tick. The current QR text is kept
// here only (never in the log).
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <random>

#include "actors/actor_context.hpp"
#include "actors/keyed_directory.hpp"
#include "events/clock.hpp"
#include "events/codec.hpp"

namespace crmd::actors {

// A bridge call's outcome, back in the actor's mailbox.
struct wa_bridge_done {
  std::string op;  // start | logout | status
  status outcome;
  std::optional<wa::bridge_status> answer;
};

}  // namespace crmd::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(crmd::actors::wa_bridge_done)

namespace crmd::actors {
namespace {

using retry_atom = caf::atom_constant<caf::atom("waretry")>;
using watch_atom = caf::atom_constant<caf::atom("wawatch")>;
using reconcile_atom = caf::atom_constant<caf::atom("waask")>;

struct wa_actor_state {
  static inline const char* name = "crmd.whatsapp";
  std::string tenant, session, stream;
  wa::state agg;
  std::string qr;
  uint64_t version = 0;
  bool recovered = false;
  std::deque<wa_request> queue;
  std::optional<wa_request> current;
  std::vector<ev::whatsapp_event> pending;
  std::string pending_qr;
  std::chrono::steady_clock::time_point last_active = std::chrono::steady_clock::now();
  std::mt19937_64 rng{std::random_device{}()};
  bool watching = false;  // a watchdog tick is scheduled
  // The bridge could not be asked (down, or crmd started before it): ask
  // again after this long, doubling up to the backoff cap; 0 while no ask
  // is scheduled or in flight, so the actor may idle-stop only then.
  int64_t ask_again_ms = 0;
  bool ask_scheduled = false;  // one delayed ask at a time, whoever failed
};
using wa_ptr = caf::stateful_actor<wa_actor_state>*;

int64_t now_us() { return system_clock().now_us(); }

wa_view view_of(const wa_actor_state& s, uint64_t position) { return wa_view{s.agg, s.qr, position}; }

void arm_retry(wa_ptr self) {
  auto& s = self->state;
  if (s.agg.status != "reconnecting") return;
  int64_t left_us = std::max<int64_t>(0, s.agg.retry_due_us - now_us());
  self->delayed_send(self, std::chrono::microseconds(left_us), retry_atom::value, s.agg.retry_attempt);
}

status recover(wa_ptr self, context& ctx) {
  auto& s = self->state;
  s.agg = {};
  s.agg.session = s.session;
  s.version = 0;
  for (uint64_t from = 1;;) {
    auto evs = ctx.log.read_stream(s.stream, from, 1000);
    if (!evs) return evs.error();
    if (evs->empty()) break;
    for (auto& e : *evs) {
      from = e.env.stream_seq + 1;
      s.version = e.env.stream_seq;
      auto dec = codec::decode<ev::whatsapp_event>(e.env.type, e.env.schema_version, e.payload);
      if (!dec) return dec.error();
      wa::apply(s.agg, *dec, e.env.recorded_at_us);
    }
  }
  s.recovered = true;
  arm_retry(self);  // a restart of crmd re-arms a pending retry
  return status::ok();
}

// After recovery: a session crmd believes live is checked against the bridge
// (crmd may have been down while it changed).
bool needs_reconcile(const wa::state& s) {
  return s.status == "starting" || s.status == "qr" || s.status == "connected" || s.scanned;
}

// `restart` (op "start" only): replace the socket the bridge may still hold.
void call_bridge(wa_ptr self, context& ctx, std::string op, bool restart = false) {
  auto bridge = ctx.opts.bridge;
  std::string tenant = self->state.tenant, session = self->state.session;
  caf::actor me = caf::actor_cast<caf::actor>(self);
  int64_t max_qr = ctx.opts.wa_policy.max_qr;
  bool queued = ctx.bridge_pool->try_submit([bridge, tenant, session, op, restart, max_qr, me] {
    wa_bridge_done d{op, status::ok(), std::nullopt};
    if (!bridge) {
      d.outcome = status{errc::io_error, "no WhatsApp bridge is configured (BAILEYS_BASE_URL)", "bridge_not_configured"};
    } else if (op == "start") {
      d.outcome = bridge->start(tenant, session, restart, max_qr);
    } else if (op == "logout") {
      d.outcome = bridge->logout(tenant, session);
    } else {
      auto st = bridge->status_of(tenant, session);
      if (st) d.answer = *st;
      else d.outcome = st.error();
    }
    caf::anon_send(me, std::move(d));
  });
  // Refused only while shutting down (or 65k calls behind): the session
  // asks again when next recovered.
  if (!queued && op == "status") self->state.ask_again_ms = 0;
}

// What the durable events ask of the outside world.
void act(wa_ptr self, context& ctx, const std::vector<ev::whatsapp_event>& evs) {
  for (auto& e : evs) {
    // The user's restart and the watchdog's reconcile replace a socket the
    // bridge may still hold (stuck connecting, or open); other starts follow
    // a close, where there is none.
    if (auto* st = std::get_if<ev::wa_start_requested>(&e))
      call_bridge(self, ctx, "start", st->cause == "restart" || st->cause == "reconcile");
    if (std::holds_alternative<ev::wa_logged_out>(e)) call_bridge(self, ctx, "logout");
    if (auto* st = std::get_if<ev::wa_stopped>(&e); st && st->cause.rfind("qr_", 0) == 0) call_bridge(self, ctx, "logout");
    if (std::holds_alternative<ev::wa_retry_scheduled>(e)) arm_retry(self);
  }
}

void watch(wa_ptr self, const context& ctx);

void pump(wa_ptr self, context& ctx) {
  auto& s = self->state;
  while (!s.current && !s.queue.empty()) {
    auto req = std::move(s.queue.front());
    s.queue.pop_front();
    s.last_active = std::chrono::steady_clock::now();
    if (!s.recovered) {
      if (auto st = recover(self, ctx); !st) {
        req.done(st);
        continue;
      }
      if (needs_reconcile(s.agg)) call_bridge(self, ctx, "status");
      watch(self, ctx);
    }
    if (!req.cmd) {  // a read
      req.done(view_of(s, 0));
      continue;
    }
    if (auto* u = std::get_if<wa::bridge_update>(&*req.cmd)) u->jitter = std::uniform_real_distribution<double>(0, 1)(s.rng);
    auto decided = wa::decide(s.agg, *req.cmd, ctx.opts.wa_policy);
    if (!decided) {
      req.done(decided.error());
      continue;
    }
    if (decided->ask_bridge_status) call_bridge(self, ctx, "status");
    if (decided->events.empty()) {
      req.done(view_of(s, 0));
      continue;
    }
    s.pending_qr.clear();
    if (auto* u = std::get_if<wa::bridge_update>(&*req.cmd); u && u->qr) s.pending_qr = *u->qr;
    std::vector<new_event> encoded;
    for (auto& e : decided->events) {
      auto enc = codec::encode(e);
      encoded.push_back(new_event{enc.type, enc.schema_version, std::move(enc.payload), {}});
    }
    s.pending = std::move(decided->events);
    append_to(caf::actor_cast<caf::actor>(self), ctx, s.stream, s.version, std::move(encoded), req.who);
    s.current = std::move(req);
  }
}

// A bridge call that failed is, for the session, a connection that closed.
wa::bridge_update failed_bridge_call(const status& st) {
  wa::bridge_update u;
  u.connection = "close";
  u.code = 0;
  u.reason = "bridge: " + st.message();
  u.now_us = now_us();
  return u;
}

// The watchdog ticks only while the session waits on the bridge (starting,
// or scanned without open): a thousand quiet sessions schedule nothing.
bool waiting(const wa::state& s) { return s.status == "starting" || s.scanned; }

void watch(wa_ptr self, const context& ctx) {
  auto& s = self->state;
  if (s.watching || !waiting(s.agg)) return;
  s.watching = true;
  self->delayed_send(self, std::chrono::milliseconds(std::max<int64_t>(1000, ctx.opts.wa_policy.start_timeout_ms / 4)),
                     watch_atom::value);
}

// A settled session holds nothing in memory that matters (no QR on screen,
// no retry timer; a leftover watchdog tick would find nothing to do), so it
// may stop when idle: the next delivery or read recovers it from its stream.
bool may_stop(const wa_actor_state& s) {
  bool settled = s.agg.status == "connected" || s.agg.status == "stopped" || s.agg.status == "logged_out" ||
                 s.agg.status == "failed";
  return settled && !s.agg.scanned && !s.current && s.queue.empty() && s.ask_again_ms == 0;
}

caf::behavior wa_actor(wa_ptr self, std::string tenant, std::string session, context_ptr ctx, caf::actor parent) {
  auto& s = self->state;
  s.tenant = tenant;
  s.session = session;
  s.stream = wa::stream_of(tenant, session);
  self->delayed_send(self, ctx->opts.idle, check_atom::value);
  return {
      [=](wa_request& r) {
        self->state.queue.push_back(std::move(r));
        pump(self, *ctx);
      },
      [=](appended& a) {
        auto& s = self->state;
        auto req = std::move(*s.current);
        s.current.reset();
        if (!a.outcome) {
          s.recovered = false;
          req.done(a.outcome.error());
        } else {
          int64_t at = now_us();
          for (auto& e : s.pending) {
            wa::apply(s.agg, e, at);
            if (std::holds_alternative<ev::wa_qr_shown>(e)) s.qr = s.pending_qr;
            else if (!std::holds_alternative<ev::wa_scanned>(e) && !std::holds_alternative<ev::wa_disconnected>(e))
              s.qr.clear();  // connected, stopped, restarted...: that QR is over
          }
          s.version += s.pending.size();
          act(self, *ctx, s.pending);
          watch(self, *ctx);
          req.done(view_of(s, a.outcome->last_position));
        }
        s.pending.clear();
        pump(self, *ctx);
      },
      [=](wa_bridge_done& d) {
        auto& s = self->state;
        if (d.op == "status" && !d.outcome) {
          // A session believed live stays unreconciled until the bridge
          // answers: ask again with backoff (the watchdog covers only
          // starting and scanned sessions).
          // No bridge configured: asking again cannot help.
          bool again = d.outcome.reason() != "bridge_not_configured";
          if (again && !s.ask_scheduled) {
            const auto& p = ctx->opts.wa_policy;
            s.ask_again_ms = s.ask_again_ms ? std::min(s.ask_again_ms * 2, p.backoff_cap_ms) : p.backoff_base_ms;
            s.ask_scheduled = true;
            self->delayed_send(self, std::chrono::milliseconds(s.ask_again_ms), reconcile_atom::value);
          }
          std::fprintf(stderr, "crmd whatsapp: %s/%s: asking the bridge failed: %s%s\n", s.tenant.c_str(),
                       s.session.c_str(), d.outcome.message().c_str(),
                       again ? ("; asking again in " + std::to_string(s.ask_again_ms) + " ms").c_str() : "");
        } else if (d.op == "status" && d.answer) {
          s.ask_again_ms = 0;
          auto st = *d.answer;
          st.now_us = now_us();
          self->state.queue.push_back(wa_request{s.tenant, s.session, wa::command{st}, {"system"}, [](result<wa_view>) {}});
        } else if (!d.outcome && d.op == "start") {
          std::fprintf(stderr, "crmd whatsapp: %s/%s: start failed: %s\n", s.tenant.c_str(), s.session.c_str(),
                       d.outcome.message().c_str());
          s.queue.push_back(wa_request{s.tenant, s.session, wa::command{failed_bridge_call(d.outcome)}, {"system"},
                                       [](result<wa_view>) {}});
        } else if (!d.outcome) {
          std::fprintf(stderr, "crmd whatsapp: %s/%s: %s failed: %s\n", s.tenant.c_str(), s.session.c_str(),
                       d.op.c_str(), d.outcome.message().c_str());
        }
        pump(self, *ctx);
      },
      [=](retry_atom, int64_t attempt) {
        auto& s = self->state;
        s.queue.push_back(wa_request{s.tenant, s.session, wa::command{wa::retry_due{attempt}}, {"system"},
                                     [](result<wa_view>) {}});
        pump(self, *ctx);
      },
      [=](watch_atom) {
        auto& s = self->state;
        s.watching = false;
        if (s.recovered && waiting(s.agg)) {
          watch(self, *ctx);
          s.queue.push_back(wa_request{s.tenant, s.session, wa::command{wa::watchdog{now_us()}}, {"system"},
                                       [](result<wa_view>) {}});
          pump(self, *ctx);
        }
      },
      [=](reconcile_atom) {
        auto& s = self->state;
        s.ask_scheduled = false;
        if (s.recovered && needs_reconcile(s.agg)) call_bridge(self, *ctx, "status");
        else s.ask_again_ms = 0;
      },
      [=](check_atom) {
        auto& s = self->state;
        if (may_stop(s) && std::chrono::steady_clock::now() - s.last_active >= ctx->opts.idle)
          self->send(parent, idle_atom::value, s.tenant + "/" + s.session);
        else
          self->delayed_send(self, ctx->opts.idle, check_atom::value);
      },
      [=](stop_atom) { stop_after_work(self); },
  };
}

}  // namespace

caf::actor spawn_wa_directory(caf::actor_system& sys, context_ptr ctx) {
  auto spawn = [ctx](caf::stateful_actor<keyed_directory_state>* dir, const wa_request& r) {
    return dir->spawn(wa_actor, r.tenant, r.session, ctx, caf::actor_cast<caf::actor>(dir));
  };
  // A session knows when it may stop (not while a QR code is shown): it asks.
  return sys.spawn(keyed_directory<wa_request, decltype(spawn)>, spawn, std::chrono::milliseconds{0});
}

}  // namespace crmd::actors
