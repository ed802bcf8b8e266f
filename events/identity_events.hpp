// Events of the registry: tenants (stream "system/registry/tenants") and
// users (stream "<tenant>/users/<tenant>", system admins in
// "system/users/system"), and of sign-ins (stream "<tenant>/auth/<tenant>",
// "system/auth/system"). One registry actor owns tenant ids, aliases and
// e-mail addresses, so uniqueness across tenants lives in one place.
//
// Same rules as tenant_events.hpp: closed, append-only variants; past tense.
// Passwords appear only as PBKDF2 hashes, and user_created is appended with
// the user as its data subject, so e-mail and hash are encrypted at rest.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "events/tenant_events.hpp"

namespace crmd::ev {

struct tenant_suspended {
  static constexpr const char* type_name = "tenant_suspended";
  static constexpr uint16_t schema_version = 1;
  std::string tenant_id;
  template <class F> void fields(F&& f) { f("tenant_id", tenant_id); }
};

struct tenant_reactivated {
  static constexpr const char* type_name = "tenant_reactivated";
  static constexpr uint16_t schema_version = 1;
  std::string tenant_id;
  template <class F> void fields(F&& f) { f("tenant_id", tenant_id); }
};

// Soft: the id and the history stay; its users can no longer sign in.
struct tenant_deleted {
  static constexpr const char* type_name = "tenant_deleted";
  static constexpr uint16_t schema_version = 1;
  std::string tenant_id;
  template <class F> void fields(F&& f) { f("tenant_id", tenant_id); }
};

// The full set of enabled modules after the change (crm, calls, whatsapp).
struct tenant_modules_changed {
  static constexpr const char* type_name = "tenant_modules_changed";
  static constexpr uint16_t schema_version = 1;
  std::string tenant_id;
  std::vector<std::string> enabled;
  template <class F> void fields(F&& f) {
    f("tenant_id", tenant_id);
    f("enabled", enabled);
  }
};

struct user_created {
  static constexpr const char* type_name = "user_created";
  static constexpr uint16_t schema_version = 1;
  std::string user_id;
  std::string tenant_id;  // empty for a system admin
  std::string email;      // lower case
  std::string role;
  std::string password_hash;  // identity/password.hpp format
  template <class F> void fields(F&& f) {
    f("user_id", user_id);
    f("tenant_id", tenant_id);
    f("email", email);
    f("role", role);
    f("password_hash", password_hash);
  }
};

struct user_role_changed {
  static constexpr const char* type_name = "user_role_changed";
  static constexpr uint16_t schema_version = 1;
  std::string user_id;
  std::string role;
  template <class F> void fields(F&& f) {
    f("user_id", user_id);
    f("role", role);
  }
};

// Soft: the id stays attributed to everything the user did.
struct user_deleted {
  static constexpr const char* type_name = "user_deleted";
  static constexpr uint16_t schema_version = 1;
  std::string user_id;
  template <class F> void fields(F&& f) { f("user_id", user_id); }
};

// The business's display name, changed by its owner (tenant settings).
struct tenant_name_changed {
  static constexpr const char* type_name = "tenant_name_changed";
  static constexpr uint16_t schema_version = 1;
  std::string tenant_id;
  std::string name;
  template <class F> void fields(F&& f) {
    f("tenant_id", tenant_id);
    f("name", name);
  }
};

// The tenant's phone numbers (the full set after the change, E.164): the
// Twilio `To` of a call picks the tenant by them.
struct phone_numbers_assigned {
  static constexpr const char* type_name = "phone_numbers_assigned";
  static constexpr uint16_t schema_version = 1;
  std::string tenant_id;
  std::vector<std::string> numbers;
  template <class F> void fields(F&& f) {
    f("tenant_id", tenant_id);
    f("numbers", numbers);
  }
};

// How the tenant answers calls (the full setting after the change).
struct voice_configured {
  static constexpr const char* type_name = "voice_configured";
  static constexpr uint16_t schema_version = 1;
  std::string tenant_id;
  std::string greeting_text;  // spoken with <Say language>; empty when greeting_url is used
  std::string language;       // BCP 47 for <Say>, e.g. he-IL
  std::string greeting_url;   // audio played with <Play>, or empty
  int64_t max_recording_s = 120;
  template <class F> void fields(F&& f) {
    f("tenant_id", tenant_id);
    f("greeting_text", greeting_text);
    f("language", language);
    f("greeting_url", greeting_url);
    f("max_recording_s", max_recording_s);
  }
};

// The tenant's WhatsApp Cloud API numbers (Meta's phone_number_id, the full
// set): Cloud webhooks are routed to the tenant by them.
struct whatsapp_cloud_assigned {
  static constexpr const char* type_name = "whatsapp_cloud_assigned";
  static constexpr uint16_t schema_version = 1;
  std::string tenant_id;
  std::vector<std::string> phone_number_ids;
  template <class F> void fields(F&& f) {
    f("tenant_id", tenant_id);
    f("phone_number_ids", phone_number_ids);
  }
};

using registry_event = std::variant<tenant_created, tenant_suspended, tenant_reactivated, tenant_deleted,
                                    tenant_modules_changed, user_created, user_role_changed, user_deleted,
                                    tenant_name_changed, phone_numbers_assigned, voice_configured,
                                    whatsapp_cloud_assigned>;

struct user_logged_in {
  static constexpr const char* type_name = "user_logged_in";
  static constexpr uint16_t schema_version = 1;
  std::string user_id;
  std::string session_id;  // the refresh-token family
  template <class F> void fields(F&& f) {
    f("user_id", user_id);
    f("session_id", session_id);
  }
};

struct user_logged_out {
  static constexpr const char* type_name = "user_logged_out";
  static constexpr uint16_t schema_version = 1;
  std::string user_id;
  std::string session_id;
  template <class F> void fields(F&& f) {
    f("user_id", user_id);
    f("session_id", session_id);
  }
};

// A wrong password for an existing account (unknown e-mails are not recorded:
// they name no one).
struct login_failed {
  static constexpr const char* type_name = "login_failed";
  static constexpr uint16_t schema_version = 1;
  std::string user_id;
  std::string reason;  // bad_password | rate_limited | tenant_suspended
  template <class F> void fields(F&& f) {
    f("user_id", user_id);
    f("reason", reason);
  }
};

struct session_revoked {
  static constexpr const char* type_name = "session_revoked";
  static constexpr uint16_t schema_version = 1;
  std::string user_id;
  std::string session_id;
  std::string reason;  // refresh_reused | user_deleted
  template <class F> void fields(F&& f) {
    f("user_id", user_id);
    f("session_id", session_id);
    f("reason", reason);
  }
};

// The impersonating admin is in the envelope's metadata (impersonator).
struct impersonation_started {
  static constexpr const char* type_name = "impersonation_started";
  static constexpr uint16_t schema_version = 1;
  std::string user_id;
  std::string session_id;
  template <class F> void fields(F&& f) {
    f("user_id", user_id);
    f("session_id", session_id);
  }
};

using auth_event =
    std::variant<user_logged_in, user_logged_out, login_failed, session_revoked, impersonation_started>;

}  // namespace crmd::ev
