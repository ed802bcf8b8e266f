// The runtime: CAF system, tenant directory, registry actor, facade.
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <future>
#include <unordered_map>
#include <unordered_set>

#include "actors/actor_context.hpp"
#include "events/codec.hpp"

namespace crmd::actors {

void append_to(caf::actor self, context& ctx, const std::string& stream, uint64_t version,
               std::vector<new_event> events, const event_metadata& who, std::vector<side_write> side_writes) {
  append_request r;
  r.side_writes = std::move(side_writes);
  r.stream = stream;
  r.expected_version = version;
  r.events = std::move(events);
  r.meta = who;
  ctx.log.append_async(std::move(r), [self](result<append_result> res) {
    caf::anon_send(self, appended{std::move(res)});
  });
}

namespace {

// --- the directory: one live actor per tenant ---------------------------------

struct directory_state {
  static inline const char* name = "crmd.tenant_directory";
  std::unordered_map<std::string, caf::actor> live;
  std::unordered_map<caf::actor_addr, std::string> by_addr;
  // Tenants whose actor is stopping: commands wait here until it is down.
  std::unordered_map<std::string, std::vector<tenant_request>> waiting;
  bool stopping = false;
};
using directory_ptr = caf::stateful_actor<directory_state>*;

caf::actor child_for(directory_ptr self, const std::string& key, const context_ptr& ctx) {
  auto& s = self->state;
  if (auto it = s.live.find(key); it != s.live.end()) return it->second;
  auto child = spawn_tenant_actor(self, key, ctx);
  self->monitor(child);
  s.live.emplace(key, child);
  s.by_addr.emplace(child.address(), key);
  return child;
}

caf::behavior directory_behavior(directory_ptr self, context_ptr ctx) {
  self->set_down_handler([=](const caf::down_msg& dm) {
    auto& s = self->state;
    auto it = s.by_addr.find(dm.source);
    if (it == s.by_addr.end()) return;
    std::string key = it->second;
    s.by_addr.erase(it);
    if (auto l = s.live.find(key); l != s.live.end() && l->second.address() == dm.source) s.live.erase(l);
    auto w = s.waiting.find(key);
    if (w != s.waiting.end()) {
      auto reqs = std::move(w->second);
      s.waiting.erase(w);
      if (reqs.empty()) {
        // Nothing arrived while it stopped.
      } else if (!s.stopping) {
        auto child = child_for(self, key, ctx);
        for (auto& r : reqs) self->send(child, std::move(r));
      } else {
        for (auto& r : reqs) r.done(status{errc::shutting_down, "crmd is stopping"});
      }
    }
    if (s.stopping && s.by_addr.empty()) self->quit();
  });
  return {
      [=](tenant_request& r) {
        auto& s = self->state;
        if (s.stopping) {
          r.done(status{errc::shutting_down, "crmd is stopping"});
          return;
        }
        if (auto w = s.waiting.find(r.tenant); w != s.waiting.end()) {
          w->second.push_back(std::move(r));
          return;
        }
        std::string key = r.tenant;
        self->send(child_for(self, key, ctx), std::move(r));
      },
      [=](idle_atom, const std::string& key) {
        auto& s = self->state;
        auto it = s.live.find(key);
        auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
        if (it == s.live.end() || it->second.address() != sender) return;
        // Retire it: new commands wait until it is down, then go to a fresh one.
        s.waiting[key];
        self->send(it->second, stop_atom::value);
        s.live.erase(it);
        ctx->idle_stops++;
      },
      [=](stop_atom) {
        auto& s = self->state;
        s.stopping = true;
        for (auto& [key, child] : s.live) self->send(child, stop_atom::value);
        if (s.by_addr.empty()) self->quit();
      },
  };
}

// --- the registry: tenant ids and aliases --------------------------------------

struct registry_actor_state {
  static inline const char* name = "crmd.registry";
  std::deque<registry_request> queue;
  std::optional<registry_request> current;
  registry::decision pending;
  bool stop_requested = false;
};
using registry_ptr = caf::stateful_actor<registry_actor_state>*;

// One command at a time: ids, aliases and e-mails stay unique only if each
// decision sees every earlier one applied.
void registry_pump(registry_ptr self, context& ctx) {
  auto& s = self->state;
  while (!s.current && !s.queue.empty()) {
    auto req = std::move(s.queue.front());
    s.queue.pop_front();
    result<registry::decision> decided = status{errc::io_error, "unset"};
    uint64_t version = 0;
    {
      std::shared_lock lock(ctx.registry_mu);
      decided = registry::decide(ctx.registry, req.cmd);
      if (decided) {
        auto v = ctx.registry.versions.find(decided->stream);
        version = v == ctx.registry.versions.end() ? 0 : v->second;
      }
    }
    if (!decided) {
      req.done(decided.error());
      continue;
    }
    if (decided->events.empty()) {  // nothing changes: answer at the current position
      req.done(command_ok{ctx.log.last_position(), decided->id, 0});
      continue;
    }
    std::vector<new_event> encoded;
    for (auto& e : decided->events) {
      auto enc = codec::encode(e);
      encoded.push_back(new_event{enc.type, enc.schema_version, std::move(enc.payload), decided->subject});
    }
    s.pending = std::move(*decided);
    append_to(caf::actor_cast<caf::actor>(self), ctx, s.pending.stream, version, std::move(encoded), req.who);
    s.current = std::move(req);
  }
  if (s.stop_requested && !s.current && s.queue.empty()) self->quit();
}

caf::behavior registry_behavior(registry_ptr self, context_ptr ctx) {
  return {
      [=](registry_request& r) {
        self->state.queue.push_back(std::move(r));
        registry_pump(self, *ctx);
      },
      [=](appended& a) {
        auto& s = self->state;
        auto req = std::move(*s.current);
        s.current.reset();
        if (!a.outcome) {
          req.done(a.outcome.error());
        } else {
          {
            std::unique_lock lock(ctx->registry_mu);
            for (auto& e : s.pending.events) registry::apply(ctx->registry, s.pending.stream, e);
          }
          req.done(command_ok{a.outcome->last_position, s.pending.id, 0});
        }
        s.pending = {};
        registry_pump(self, *ctx);
      },
      [=](stop_atom) {
        self->state.stop_requested = true;
        registry_pump(self, *ctx);
      },
  };
}

status recover_stream(context& ctx, const std::string& stream) {
  uint64_t from = 1;
  for (;;) {
    auto evs = ctx.log.read_stream(stream, from, 1000);
    if (!evs) return evs.error();
    if (evs->empty()) return status::ok();
    for (auto& e : *evs) {
      from = e.env.stream_seq + 1;
      if (e.erased) {  // an erased user: gone, but the stream version moves on
        ++ctx.registry.versions[stream];
        continue;
      }
      auto dec = codec::decode<ev::registry_event>(e.env.type, e.env.schema_version, e.payload);
      if (!dec) return status{dec.error().code(), "registry position " + std::to_string(e.env.position) + ": " +
                                                       dec.error().message()};
      registry::apply(ctx.registry, stream, *dec);
    }
  }
}

// The tenants first, then each tenant's users (and the system admins).
status recover_registry(context& ctx) {
  if (auto s = recover_stream(ctx, registry::stream); !s) return s;
  std::vector<std::string> streams{registry::users_stream("")};
  for (auto& [id, t] : ctx.registry.tenants) streams.push_back(registry::users_stream(id));
  for (auto& st : streams)
    if (auto s = recover_stream(ctx, st); !s) return s;
  return status::ok();
}

// --- the facade ----------------------------------------------------------------

struct caf_config : caf::actor_system_config {
  explicit caf_config(size_t threads) {
    set("scheduler.max-threads", static_cast<caf::config_value::integer>(threads));
    // CAF's workers poll for work (100 spins, then 500 polls 50 us apart)
    // before sleeping on a condition variable. On two cores that polling
    // takes the CPU from the HTTP threads, the log writer and RocksDB's
    // flushes: spin briefly, then sleep until work is enqueued. No 50 us
    // naps in between: in this VM each one is a context switch, and they
    // were a quarter of the workers' time under webhook load (3.8 switches
    // per incoming call with ten of them, 2.7 without; bench/RESULTS.md).
    set("work-stealing.aggressive-poll-attempts", caf::config_value::integer{10});
    set("work-stealing.moderate-poll-attempts", caf::config_value::integer{0});
    set("logger.verbosity", caf::atom("quiet"));
  }
};

class caf_runtime : public runtime {
 public:
  caf_runtime(event_log& log, std::shared_ptr<kv_store> kv, runtime_options o)
      : ctx_(std::make_shared<context>(log, std::move(kv), o)),
        cfg_(o.threads),
        sys_(cfg_) {}

