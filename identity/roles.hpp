// Roles and what each may do: the one permission table of crmd.
// docs/permissions.md is generated from it (`crmd admin permissions`) and a
// test checks the file against this code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crmd::identity {

// Highest last, so ranks compare with <.
enum class role : uint8_t { agent = 1, manager = 2, owner = 3, system_admin = 4 };

std::optional<role> parse_role(std::string_view name);
const char* role_name(role r);
// Every role, highest first.
const std::vector<role>& all_roles();

enum class perm : uint8_t {
  crm_read,         // read leads, customers, notes, tasks, calls, messages, prompts
  crm_write,        // create and update leads, notes, tasks
  messages_send,    // send WhatsApp messages
  crm_delete,       // delete CRM records
  prompts_write,    // create, change, delete AI prompts
  users_read,       // list the tenant's users
  users_manage,     // create, change, delete users of lower rank than oneself
  tenant_settings,  // the tenant's own settings
  admin,            // every tenant, tenant administration, impersonation
};

const char* perm_name(perm p);
const char* perm_description(perm p);
const std::vector<perm>& all_perms();
bool allowed(role r, perm p);

// Whether `actor` may create, change or delete a user of rank `target`
// (and give someone the role `target`): strictly lower rank only; a system
// admin may do it for any role.
bool may_manage(role actor, role target);

// Modules a tenant can have switched off; routes of a disabled module answer
// 403 module_disabled.
enum class module : uint8_t { none, crm, calls, whatsapp };
const char* module_name(module m);
std::optional<module> parse_module(std::string_view name);

}  // namespace crmd::identity
