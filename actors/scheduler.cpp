// The durable schedule's actor. Entries live in the `schedule` column
// family, written in the same batch as the event that set the timer, so a
// timer exists exactly when its event does. This actor fires what is due
// (overdue entries right after a restart), as an ordinary command through
// the tenant directory, which spawns the tenant actor if it was stopped as
// idle. Entries are deleted only after the owner acknowledged the command;
// a lost deletion just fires again, which the owner's decide() ignores.
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include <chrono>
#include <unordered_set>

#include "actors/actor_context.hpp"

namespace crmd::actors {
namespace {

using namespace std::chrono;

int64_t now_us() { return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count(); }

struct parsed {
  int64_t due = 0;
  std::string tenant, timer_id;
};

bool parse(std::string_view k, parsed& out) {
  if (k.size() < 8) return false;
  out.due = static_cast<int64_t>(read_be64(k));
  k.remove_prefix(8);
  auto a = k.find('\0');
  if (a == std::string_view::npos || k.substr(0, a) != "tenant") return false;
  k.remove_prefix(a + 1);
  auto b = k.find('\0');
  if (b == std::string_view::npos) return false;
  out.tenant = std::string(k.substr(0, b));
  out.timer_id = std::string(k.substr(b + 1));
  return true;
}

}  // namespace

std::string schedule_key(int64_t due_us, const std::string& tenant, const std::string& timer_id) {
  std::string k = be64(static_cast<uint64_t>(std::max<int64_t>(0, due_us)));
  k += "tenant";
  k.push_back('\0');
  k += tenant;
  k.push_back('\0');
  k += timer_id;
  return k;
}

caf::behavior scheduler_actor(caf::event_based_actor* self, context_ptr ctx) {
  auto inflight = std::make_shared<std::unordered_set<std::string>>();
  auto armed_for = std::make_shared<int64_t>(INT64_MAX);
  auto stopping = std::make_shared<bool>(false);
  // Only the newest armed tick counts; older ones still in flight are ignored,
  // so re-arming never multiplies the ticks.
  auto generation = std::make_shared<uint64_t>(0);

  auto arm = [=](int64_t due) {
    if (due >= *armed_for) return;
    *armed_for = due;
    auto delay = microseconds(std::max<int64_t>(0, due - now_us()));
    self->delayed_send(self, delay, tick_atom::value, ++*generation);
  };

  self->send(self, tick_atom::value, *generation);
  return {
      [=](tick_atom, uint64_t gen) {
        if (*stopping || gen != *generation) return;
        *armed_for = INT64_MAX;
        int64_t now = now_us();
        auto it = ctx->kv->scan(cf::schedule, "", "");
        for (; it->valid(); it->next()) {
          parsed p;
          std::string key(it->key());
          if (!parse(key, p)) continue;  // not ours to fire
          if (p.due > now) {
            arm(p.due);
            break;
          }
          if (!inflight->insert(key).second) continue;
          caf::actor me = caf::actor_cast<caf::actor>(self);
          event_metadata who;
          who.causer = "system";
          who.causation_id = "timer:" + p.timer_id;
          caf::anon_send(ctx->directory,
                         tenant_request{p.tenant, tenant::fire_timer{p.timer_id}, who,
                                        [me, key](result<command_ok> r) {
                                          caf::anon_send(me, fired_atom::value, key, r.has_value());
                                        }});
        }
        // Keep a slow heartbeat so that a failed firing is retried.
        arm(now + duration_cast<microseconds>(seconds(1)).count());
      },
      [=](rearm_atom, int64_t due) { arm(due); },
      [=](fired_atom, const std::string& key, bool ok) {
        inflight->erase(key);
        if (!ok) return;  // retried on a later tick
        auto b = ctx->kv->new_batch();
        b->del(cf::schedule, key);
        ctx->kv->write(*b, false);
      },
      [=](stop_atom) {
        *stopping = true;
        self->quit();
      },
  };
}

}  // namespace crmd::actors
