// Point in time: a tenant's CRM as it stood at a position or a time, built
// by replaying its events (and the registry's) into scratch views in memory.
// The live views and the log are only read.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "events/status.hpp"

namespace crmd {

class event_log;

struct as_of_query {
  std::string tenant;
  uint64_t until_position = std::numeric_limits<uint64_t>::max();  // events at or before it
  int64_t until_us = std::numeric_limits<int64_t>::max();          // recorded at or before it
  uint64_t limit = 1000;  // items per list (each list also gives its total)
};

// {"ok":true,"tenant","as_of":{"position","at"},"events":N,
//  "customers","leads","contracts","invoices","tasks","prompts","users":
//  {"total":N,"items":[...]}, "settings":{...}}
// The position is the last event replayed (the tenant's or the registry's,
// at or before the bound), so the same query always gives the same answer.
// Items have the shapes the live API gives them. Only the tenant actor's
// stream, the tenant's users' and the registry's are read, through the
// stream index: the cost is the tenant's own CRM events, not the log's.
result<std::string> tenant_as_of(event_log& log, const as_of_query& q);

}  // namespace crmd
