// Helpers to build appends of real event types in tests and benchmarks.
#pragma once

#include <string>

#include "events/codec.hpp"
#include "events/tenant_events.hpp"
#include "storage/event_log.hpp"

namespace crmd::test {

inline new_event make_event(const ev::tenant_event& e, std::string subject = {}) {
  auto enc = codec::encode(e);
  return new_event{enc.type, enc.schema_version, std::move(enc.payload), std::move(subject)};
}

inline new_event note(const std::string& text, std::string subject = {}) {
  return make_event(ev::note_added{"n", "lead-1", text}, std::move(subject));
}

inline append_request one(const std::string& stream, new_event e,
                          uint64_t expected = any_version, std::string idem = {}) {
  append_request r;
  r.stream = stream;
  r.expected_version = expected;
  r.events.push_back(std::move(e));
  r.idempotency_key = std::move(idem);
  r.meta.causer = "test";
  return r;
}

}  // namespace crmd::test
