#include "actors/registry/registry_decider.hpp"

#include <set>

#include "events/envelope.hpp"

namespace crmd::registry {

std::optional<std::string> state::resolve(std::string_view id_or_alias) const {
  std::string k(id_or_alias);
  if (tenants.count(k)) return k;
  if (auto it = aliases.find(k); it != aliases.end()) return it->second;
  return std::nullopt;
}

result<std::vector<ev::registry_event>> decide(const state& s, const create_tenant& c) {
  if (!is_valid_tenant_id(c.id))
    return status{errc::invalid_argument, "field 'id' must match [a-z0-9][a-z0-9_-]{0,63}",
                  "invalid_tenant_id"};
  if (is_reserved_tenant_id(c.id))
    return status{errc::invalid_argument, "tenant id '" + c.id + "' is reserved", "reserved_tenant_id"};
  if (c.name.empty() || c.name.size() > 200)
    return status{errc::invalid_argument, "field 'name' must be 1..200 bytes", "invalid_name"};
  if (s.resolve(c.id))
    return status{errc::conflict, "tenant id '" + c.id + "' is already taken", "tenant_exists"};
  std::set<std::string> seen;
  for (auto& a : c.aliases) {
    if (!is_valid_tenant_id(a) || is_reserved_tenant_id(a) || a == c.id || !seen.insert(a).second)
      return status{errc::invalid_argument, "alias '" + a + "' is not a valid, distinct tenant id",
                    "invalid_alias"};
    if (s.resolve(a))
      return status{errc::conflict, "alias '" + a + "' is already taken", "alias_taken"};
  }
  return std::vector<ev::registry_event>{ev::tenant_created{c.id, c.name, c.aliases}};
}

void apply(state& s, const ev::registry_event& e) {
  std::visit(
      [&](const ev::tenant_created& c) {
        s.tenants[c.tenant_id] = tenant_info{c.tenant_id, c.name, c.aliases};
        for (auto& a : c.aliases) s.aliases[a] = c.tenant_id;
      },
      e);
  ++s.version;
}

}  // namespace crmd::registry
