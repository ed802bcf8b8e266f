#include "replay/verify.hpp"

#include <unordered_map>

#include "events/record.hpp"
#include "storage/crypto.hpp"
#include "storage/event_log.hpp"

namespace crmd {

result<verify_report> verify_log(event_log& log, const std::function<void(uint64_t)>& progress,
                                 const std::atomic<bool>* cancel) {
  verify_report rep;
  std::unordered_map<std::string, std::string> links;      // tenant -> last link
  std::unordered_map<std::string, uint64_t> last_pos;      // tenant -> last position
  std::unordered_map<std::string, uint64_t> seqs;          // stream -> last sequence
  uint64_t expected = 1;

  auto fail = [&](uint64_t pos, std::string tenant, std::string reason) {
    rep.ok = false;
    rep.first_bad_position = pos;
    rep.tenant = tenant.empty() ? "?" : std::move(tenant);
    rep.reason = std::move(reason);
    return false;
  };

  auto s = log.scan_records(1, [&](uint64_t pos, std::string_view stored) {
    if (pos != expected)
      return fail(expected, "", pos == 0 ? "malformed event key"
                                         : "position " + std::to_string(expected) +
                                               " is missing (next stored is " + std::to_string(pos) + ")");
    ++expected;
    auto rec = parse_record(stored);
    if (!rec) {
      // Name the tenant if the damaged bytes still parse without their CRC.
      // Failing that, ask the stream index which stream holds this position.
      auto loose = parse_record(stored, false);
      std::string tenant;
      if (loose) {
        tenant = std::string(loose->tenant);
      } else if (auto stream = log.stream_of(pos)) {
        tenant = stream->substr(0, stream->find('/'));
      }
      return fail(pos, tenant, rec.error().to_string());
    }
    std::string tenant(rec->tenant);
    if (rec->position != pos) return fail(pos, tenant, "record claims position " + std::to_string(rec->position));
    auto& seq = seqs[std::string(rec->stream)];
    if (rec->stream_seq != seq + 1)
      return fail(pos, tenant, "stream " + std::string(rec->stream) + " jumps from sequence " +
                                   std::to_string(seq) + " to " + std::to_string(rec->stream_seq));
    seq = rec->stream_seq;
    auto [it, fresh] = links.try_emplace(tenant, std::string(crypto::sha256_size, '\0'));
    if (fresh) ++rep.tenants;
    auto want = crypto::sha256(it->second, rec->body);
    if (!crypto::constant_time_equal(want, rec->link))
      return fail(pos, tenant, "hash chain link does not match the record (altered or reordered)");
    it->second = std::string(rec->link);
    last_pos[tenant] = pos;
    ++rep.events_checked;
    if ((rep.events_checked & 0xfff) == 0) {
      if (progress) progress(rep.events_checked);
      if (cancel && cancel->load()) return false;
    }
    return true;
  });
  if (!s) return s;
  if (!rep.ok) return rep;
  if (cancel && cancel->load()) return status{errc::shutting_down, "the check was cancelled"};

  for (auto& [tenant, link] : links) {
    auto head = log.chain_head(tenant);
    if (!head) {
      fail(last_pos[tenant], tenant, "no stored chain head: " + head.error().to_string());
      return rep;
    }
    if (head->first != last_pos[tenant] || !crypto::constant_time_equal(head->second, link)) {
      fail(std::max(head->first, last_pos[tenant]), tenant,
           "chain head names position " + std::to_string(head->first) + " but the log ends at " +
               std::to_string(last_pos[tenant]) + " for this tenant (truncated or altered tail)");
      return rep;
    }
  }
  return rep;
}

}  // namespace crmd
