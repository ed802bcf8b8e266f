// The envelope: everything the log records about an event besides its payload.
//
// Stream ids are "<tenant>/<kind>/<id>" (e.g. "acme/tenant/acme",
// "acme/call/CA0123"). The tenant is always the first segment, so an
// envelope never carries a tenant that disagrees with its stream.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "events/status.hpp"

namespace crmd {

// Who or what caused an event, and in answer to what.
struct event_metadata {
  std::string causer;          // user id or a system principal: twilio, bridge, stripe, system
  std::string impersonator;    // the admin acting as `causer`, if any
  std::string request_id;
  std::string correlation_id;
  std::string causation_id;
  std::string client;          // the caller's network address, for requests that came over HTTP
};

struct envelope {
  uint64_t position = 0;        // global, dense, starts at 1
  std::string stream;
  uint64_t stream_seq = 0;      // per stream, dense, starts at 1
  std::string type;             // event type name, e.g. "tenant_created"
  uint16_t schema_version = 1;  // of the payload's type
  int64_t recorded_at_us = 0;   // microseconds since the Unix epoch, UTC, from the log's clock
  std::string tenant;           // derived from `stream`
  event_metadata meta;
  std::string subject;          // data subject id; non-empty means the payload is encrypted
  std::string idempotency_hash; // 32-byte SHA-256 of the append's idempotency key, or empty
  std::string link;             // 32-byte hash chain link (see docs/event-format.md)
};

struct stream_id {
  std::string tenant;
  std::string kind;
  std::string id;
  std::string str() const { return tenant + "/" + kind + "/" + id; }
};

// [a-z0-9][a-z0-9_-]{0,63}
bool is_valid_tenant_id(std::string_view s);
// system, admin, api: never a business's id (system holds crmd's own streams).
bool is_reserved_tenant_id(std::string_view s);
// kind: [a-z][a-z0-9_]{0,31}; id: 1..128 of [A-Za-z0-9._:@+=-]
result<stream_id> parse_stream_id(std::string_view s);

}  // namespace crmd
