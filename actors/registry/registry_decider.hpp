// The tenant registry aggregate: which tenant ids and aliases exist.
// Pure functions: decide(state, command) -> events or a rejection; apply.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/status.hpp"
#include "events/tenant_events.hpp"

namespace crmd::registry {

constexpr const char* stream = "system/registry/tenants";

struct tenant_info {
  std::string id;
  std::string name;
  std::vector<std::string> aliases;
};

struct state {
  std::map<std::string, tenant_info> tenants;
  std::map<std::string, std::string> aliases;  // alias -> canonical id
  uint64_t version = 0;                        // of the registry stream

  // The canonical id for an id or alias, if such a tenant exists.
  std::optional<std::string> resolve(std::string_view id_or_alias) const;
};

struct create_tenant {
  std::string id;
  std::string name;
  std::vector<std::string> aliases;
};

// Rejections: errc::invalid_argument with reason invalid_tenant_id,
// reserved_tenant_id, invalid_name, invalid_alias; errc::conflict with
// reason tenant_exists or alias_taken.
result<std::vector<ev::registry_event>> decide(const state& s, const create_tenant& c);
void apply(state& s, const ev::registry_event& e);

}  // namespace crmd::registry
