// One actor per tenant: decide, append, reply on the durable ack.
//
// Appends are pipelined: a command is decided on the state that includes the
// events of appends still in flight, and appended expecting the version
// after them, so many commands of one tenant share a group commit. The log
// acknowledges one actor's appends in order. If one fails, every later one
// fails too (its expected version no longer matches, so it writes nothing);
// the actor then re-reads its stream before deciding anything else.
#include <caf/event_based_actor.hpp>
#include <caf/local_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <cassert>
#include <chrono>

#include "actors/actor_context.hpp"
#include "actors/tenant/tenant_snapshot.hpp"
#include "events/codec.hpp"
#include "storage/secret_store.hpp"

namespace crmd::actors {

// A recovery job's answer to its actor.
struct recovered_state {
  tenant::state agg;
  uint64_t version = 0;
  uint64_t replayed = 0;  // events read after the snapshot
};
struct recovery_done {
  result<recovered_state> outcome;
};

}  // namespace crmd::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(crmd::actors::recovery_done)

namespace crmd::actors {
namespace {

using steady = std::chrono::steady_clock;

struct tenant_state {
  static inline const char* name = "crmd.tenant";
  std::string tenant, stream;
  tenant::state agg;
  uint64_t version = 0;  // of the stream, as applied
  bool recovered = false;
  bool recovering = false;  // a recovery job is reading the snapshot and stream
  std::deque<tenant_request> queue;  // waiting for the pipeline to drain (after a failure)
  struct inflight_append {
    tenant_request req;
    std::vector<ev::tenant_event> events;
  };
  std::deque<inflight_append> inflight;  // appended, not yet acknowledged, in order
  bool broken = false;                   // an in-flight append failed: drain, then recover
  bool stop_requested = false;
  uint64_t since_snapshot = 0;
  steady::time_point last_active = steady::now();
  caf::actor parent;
};
using self_ptr = caf::stateful_actor<tenant_state>*;

// What a command's first event tells its caller (position comes on the ack).
command_ok answer_of(const ev::tenant_event& first) {
  command_ok ok;
  if (auto* saved = std::get_if<ev::prompt_saved>(&first)) {
    ok.id = saved->prompt_id;
    ok.version = saved->version;
  } else if (auto* del = std::get_if<ev::prompt_deleted>(&first)) {
    ok.id = del->prompt_id;
  } else if (auto* set = std::get_if<ev::timer_set>(&first)) {
    ok.id = set->timer_id;
  } else if (auto* fired = std::get_if<ev::timer_fired>(&first)) {
    ok.id = fired->timer_id;
  } else if (auto* lc = std::get_if<ev::lead_created>(&first)) {
    ok.id = lc->lead_id;
  } else if (auto* lu = std::get_if<ev::lead_updated>(&first)) {
    ok.id = lu->lead_id;
  } else if (auto* ld = std::get_if<ev::lead_deleted>(&first)) {
    ok.id = ld->lead_id;
  } else if (auto* lv = std::get_if<ev::lead_converted>(&first)) {
    ok.id = lv->lead_id;
  } else if (auto* na = std::get_if<ev::note_added>(&first)) {
    ok.id = na->note_id;
  } else if (auto* tc = std::get_if<ev::task_created>(&first)) {
    ok.id = tc->task_id;
  } else if (auto* td = std::get_if<ev::task_completed>(&first)) {
    ok.id = td->task_id;
  } else if (auto* tr = std::get_if<ev::task_reopened>(&first)) {
    ok.id = tr->task_id;
  } else if (auto* ts = std::get_if<ev::task_rescheduled>(&first)) {
    ok.id = ts->task_id;
  } else if (auto* cc = std::get_if<ev::contract_created>(&first)) {
    ok.id = cc->contract_id;
  } else if (auto* cs = std::get_if<ev::contract_status_changed>(&first)) {
    ok.id = cs->contract_id;
  } else if (auto* sr = std::get_if<ev::signature_recorded>(&first)) {
    ok.id = sr->signature_id;
  } else if (auto* ic = std::get_if<ev::invoice_created>(&first)) {
    ok.id = ic->invoice_id;
  } else if (auto* is = std::get_if<ev::invoice_status_changed>(&first)) {
    ok.id = is->invoice_id;
  } else if (auto* ip = std::get_if<ev::invoice_paid>(&first)) {
    ok.id = ip->invoice_id;
  } else if (auto* pr = std::get_if<ev::payment_intent_recorded>(&first)) {
    ok.id = pr->invoice_id;
  } else if (auto* dc = std::get_if<ev::deal_created>(&first)) {
    ok.id = dc->deal_id;
  } else if (auto* du = std::get_if<ev::deal_updated>(&first)) {
    ok.id = du->deal_id;
  } else if (auto* dd = std::get_if<ev::deal_closed>(&first)) {
    ok.id = dd->deal_id;
  }
  return ok;
}

void write_snapshot(self_ptr self, context& ctx) {
  auto& s = self->state;
  // Only durable state is snapshotted: nothing may be in flight.
  if (s.since_snapshot == 0 || !s.inflight.empty()) return;
  auto b = ctx.kv->new_batch();
  tenant::add_snapshot(*b, s.stream, s.version, s.agg);
  // A snapshot is a cache of the log: losing it costs a longer recovery only.
  if (ctx.kv->write_unlogged(*b).is_ok()) {
    s.since_snapshot = 0;
    tenant::clear_dirty(s.agg);
  }
}

// Runs on the recovery pool: the state as of the stream's last event.
result<recovered_state> read_back(const std::string& stream, context& ctx) {
  recovered_state r;
  tenant::load_snapshot(*ctx.kv, stream, r.agg, r.version);
  for (;;) {
    auto evs = ctx.log.read_stream(stream, r.version + 1, 1000);
    if (!evs) return evs.error();
    if (evs->empty()) return r;
    for (auto& e : *evs) {
      if (!e.erased) {
        auto dec = codec::decode<ev::tenant_event>(e.env.type, e.env.schema_version, e.payload);
        if (!dec) return dec.error();
        tenant::apply(r.agg, *dec);
      }
      r.version = e.env.stream_seq;
      ++r.replayed;
    }
  }
}

void start_recovery(self_ptr self, const context_ptr& ctx) {
  auto& s = self->state;
  s.recovering = true;
  s.broken = false;
  s.recovered = false;
  bool queued = ctx->recovery_pool->try_submit([me = caf::actor_cast<caf::actor>(self), ctx, stream = s.stream] {
    caf::anon_send(me, recovery_done{read_back(stream, *ctx)});
  });
  if (!queued) {  // the runtime is stopping
    s.recovering = false;
    for (auto& r : s.queue) r.done(status{errc::shutting_down, "crmd is stopping"});
    s.queue.clear();
  }
}

void maybe_quit(self_ptr self, context& ctx) {
  auto& s = self->state;
  if (s.stop_requested && s.inflight.empty() && s.queue.empty()) {
    write_snapshot(self, ctx);
    self->quit();
  }
}

void pump(self_ptr self, const context_ptr& ctx_ptr) {
  auto& s = self->state;
  auto& ctx = *ctx_ptr;
  // After a failure, nothing is decided until the pipeline has drained and
  // the state has been re-read from the log.
  while (!s.queue.empty() && !(s.broken && !s.inflight.empty()) && !s.recovering) {
    if (s.broken || !s.recovered) {
      start_recovery(self, ctx_ptr);  // commands wait in the queue meanwhile
      break;
    }
    tenant_request req = std::move(s.queue.front());
    s.queue.pop_front();
    auto decided = tenant::decide(s.agg, req.cmd);
    if (!decided) {
      req.done(decided.error());
      continue;
    }
    if (decided->empty()) {  // nothing to record: a timer that already fired, a known contact
      req.done(command_ok{0, tenant::answer_id(s.agg, req.cmd), 0});
      continue;
    }
    std::vector<new_event> encoded;
    std::vector<side_write> side;
    for (auto& e : *decided) {
      auto enc = codec::encode(e);
      encoded.push_back(new_event{enc.type, enc.schema_version, std::move(enc.payload), tenant::subject_of(s.tenant, e)});
      // The schedule entry is durable exactly when the timer_set event is.
      if (auto* t = std::get_if<ev::timer_set>(&e))
        side.push_back({uint8_t(cf::schedule), schedule_key(t->due_us, s.tenant, t->timer_id), "", false});
      // So is a secret with the event that records its change.
      if (auto* w = std::get_if<ev::whatsapp_token_changed>(&e)) {
        auto* cs = std::get_if<crm::change_settings>(&req.cmd);
        assert(cs && cs->sealed_whatsapp_token);  // only change_settings with a token decides this event
        side.push_back({uint8_t(cf::meta), secrets::meta_key(s.tenant, secrets::whatsapp_graph_token),
                        *cs->sealed_whatsapp_token, w->removed});
      }
    }
    // The caller is answered from the log's callback as soon as the append is
    // durable, without waiting for this actor's turn on a CAF thread; the
    // actor only learns of failures (and answers those itself).
    auto ok = std::make_shared<command_ok>(answer_of(decided->front()));
    auto done = std::make_shared<command_done>(std::move(req.done));
    req.done = [done](result<command_ok> r) { (*done)(std::move(r)); };
    append_request ar;
    ar.side_writes = std::move(side);
    ar.stream = s.stream;
    ar.expected_version = s.version;
    ar.events = std::move(encoded);
    ar.meta = req.who;
    ctx.log.append_async(std::move(ar), [self = caf::actor_cast<caf::actor>(self), ok, done](result<append_result> r) {
      if (r) {
        ok->position = r->last_position;
        (*done)(*ok);
      }
      caf::anon_send(self, appended{std::move(r)});
    });
    // Speculatively apply: the next command is decided on top of this one.
    for (auto& e : *decided) tenant::apply(s.agg, e);
    s.version += decided->size();
    s.inflight.push_back({std::move(req), std::move(*decided)});
  }
  maybe_quit(self, ctx);
}

void on_recovered(self_ptr self, const context_ptr& ctx, recovery_done& r) {
  auto& s = self->state;
  s.recovering = false;
  if (!r.outcome) {
    for (auto& q : s.queue)
      q.done(status{errc::io_error, "cannot recover tenant " + s.tenant + ": " + r.outcome.error().message()});
    s.queue.clear();
  } else {
    s.agg = std::move(r.outcome->agg);
    s.version = r.outcome->version;
    s.since_snapshot += r.outcome->replayed;
    s.recovered = true;
    ctx->recoveries++;
  }
  pump(self, ctx);
}

void on_appended(self_ptr self, const context_ptr& ctx_ptr, appended& a) {
  auto& ctx = *ctx_ptr;
  auto& s = self->state;
  auto done = std::move(s.inflight.front());
  s.inflight.pop_front();
  if (!a.outcome) {
    // The speculative state is wrong from here on: later in-flight appends
    // fail on their expected version and write nothing.
    s.broken = true;
    s.recovered = false;
    done.req.done(a.outcome.error().code() == errc::conflict && !s.inflight.empty()
                      ? status{errc::busy, "an earlier command of this tenant failed; retry", "retry"}
                      : a.outcome.error());
  } else {
    s.since_snapshot += done.events.size();
    // Answered already from the log's callback.
    for (auto& e : done.events)
      if (auto* set = std::get_if<ev::timer_set>(&e))
        if (ctx.scheduler) caf::anon_send(ctx.scheduler, rearm_atom::value, set->due_us);
    // Every `snapshot_every` events; each costs what changed since the last.
    if (s.since_snapshot >= ctx.opts.snapshot_every) write_snapshot(self, ctx);
  }
  pump(self, ctx_ptr);
}

caf::behavior tenant_behavior(self_ptr self, std::string tenant, context_ptr ctx, caf::actor parent) {
  auto& s = self->state;
  s.parent = std::move(parent);
  s.tenant = tenant;
  s.stream = tenant + "/tenant/" + tenant;
  ctx->live++;
  self->attach_functor([ctx] { ctx->live--; });
  auto check_every = std::max<std::chrono::milliseconds>(ctx->opts.idle / 4, std::chrono::milliseconds(10));
  self->delayed_send(self, check_every, check_atom::value);
  return {
      [=](tenant_request& r) {
        self->state.last_active = steady::now();
        self->state.queue.push_back(std::move(r));
        pump(self, ctx);
      },
      [=](appended& a) { on_appended(self, ctx, a); },
      [=](recovery_done& r) { on_recovered(self, ctx, r); },
      [=](check_atom) {
        auto& st = self->state;
        if (st.stop_requested) return;
        bool quiet = st.inflight.empty() && st.queue.empty();
        if (quiet && steady::now() - st.last_active >= ctx->opts.idle) {
          // Ask the directory to retire us, so that no command is lost to a
          // race between our quitting and a new command for this tenant.
          self->send(st.parent, idle_atom::value, st.tenant);
        } else {
          self->delayed_send(self, check_every, check_atom::value);
        }
      },
      [=](stop_atom) {
        self->state.stop_requested = true;
        maybe_quit(self, *ctx);
      },
  };
}

}  // namespace

caf::actor spawn_tenant_actor(caf::local_actor* parent, std::string tenant, context_ptr ctx) {
  return parent->spawn(tenant_behavior, std::move(tenant), std::move(ctx),
                       caf::actor_cast<caf::actor>(parent));
}

}  // namespace crmd::actors
