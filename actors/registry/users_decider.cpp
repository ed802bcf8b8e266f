// The user half of the registry decider: create, re-role, delete.
#include "actors/registry/registry_decider.hpp"
#include "identity/roles.hpp"

namespace crmd::registry {
namespace {

using identity::role;

status invalid(const std::string& field, const std::string& why) {
  return {errc::invalid_argument, "field '" + field + "' " + why, "invalid_field"};
}
status forbidden(const std::string& why) { return {errc::forbidden, why, "forbidden"}; }
status no_user(const std::string& id) { return {errc::not_found, "no user '" + id + "'", "user_not_found"}; }

// The target as the actor may see it: users of other tenants do not exist
// for anyone but a system admin.
result<const user_info*> visible_user(const state& s, const actor& by, const std::string& id) {
  auto* u = s.live_user(id);
  if (!u) return no_user(id);
  if (by.role != "system_admin" && u->tenant != by.tenant) return no_user(id);
  return u;
}

bool may_manage(const actor& by, const std::string& target_role) {
  auto a = identity::parse_role(by.role);
  auto t = identity::parse_role(target_role);
  return a && t && identity::may_manage(*a, *t);
}

result<decision> create(const state& s, const create_user& c) {
  auto email = normalize_email(c.email);
  if (!email) return invalid("email", "must be an e-mail address");
  if (!identity::parse_role(c.role)) return invalid("role", "must be system_admin, owner, manager or agent");
  if (c.password_hash.empty()) return invalid("password", "is required");
  if (c.role == "system_admin") {
    if (!c.tenant.empty()) return invalid("tenant_id", "must be empty for a system_admin");
  } else {
    if (c.tenant.empty()) return invalid("tenant_id", "is required for role " + c.role);
    auto t = s.tenants.find(c.tenant);
    if (t == s.tenants.end()) return status{errc::not_found, "no tenant '" + c.tenant + "'", "tenant_not_found"};
    if (t->second.status == "deleted")
      return status{errc::conflict, "tenant '" + c.tenant + "' is deleted", "tenant_deleted"};
  }
  if (!may_manage(c.by, c.role)) return forbidden("a " + c.by.role + " cannot create a user with role " + c.role);
  if (c.by.role != "system_admin" && c.by.tenant != c.tenant)
    return status{errc::not_found, "no tenant '" + c.tenant + "'", "tenant_not_found"};
  if (s.user_by_email(*email)) return status{errc::conflict, "e-mail " + *email + " is already in use", "email_taken"};
  std::string id = "u" + std::to_string(s.next_user);
  return decision{users_stream(c.tenant), user_subject(c.tenant, id),
                  {ev::user_created{id, c.tenant, *email, c.role, c.password_hash}}, id};
}

result<decision> change(const state& s, const change_role& c) {
  auto u = visible_user(s, c.by, c.user_id);
  if (!u) return u.error();
  auto* target = *u;
  if (!identity::parse_role(c.role)) return invalid("role", "must be system_admin, owner, manager or agent");
  if ((c.role == "system_admin") != (target->role == "system_admin"))
    return invalid("role", "cannot move a user between a tenant and the system");
  if (target->id == c.by.user_id) return status{errc::conflict, "you cannot change your own role", "cannot_change_self"};
  if (!may_manage(c.by, target->role) || !may_manage(c.by, c.role))
    return forbidden("a " + c.by.role + " cannot change a " + target->role + " into a " + c.role);
  decision d{users_stream(target->tenant), "", {}, target->id};
  if (c.role == target->role) return d;
  if (target->role == "owner" && s.live_owners(target->tenant) == 1)
    return status{errc::conflict, "the last owner of tenant '" + target->tenant + "' cannot be demoted", "last_owner"};
  d.events.push_back(ev::user_role_changed{target->id, c.role});
  return d;
}

result<decision> remove(const state& s, const delete_user& c) {
  auto u = visible_user(s, c.by, c.user_id);
  if (!u) return u.error();
  auto* target = *u;
  if (target->id == c.by.user_id) return status{errc::conflict, "you cannot delete yourself", "cannot_delete_self"};
  if (!may_manage(c.by, target->role)) return forbidden("a " + c.by.role + " cannot delete a " + target->role);
  if (target->role == "owner" && s.live_owners(target->tenant) == 1)
    return status{errc::conflict, "the last owner of tenant '" + target->tenant + "' cannot be deleted", "last_owner"};
  return decision{users_stream(target->tenant), "", {ev::user_deleted{target->id}}, target->id};
}

}  // namespace

result<decision> decide_user(const state& s, const command& c) {
  if (auto* x = std::get_if<create_user>(&c)) return create(s, *x);
  if (auto* x = std::get_if<change_role>(&c)) return change(s, *x);
  return remove(s, std::get<delete_user>(c));
}

std::optional<std::string> normalize_email(std::string_view e) {
  while (!e.empty() && (e.front() == ' ' || e.front() == '\t')) e.remove_prefix(1);
  while (!e.empty() && (e.back() == ' ' || e.back() == '\t')) e.remove_suffix(1);
  if (e.size() < 3 || e.size() > 254) return std::nullopt;
  auto at = e.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 >= e.size() || e.find('@', at + 1) != std::string_view::npos)
    return std::nullopt;
  std::string out;
  for (char ch : e) {
    auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u == 0x7f || ch == '<' || ch == '>' || ch == ',' || ch == ';' || ch == '"') return std::nullopt;
    out.push_back(static_cast<char>(std::tolower(u)));
  }
  if (out.find('.', at + 1) == std::string::npos) return std::nullopt;
  return out;
}

}  // namespace crmd::registry
