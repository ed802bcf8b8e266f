// The audit trail: one entry per event in the log, whoever caused it.
//
//   v/audit/a/<be64(~position)>             entry JSON, every event, newest first
//   v/audit/#a                              their number (u64be)
//   v/audit/t/<tenant>/<be64(~position)>    "" : the tenant's events, newest first
//   v/audit/#t/<tenant>                     their number
//
// An entry is {"position","at","tenant","actor","impersonator","request_id",
// "client","type","stream"}: the record's envelope only, never its payload,
// so the trail holds nothing an erasure would have to remove. The short
// human summary is made when the trail is read (audit_summary), from the
// decrypted payload if it is still readable.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "projections/views.hpp"

namespace crmd::views {

std::unique_ptr<projection> make_audit_view();

struct audit_filter {
  std::string tenant;  // empty: every tenant
  std::string actor;   // the causer: a user id, operator, twilio, bridge, stripe, system
  std::string type;    // an event type
  std::string stream;  // a stream id, or a prefix of one ending in '/'
  int64_t from_us = std::numeric_limits<int64_t>::min();  // recorded at or after
  int64_t to_us = std::numeric_limits<int64_t>::max();    // recorded before
  bool any() const { return !actor.empty() || !type.empty() || !stream.empty() || from_us != std::numeric_limits<int64_t>::min() || to_us != std::numeric_limits<int64_t>::max(); }
};

// Entries that pass the filter, newest first; `visit` returns false to stop.
status scan_audit(kv_store& kv, const audit_filter& f, const std::function<bool(const std::string& entry)>& visit);

// One page of entries and the number of all that pass (from the counters
// when only the tenant is filtered; otherwise by reading every entry in
// range, so narrow the range with from/to on a large log).
result<page> list_audit(kv_store& kv, const audit_filter& f, uint64_t page_no, uint64_t limit);

// "lead_created: lead_id=L3, source=whatsapp": the ids, states, codes and
// amounts of a payload, never names, phones, e-mail addresses or texts;
// "<type> (erased subject)" once the subject's key is gone.
std::string audit_summary(std::string_view type, uint16_t schema_version, std::string_view payload, bool erased);

}  // namespace crmd::views
