// Erasure on request, the parts below the HTTP layer.
//
// <data>/erased_subjects lists every erased data subject, one
// "<subject>\t<RFC 3339 time>" line each, appended and synced before the
// erasure is acknowledged. It lives outside the database and travels with
// backups, so a store restored from a backup older than an erasure erases
// that subject again when crmd serve starts (reerase_listed()).
#pragma once

#include <string>
#include <vector>

#include "events/status.hpp"

namespace crmd {

class event_log;
class kv_store;

status append_erased(const std::string& data_dir, const std::string& subject);
// Subjects listed in `file`; an absent file is an empty list.
result<std::vector<std::string>> read_erased(const std::string& file);

// Destroys the key of every listed subject that still has one (a restored
// older backup), drops the snapshots of their tenants' aggregates (which
// may hold their phone numbers) and purges the store. Returns the tenants
// touched, whose views must then be rebuilt.
result<std::vector<std::string>> reerase_listed(event_log& log, kv_store& kv, const std::string& data_dir);

}  // namespace crmd