  ~caf_runtime() override { stop(); }

  status start() {
    if (auto s = recover_registry(*ctx_); !s) return s;
    directory_ = sys_.spawn(directory_behavior, ctx_);
    registry_ = sys_.spawn(registry_behavior, ctx_);
    ctx_->directory = directory_;
    calls_ = spawn_call_directory(sys_, ctx_);
    whatsapp_ = spawn_wa_directory(sys_, ctx_);
    scheduler_ = sys_.spawn(scheduler_actor, ctx_);
    ctx_->scheduler = scheduler_;
    return status::ok();
  }

  void registry_command(registry::command cmd, event_metadata who, command_done done) override {
    caf::anon_send(registry_, registry_request{std::move(cmd), std::move(who), std::move(done)});
  }

  void read_registry(const std::function<void(const registry::state&)>& read) const override {
    std::shared_lock lock(ctx_->registry_mu);
    read(ctx_->registry);
  }

  void tenant_command(std::string tenant, tenant::command cmd, event_metadata who, command_done done) override {
    caf::anon_send(directory_, tenant_request{std::move(tenant), std::move(cmd), std::move(who), std::move(done)});
  }

  void call_command(std::string tenant, std::string call_sid, call::command cmd, event_metadata who,
                    command_done done) override {
    caf::anon_send(calls_, call_request{std::move(tenant), std::move(call_sid), std::move(cmd), std::move(who),
                                        std::move(done)});
  }

