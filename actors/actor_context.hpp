// Internal to actors/: what every actor shares, and the CAF message types.
// Included only by the actor translation units.
#pragma once

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/actor_system.hpp>
#include <caf/behavior.hpp>
#include <caf/stateful_actor.hpp>

#include <atomic>
#include <deque>
#include <shared_mutex>

#include "actors/runtime.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"
#include "storage/worker_pool.hpp"

namespace crmd::actors {

struct context {
  context(event_log& l, std::shared_ptr<kv_store> k, runtime_options o) : log(l), kv(std::move(k)), opts(o) {}
  event_log& log;
  std::shared_ptr<kv_store> kv;
  runtime_options opts;
  std::atomic<uint64_t> recoveries{0}, live{0}, idle_stops{0};
  caf::actor directory;  // set once at start
  caf::actor scheduler;  // set once at start
  // Recoveries (snapshot + stream tail) run here, not on a CAF thread: a big
  // tenant takes hundreds of milliseconds to read back.
  std::unique_ptr<worker_pool> recovery_pool = std::make_unique<worker_pool>(2, 1u << 20);
  // WhatsApp bridge calls block up to the client's timeout (10 s) when the
  // bridge hangs: they get threads of their own, so a bridge that is down
  // never holds up a tenant's recovery.
  std::unique_ptr<worker_pool> bridge_pool = std::make_unique<worker_pool>(2, 1u << 16);
  // Written by the registry actor only, read by HTTP threads.
  mutable std::shared_mutex registry_mu;
  registry::state registry;
};
using context_ptr = std::shared_ptr<context>;

struct tenant_request {
  std::string tenant;
  tenant::command cmd;
  event_metadata who;
  command_done done;
};

struct call_request {
  std::string tenant, call_sid;
  call::command cmd;
  event_metadata who;
  command_done done;
  std::string key() const { return tenant + "/" + call_sid; }
};

struct wa_request {
  std::string tenant, session;
  std::optional<wa::command> cmd;  // empty: a read
  event_metadata who;
  wa_done done;
  std::string key() const { return tenant + "/" + session; }
};

struct registry_request {
  registry::command cmd;
  event_metadata who;
  command_done done;
};

// The log's answer to an actor's append, sent back into its mailbox.
struct appended {
  result<append_result> outcome;
};

using check_atom = caf::atom_constant<caf::atom("check")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using rearm_atom = caf::atom_constant<caf::atom("rearm")>;
using fired_atom = caf::atom_constant<caf::atom("fired")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

// Spawned by the directory, which monitors it.
caf::actor spawn_tenant_actor(caf::local_actor* parent, std::string tenant, context_ptr ctx);
caf::behavior tenant_directory(caf::event_based_actor* self, context_ptr ctx);
// One actor per WhatsApp session in use (actors/whatsapp_actor.cpp).
caf::actor spawn_wa_directory(caf::actor_system& sys, context_ptr ctx);
// One actor per live call; idle ones stop (actors/call_actor.cpp).
caf::actor spawn_call_directory(caf::actor_system& sys, context_ptr ctx);
// Recovers the registry stream before it handles anything.
caf::behavior registry_actor(caf::event_based_actor* self, context_ptr ctx);

// The durable schedule: one actor fires due entries of the `schedule`
// column family (also overdue ones after a restart) as commands to their
// owners, and deletes an entry once its owner has acknowledged it.
caf::behavior scheduler_actor(caf::event_based_actor* self, context_ptr ctx);
// be64(due_us) "tenant" '\0' tenant '\0' timer_id
std::string schedule_key(int64_t due_us, const std::string& tenant, const std::string& timer_id);

// Appends encoded events to `stream` expecting `version`; the outcome
// arrives in `self`'s mailbox as `appended`.
void append_to(caf::actor self, context& ctx, const std::string& stream, uint64_t version,
               std::vector<new_event> events, const event_metadata& who,
               std::vector<side_write> side_writes = {});

}  // namespace crmd::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(crmd::actors::tenant_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(crmd::actors::registry_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(crmd::actors::call_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(crmd::actors::wa_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(crmd::actors::appended)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(crmd::actors::context_ptr)
