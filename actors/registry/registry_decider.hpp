// The registry aggregate: which tenants exist (ids, aliases, status,
// modules) and which users (e-mail, role, password hash). One actor owns it,
// so ids, aliases and e-mail addresses are unique across all tenants.
//
// Tenant events go to stream "system/registry/tenants"; a user's events to
// "<tenant>/users/<tenant>" (system admins: "system/users/system"), so each
// tenant's history holds its own users.
// Pure functions: decide(state, command) -> decision or a rejection; apply.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "events/identity_events.hpp"
#include "events/status.hpp"

namespace crmd::registry {

constexpr const char* stream = "system/registry/tenants";
// The stream holding the users of `tenant` ("" = system admins).
std::string users_stream(const std::string& tenant);
// The data subject of a user's personal data.
std::string user_subject(const std::string& tenant, const std::string& user_id);

struct tenant_info {
  std::string id;
  std::string name;
  std::vector<std::string> aliases;
  std::string status = "active";  // active | suspended | deleted
  std::set<std::string> modules{"calls", "crm", "whatsapp"};  // enabled
  std::vector<std::string> phone_numbers;  // E.164, sorted
  ev::voice_configured voice;              // tenant_id empty until configured
  std::vector<std::string> cloud_ids;      // WhatsApp Cloud phone_number_ids
};

struct user_info {
  std::string id;
  std::string tenant;  // empty for a system admin
  std::string email;
  std::string role;
  std::string password_hash;
  bool deleted = false;
  // Bumped by every role change: tokens carry it, so a token from before a
  // change stays dead even if the role later changes back.
  uint32_t generation = 0;
};

struct state {
  std::map<std::string, tenant_info> tenants;
  std::map<std::string, std::string> aliases;  // alias -> canonical id
  std::map<std::string, user_info> users;      // by id, deleted ones too
  std::map<std::string, std::string> emails;   // e-mail of a live user -> id
  std::map<std::string, std::string> numbers;  // E.164 phone number -> tenant owning it
  std::map<std::string, std::string> cloud_ids;  // WhatsApp Cloud phone_number_id -> tenant
  uint64_t next_user = 1;                      // ids "u<n>", never reused
  std::map<std::string, uint64_t> versions;    // stream -> version, for appends
  uint64_t version = 0;                        // of the tenants stream

  // The canonical id for an id or alias, if such a tenant exists.
  std::optional<std::string> resolve(std::string_view id_or_alias) const;
  const user_info* live_user(const std::string& id) const;
  const user_info* user_by_email(const std::string& email) const;
  size_t live_owners(const std::string& tenant) const;
};

// Who asks: role rules are part of the decision.
struct actor {
  std::string user_id;  // "operator" for the operator token
  std::string role;     // system_admin | owner | manager | agent
  std::string tenant;   // empty for a system admin
};

struct create_tenant {
  std::string id;
  std::string name;
  std::vector<std::string> aliases;
};
// Fields left empty keep their value.
struct update_tenant {
  std::string id;
  std::optional<std::string> name;                  // 1..200 bytes
  std::optional<std::string> status;                // active | suspended
  std::optional<std::vector<std::string>> modules;  // the enabled set
};
struct delete_tenant {
  std::string id;
};
struct create_user {
  actor by;
  std::string email;
  std::string role;
  std::string tenant;         // canonical; empty for a system admin
  std::string password_hash;  // hashed by the caller, off the actor threads
};
struct change_role {
  actor by;
  std::string user_id;
  std::string role;
};
struct delete_user {
  actor by;
  std::string user_id;
};
// Replaces the tenant's numbers; each is normalised to E.164 (a leading +
// is required) and may belong to one tenant only.
struct assign_numbers {
  std::string id;
  std::vector<std::string> numbers;
};
// Replaces the tenant's voice settings (tenant_id is taken from `id`).
struct configure_voice {
  std::string id;
  ev::voice_configured voice;
};
// Replaces the tenant's WhatsApp Cloud phone_number_ids (digits, 1..32);
// each belongs to one tenant.
struct assign_cloud_ids {
  std::string id;
  std::vector<std::string> phone_number_ids;
};
using command = std::variant<create_tenant, update_tenant, delete_tenant, create_user, change_role, delete_user,
                             assign_numbers, configure_voice, assign_cloud_ids>;

struct decision {
  std::string stream;
  std::string subject;  // data subject of the events, or empty
  std::vector<ev::registry_event> events;
  std::string id;  // the tenant or user the command was about
};

// Rejections: errc::invalid_argument (invalid_tenant_id, reserved_tenant_id,
// invalid_name, invalid_alias, invalid_field), errc::conflict (tenant_exists,
// alias_taken, email_taken, number_taken, last_owner, cannot_delete_self, tenant_deleted),
// errc::not_found (tenant_not_found, user_not_found), errc::forbidden
// (forbidden: rank rules).
result<decision> decide(const state& s, const command& c);
// Applies events of any registry stream; `stream` is where they were stored.
void apply(state& s, const std::string& stream, const ev::registry_event& e);
// Tenants-stream shorthand, for tests and the tenants view.
inline void apply(state& s, const ev::registry_event& e) { apply(s, stream, e); }

// "Anne@Example.COM " -> "anne@example.com"; nullopt if it is not an address.
std::optional<std::string> normalize_email(std::string_view email);

}  // namespace crmd::registry
