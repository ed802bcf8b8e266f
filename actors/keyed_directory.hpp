// Internal to actors/: a directory of short-lived actors by key (one per call,
// one per WhatsApp session). It spawns a child on the first request for a
// key and forwards every request to it in order. Idle children stop in one
// of two ways. A child that knows best when it may stop (a WhatsApp session
// while a QR code is shown must not) asks with (idle_atom, key). Otherwise,
// with `sweep_idle` set, the directory itself stops the children it has not
// forwarded anything to for that long, on one periodic timer: a call actor
// each with its own idle timer cost the timer thread a wake-up per call
// under webhook load. Either way the directory forgets the child first and
// then tells it to stop, so everything sent before arrives before the stop
// and a later request spawns a fresh child that recovers from the log.
#pragma once

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <unordered_map>

#include "actors/actor_context.hpp"

namespace crmd::actors {

struct keyed_child {
  caf::actor actor;
  std::chrono::steady_clock::time_point last_request;
};

struct keyed_directory_state {
  std::unordered_map<std::string, keyed_child> live;
  size_t stopping_children = 0;
  bool stopping = false;
};

// `Request` has `std::string key() const` and `done(status)` for refusals;
// `spawn(self, request)` spawns the child for a new key.
// `sweep_idle` zero: children ask to stop themselves (idle_atom).
template <class Request, class Spawn>
caf::behavior keyed_directory(caf::stateful_actor<keyed_directory_state>* self, Spawn spawn,
                              std::chrono::milliseconds sweep_idle) {
  using clock = std::chrono::steady_clock;
  self->set_down_handler([=](const caf::down_msg&) {
    auto& s = self->state;
    if (s.stopping_children > 0) --s.stopping_children;
    if (s.stopping && s.stopping_children == 0 && s.live.empty()) self->quit();
  });
  // A child is stopped between sweep_idle and 1.25 sweep_idle after its
  // last request.
  auto sweep_every = std::max<std::chrono::milliseconds>(sweep_idle / 4, std::chrono::milliseconds(1));
  if (sweep_idle.count() > 0) self->delayed_send(self, sweep_every, check_atom::value);
  return {
      [=](Request& r) {
        auto& s = self->state;
        if (s.stopping) return r.done(status{errc::shutting_down, "crmd is stopping"});
        std::string key = r.key();
        auto it = s.live.find(key);
        if (it == s.live.end()) {
          auto child = spawn(self, r);
          self->monitor(child);
          it = s.live.emplace(key, keyed_child{child, {}}).first;
        }
        if (sweep_idle.count() > 0) it->second.last_request = clock::now();
        self->send(it->second.actor, std::move(r));
      },
      [=](idle_atom, const std::string& key) {
        auto& s = self->state;
        auto it = s.live.find(key);
        auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
        if (it == s.live.end() || it->second.actor.address() != sender) return;
        self->send(it->second.actor, stop_atom::value);
        s.live.erase(it);
        ++s.stopping_children;
      },
      [=](check_atom) {  // the sweep
        auto& s = self->state;
        if (s.stopping) return;
        auto now = clock::now();
        for (auto it = s.live.begin(); it != s.live.end();) {
          if (now - it->second.last_request < sweep_idle) {
            ++it;
            continue;
          }
          // A child still working finishes first (stop_after_work).
          self->send(it->second.actor, stop_atom::value);
          it = s.live.erase(it);
          ++s.stopping_children;
        }
        self->delayed_send(self, sweep_every, check_atom::value);
      },
      [=](stop_atom) {
        auto& s = self->state;
        s.stopping = true;
        for (auto& [key, child] : s.live) self->send(child.actor, stop_atom::value);
        s.stopping_children += s.live.size();
        s.live.clear();
        if (s.stopping_children == 0) self->quit();
      },
  };
}

// A keyed child's answer to the directory's stop: what it already holds (a
// command in flight, a queue) is finished first; nothing new can arrive, the
// directory has forgotten it.
template <class Self>
void stop_after_work(Self* self) {
  auto& s = self->state;
  if (s.current || !s.queue.empty()) {
    self->delayed_send(self, std::chrono::milliseconds(10), stop_atom::value);
    return;
  }
  self->quit();
}

}  // namespace crmd::actors
