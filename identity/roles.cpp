#include "identity/roles.hpp"

namespace crmd::identity {

std::optional<role> parse_role(std::string_view n) {
  if (n == "agent") return role::agent;
  if (n == "manager") return role::manager;
  if (n == "owner") return role::owner;
  if (n == "system_admin") return role::system_admin;
  return std::nullopt;
}

const char* role_name(role r) {
  switch (r) {
    case role::agent: return "agent";
    case role::manager: return "manager";
    case role::owner: return "owner";
    case role::system_admin: return "system_admin";
  }
  return "?";
}

const std::vector<role>& all_roles() {
  static const std::vector<role> v{role::system_admin, role::owner, role::manager, role::agent};
  return v;
}

const char* perm_name(perm p) {
  switch (p) {
    case perm::crm_read: return "crm_read";
    case perm::crm_write: return "crm_write";
    case perm::messages_send: return "messages_send";
    case perm::crm_delete: return "crm_delete";
    case perm::prompts_write: return "prompts_write";
    case perm::users_read: return "users_read";
    case perm::users_manage: return "users_manage";
    case perm::tenant_settings: return "tenant_settings";
    case perm::admin: return "admin";
  }
  return "?";
}

const char* perm_description(perm p) {
  switch (p) {
    case perm::crm_read: return "read leads, customers, notes, tasks, calls, messages and prompts";
    case perm::crm_write: return "create and update leads, notes and tasks";
    case perm::messages_send: return "send messages";
    case perm::crm_delete: return "delete CRM records";
    case perm::prompts_write: return "create, change and delete AI prompts";
    case perm::users_read: return "list the tenant's users";
    case perm::users_manage: return "create, re-role and delete users of lower rank";
    case perm::tenant_settings: return "change the tenant's settings";
    case perm::admin: return "act on every tenant: tenant administration, all users, impersonation";
  }
  return "?";
}

const std::vector<perm>& all_perms() {
  static const std::vector<perm> v{perm::crm_read,      perm::crm_write,  perm::messages_send,
                                   perm::crm_delete,    perm::prompts_write, perm::users_read,
                                   perm::users_manage,  perm::tenant_settings, perm::admin};
  return v;
}

bool allowed(role r, perm p) {
  switch (r) {
    case role::system_admin: return true;
    case role::owner: return p != perm::admin;
    case role::manager: return p != perm::admin && p != perm::tenant_settings;
    case role::agent: return p == perm::crm_read || p == perm::crm_write || p == perm::messages_send;
  }
  return false;
}

bool may_manage(role actor, role target) {
  if (actor == role::system_admin) return true;
  return allowed(actor, perm::users_manage) && target < actor;
}

const char* module_name(module m) {
  switch (m) {
    case module::none: return "";
    case module::crm: return "crm";
    case module::calls: return "calls";
    case module::whatsapp: return "whatsapp";
  }
  return "?";
}

std::optional<module> parse_module(std::string_view n) {
  if (n == "crm") return module::crm;
  if (n == "calls") return module::calls;
  if (n == "whatsapp") return module::whatsapp;
  return std::nullopt;
}

}  // namespace crmd::identity
