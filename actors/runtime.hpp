// The actor runtime behind a plain C++ facade: no CAF type crosses this
// header, so HTTP code never compiles CAF.
//
// Every tenant is a CAF actor (stream "<tenant>/tenant/<tenant>") spawned
// lazily by a directory actor, one per tenant at most, stopped after
// `idle` without commands and recovered from its snapshot plus the tail of
// its stream on the next command. The registry actor owns tenant ids and
// aliases. A command is decided, appended, applied on the durable ack, and
// only then answered.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/call/call_decider.hpp"
#include "actors/registry/registry_decider.hpp"
#include "actors/whatsapp/bridge.hpp"
#include "actors/whatsapp/session_decider.hpp"
#include "actors/tenant/tenant_decider.hpp"
#include "events/envelope.hpp"
#include "events/status.hpp"

namespace crmd {

class event_log;
class kv_store;

struct runtime_options {
  // CRMD_ACTOR_IDLE_SECONDS: a tenant actor with no command for this long stops.
  std::chrono::milliseconds idle = std::chrono::seconds(600);
  // Events between snapshots of an aggregate; also snapshotted on idle stop.
  uint64_t snapshot_every = 1000;
  // CAF scheduler threads; the machine has two cores.
  size_t threads = 2;
  // WhatsApp: the bridge (null: sessions cannot start; start answers an error
  // state) and the reconnect policy (WA_* settings).
  std::shared_ptr<wa::bridge> bridge;
  wa::policy wa_policy;
};

// A WhatsApp session as its actor holds it (the QR text lives only here).
struct wa_view {
  wa::state state;
  std::string qr;  // the current QR text, empty when none is showing
  uint64_t position = 0;  // of the last event the command appended (0: none)
};
using wa_done = std::function<void(result<wa_view>)>;

// What a command was answered with.
struct command_ok {
  uint64_t position = 0;  // of the last event it appended
  std::string id;         // what it created or changed (tenant, user or prompt id)
  uint32_t version = 0;   // the prompt version, where there is one
};
using command_done = std::function<void(result<command_ok>)>;

struct runtime_stats {
  uint64_t recoveries = 0;   // tenant and call actors rebuilt from the log
  uint64_t live_actors = 0;  // tenant actors alive now
  uint64_t idle_stops = 0;   // tenant actors stopped as idle
};

class runtime {
 public:
  virtual ~runtime() = default;

  // `done` runs on a CAF or log thread, exactly once.
  // Tenants and users: one registry actor decides them one at a time.
  virtual void registry_command(registry::command cmd, event_metadata who, command_done done) = 0;
  void create_tenant(registry::create_tenant cmd, event_metadata who, command_done done) {
    registry_command(std::move(cmd), std::move(who), std::move(done));
  }
  virtual void tenant_command(std::string tenant, tenant::command cmd, event_metadata who,
                              command_done done) = 0;
  // One actor per WhatsApp session (stream "<tenant>/wa/<session>"); the
  // answer is the session after the command. read_whatsapp only reads.
  virtual void whatsapp_command(std::string tenant, std::string session, wa::command cmd, event_metadata who,
                                wa_done done) = 0;
  virtual void read_whatsapp(std::string tenant, std::string session, wa_done done) = 0;
  // One actor per call (stream "<tenant>/call/<CallSid>") decides it; an
  // answer with position 0 decided nothing new (a repeat).
  virtual void call_command(std::string tenant, std::string call_sid, call::command cmd, event_metadata who,
                            command_done done) = 0;

  // The canonical id for an id or alias; thread-safe, current as of the last
  // acknowledged registry command.
  virtual std::optional<std::string> resolve_tenant(std::string_view id_or_alias) const = 0;
  virtual size_t tenant_count() const = 0;
  // Runs `read` under the registry's read lock: as of the last acknowledged
  // registry command. Keep it short; it holds up registry writes.
  virtual void read_registry(const std::function<void(const registry::state&)>& read) const = 0;

  virtual runtime_stats stats() const = 0;
  // Lets every actor finish its queued commands, then stops them all.
  virtual void stop() = 0;
};

// Recovers the registry before returning.
result<std::unique_ptr<runtime>> start_runtime(event_log& log, std::shared_ptr<kv_store> kv,
                                               runtime_options options = {});

}  // namespace crmd
