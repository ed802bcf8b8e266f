// Integrity proofs a third party can check: a tenant's events as JSON lines
// with the exact hashed bytes beside the decoded event (docs/audit.md).
//
//   line 1:  {"format":"crmd-export/1","tenant","exported_at","chain_head":{"position","link"}}
//   then one line per event of the tenant, in position order:
//            {"position","stream","stream_seq","type","schema_version","recorded_at",
//             "prev_link","link","body","subject","erased","event"}
//   then one line per data subject whose key still exists:
//            {"subject_key":{"subject","key"}}
//
// `body` is the record body as stored (base64), the exact bytes the chain
// hashes: link = SHA-256(prev_link || body), hex. `event` is the payload
// decoded (null once its subject is erased). Encrypted payloads are checked
// by decrypting the body's payload with the subject's key (AES-256-GCM,
// AAD = subject), exported because the file already holds that plaintext.
// The chain head is the log's stored head for the tenant when exported: the
// last event line must reach it, so a cut tail is caught.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <ostream>
#include <string>

#include "events/status.hpp"

namespace crmd {

class event_log;
class kv_store;

// Writes the export; the number of events written.
result<uint64_t> export_tenant(event_log& log, kv_store& kv, const std::string& tenant, std::ostream& out);

struct export_check {
  bool ok = true;
  uint64_t events = 0;
  uint64_t decrypted = 0;  // encrypted events whose plaintext was proven
  uint64_t erased = 0;     // events whose subject is erased: chain checked, payload not
  uint64_t bad_line = 0;   // 1-based; 0 when ok
  std::string reason;
};

// Checks an export alone: every link, that links chain from 32 zero bytes
// (or from the previous line), that the body's fields equal the line's and
// its payload decodes to `event`, and that the last link is the chain head.
export_check verify_export(std::istream& in);

}  // namespace crmd
