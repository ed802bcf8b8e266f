// The integrity check behind `crmd verify`.
//
// Walks the whole log in position order and checks, for every record: that
// positions are dense from 1, the record's framing and CRC, that the record
// names the position it is stored at, that stream sequences are dense, and
// that its link equals sha256(previous link of its tenant || body). At the
// end each tenant's last link must equal the stored chain head, so a
// truncated tail is caught too. The first failure is reported.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "events/status.hpp"

namespace crmd {

class event_log;

struct verify_report {
  bool ok = true;
  uint64_t events_checked = 0;
  uint64_t tenants = 0;
  uint64_t first_bad_position = 0;  // 0 when ok
  std::string tenant;               // of the first bad record, "?" if unreadable
  std::string reason;
};

// `progress` (optional) is called every 4096 events with the count so far.
// `cancel` (optional): once set, the walk stops; the report then says
// errc::shutting_down.
result<verify_report> verify_log(event_log& log, const std::function<void(uint64_t)>& progress = {},
                                 const std::atomic<bool>* cancel = nullptr);

}  // namespace crmd
