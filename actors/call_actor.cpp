// One actor per call (key "<tenant>/<CallSid>"), spawned by the call
// directory: decide, append, answer on the durable ack, one command at a
// time (a call sees a handful of callbacks, so no pipelining).
//
// Recovery reads the call's stream on the actor's thread: a call has tens of
// events at most, unlike a tenant, so it is not worth a trip to the pool.
// The directory stops call actors it has not forwarded a callback to for a
// while (its sweep); it forgets them first, so a later callback spawns a
// fresh actor that recovers from the log.
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <vector>

#include "actors/actor_context.hpp"
#include "actors/keyed_directory.hpp"
#include "events/codec.hpp"

namespace crmd::actors {
namespace {

struct call_state {
  static inline const char* name = "crmd.call";
  std::string tenant, call_sid, stream;
  call::state agg;
  uint64_t version = 0;
  bool recovered = false;
  // A vector, not a deque: an empty deque already allocates ~600 bytes, and
  // tens of thousands of call actors are alive at once; the queue is short.
  std::vector<call_request> queue;
  std::optional<call_request> current;
  std::vector<ev::call_event> pending;
};
using call_ptr = caf::stateful_actor<call_state>*;

// A call hears from Twilio for a few minutes at most, and recovering it reads
// a handful of events: idle call actors stop sooner than tenants do (a busy
// line would otherwise keep hundreds of thousands of them alive). 3 s was
// tried: the stop/respawn churn cost more than the memory it saved.
std::chrono::milliseconds call_idle(const context& ctx) {
  return std::min<std::chrono::milliseconds>(ctx.opts.idle, std::chrono::seconds(30));
}

status recover(call_state& s, context& ctx) {
  s.agg = {};
  s.version = 0;
  uint64_t from = 1;
  for (;;) {
    auto evs = ctx.log.read_stream(s.stream, from, 1000);
    if (!evs) return evs.error();
    if (evs->empty()) break;
    for (auto& e : *evs) {
      from = e.env.stream_seq + 1;
      s.version = e.env.stream_seq;
      if (e.erased) continue;  // the contact was erased: what it said is gone
      auto dec = codec::decode<ev::call_event>(e.env.type, e.env.schema_version, e.payload);
      if (!dec) return dec.error();
      call::apply(s.agg, *dec);
    }
  }
  s.recovered = true;
  ctx.recoveries++;
  return status::ok();
}

void pump(call_ptr self, context& ctx) {
  auto& s = self->state;
  while (!s.current && !s.queue.empty()) {
    auto req = std::move(s.queue.front());
    s.queue.erase(s.queue.begin());
    if (!s.recovered) {
      if (auto st = recover(s, ctx); !st) {
        req.done(st);
        continue;
      }
    }
    auto decided = call::decide(s.agg, req.cmd);
    if (!decided) {
      req.done(decided.error());
      continue;
    }
    if (decided->empty()) {
      req.done(command_ok{0, s.call_sid, 0});
      continue;
    }
    // The call's contact is the data subject: transcripts are personal data.
    std::string contact = s.agg.contact_id;
    if (auto* st = std::get_if<ev::call_started>(&decided->front())) contact = st->contact_id;
    std::vector<new_event> encoded;
    for (auto& e : *decided) {
      auto enc = codec::encode(e);
      encoded.push_back(new_event{enc.type, enc.schema_version, std::move(enc.payload),
                                  call::subject_of(s.tenant, contact)});
    }
    s.pending = std::move(*decided);
    append_to(caf::actor_cast<caf::actor>(self), ctx, s.stream, s.version, std::move(encoded), req.who);
    s.current = std::move(req);
  }
}

caf::behavior call_actor(call_ptr self, std::string tenant, std::string call_sid, context_ptr ctx) {
  auto& s = self->state;
  s.tenant = tenant;
  s.call_sid = call_sid;
  s.stream = call::stream_of(tenant, call_sid);
  return {
      [=](call_request& r) {
        self->state.queue.push_back(std::move(r));
        pump(self, *ctx);
      },
      [=](appended& a) {
        auto& s = self->state;
        auto req = std::move(*s.current);
        s.current.reset();
        if (!a.outcome) {
          s.recovered = false;  // re-read before deciding again
          req.done(a.outcome.error());
        } else {
          for (auto& e : s.pending) call::apply(s.agg, e);
          s.version += s.pending.size();
          req.done(command_ok{a.outcome->last_position, s.call_sid, 0});
        }
        s.pending.clear();
        pump(self, *ctx);
      },
      [=](stop_atom) { stop_after_work(self); },
  };
}

}  // namespace

caf::actor spawn_call_directory(caf::actor_system& sys, context_ptr ctx) {
  auto spawn = [ctx](caf::stateful_actor<keyed_directory_state>* dir, const call_request& r) {
    return dir->spawn(call_actor, r.tenant, r.call_sid, ctx);
  };
  return sys.spawn(keyed_directory<call_request, decltype(spawn)>, spawn, call_idle(*ctx));
}

}  // namespace crmd::actors
