// Internal to actors/: a directory of short-lived actors by key (one per call,
// one per WhatsApp session). It spawns a child on the first request for a
// key and forwards every request to it in order. A child that has been idle
// asks to stop with (idle_atom, key); the directory forgets it first and
// then tells it to stop, so everything sent before arrives before the stop
// and a later request spawns a fresh child that recovers from the log.
#pragma once

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <string>
#include <unordered_map>

#include "actors/actor_context.hpp"

namespace crmd::actors {

struct keyed_directory_state {
  std::unordered_map<std::string, caf::actor> live;
  size_t stopping_children = 0;
  bool stopping = false;
};

// `Request` has `std::string key() const` and `done(status)` for refusals;
// `spawn(self, request)` spawns the child for a new key.
template <class Request, class Spawn>
caf::behavior keyed_directory(caf::stateful_actor<keyed_directory_state>* self, Spawn spawn) {
  self->set_down_handler([=](const caf::down_msg&) {
    auto& s = self->state;
    if (s.stopping_children > 0) --s.stopping_children;
    if (s.stopping && s.stopping_children == 0 && s.live.empty()) self->quit();
  });
  return {
      [=](Request& r) {
        auto& s = self->state;
        if (s.stopping) return r.done(status{errc::shutting_down, "crmd is stopping"});
        std::string key = r.key();
        auto it = s.live.find(key);
        if (it == s.live.end()) {
          auto child = spawn(self, r);
          self->monitor(child);
          it = s.live.emplace(key, child).first;
        }
        self->send(it->second, std::move(r));
      },
      [=](idle_atom, const std::string& key) {
        auto& s = self->state;
        auto it = s.live.find(key);
        auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
        if (it == s.live.end() || it->second.address() != sender) return;
        self->send(it->second, stop_atom::value);
        s.live.erase(it);
        ++s.stopping_children;
      },
      [=](stop_atom) {
        auto& s = self->state;
        s.stopping = true;
        for (auto& [key, child] : s.live) self->send(child, stop_atom::value);
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
