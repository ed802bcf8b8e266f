// Incremental snapshots of the tenant aggregate, in the `snapshots` family:
//   <stream> '\0' 'h'             -> be64(version) header (state without its tables)
//   <stream> '\0' <tag> be64(n)   -> one row of a table: p prompt, c contact,
//                                    t task, k contract, i invoice, d deal
// A snapshot writes the header and the rows changed since the last one, in
// one batch, so it costs what changed, not the tenant's size. Unlogged
// batches of one family are lost after a crash only as a suffix, so what
// survives is always the state as of the surviving header's version.
#pragma once

#include <cstdint>
#include <string>

#include "actors/tenant/tenant_decider.hpp"
#include "storage/kv.hpp"

namespace crmd::tenant {

// Adds the header and the changed rows to `b`; call clear_dirty() once the
// batch is written.
void add_snapshot(kv_batch& b, const std::string& stream, uint64_t version, state& s);
void clear_dirty(state& s);
// The snapshot's state and version; false (and `out` untouched) when there is
// none or it does not decode: the log has everything.
bool load_snapshot(kv_store& kv, const std::string& stream, state& out, uint64_t& version);

}  // namespace crmd::tenant