  void whatsapp_command(std::string tenant, std::string session, wa::command cmd, event_metadata who,
                        wa_done done) override {
    caf::anon_send(whatsapp_, wa_request{std::move(tenant), std::move(session), std::move(cmd), std::move(who),
                                         std::move(done)});
  }

  void read_whatsapp(std::string tenant, std::string session, wa_done done) override {
    caf::anon_send(whatsapp_, wa_request{std::move(tenant), std::move(session), std::nullopt, {}, std::move(done)});
  }

  std::optional<std::string> resolve_tenant(std::string_view id_or_alias) const override {
    std::shared_lock lock(ctx_->registry_mu);
    return ctx_->registry.resolve(id_or_alias);
  }

  size_t tenant_count() const override {
    std::shared_lock lock(ctx_->registry_mu);
    return ctx_->registry.tenants.size();
  }

  runtime_stats stats() const override {
    return {ctx_->recoveries.load(), ctx_->live.load(), ctx_->idle_stops.load()};
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    caf::anon_send(scheduler_, stop_atom::value);
    caf::anon_send(directory_, stop_atom::value);
    caf::anon_send(registry_, stop_atom::value);
    caf::anon_send(calls_, stop_atom::value);
    caf::anon_send(whatsapp_, stop_atom::value);
    sys_.await_all_actors_done();
    ctx_->recovery_pool.reset();  // runs what is queued; their actors are gone
    ctx_->bridge_pool.reset();
    ctx_->directory = nullptr;
    ctx_->scheduler = nullptr;
  }

 private:
  context_ptr ctx_;
  caf_config cfg_;
  caf::actor_system sys_;
  caf::actor directory_, registry_, scheduler_, calls_, whatsapp_;
  bool stopped_ = false;
};

}  // namespace

}  // namespace crmd::actors

namespace crmd {

result<std::unique_ptr<runtime>> start_runtime(event_log& log, std::shared_ptr<kv_store> kv,
                                               runtime_options options) {
  auto rt = std::make_unique<actors::caf_runtime>(log, std::move(kv), options);
  if (auto s = rt->start(); !s) return s;
  return std::unique_ptr<runtime>(std::move(rt));
}

}  // namespace crmd
