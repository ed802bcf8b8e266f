// Leads and customers of one tenant, as the tenant aggregate keeps them:
// only what its decisions need (phone uniqueness, status, kind), not the
// personal data, which lives in the (encrypted) events and the views.
// Ids are "L<n>", never reused; a customer is a converted lead, same id.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "events/status.hpp"
#include "events/tenant_events.hpp"

namespace crmd::crm {

struct contact_state {
  static constexpr const char* type_name = "tenant_contact_state";
  std::string phone;  // E.164 or empty
  std::string status = "new";
  bool customer = false;
  bool deleted = false;
  template <class F> void fields(F&& f) {
    f("phone", phone);
    f("status", status);
    f("customer", customer);
    f("deleted", deleted);
  }
};

struct settings {
  std::string default_region = "IL";
  std::string language = "he";
  std::string time_zone = "Asia/Jerusalem";
  std::string whatsapp_provider = "baileys";  // baileys | cloud
  template <class F> void fields(F&& f) {
    f("default_region", default_region);
    f("language", language);
    f("time_zone", time_zone);
    f("whatsapp_provider", whatsapp_provider);
  }
};

struct contacts {
  std::map<uint64_t, contact_state> by_number;
  std::map<std::string, uint64_t> by_phone;  // live contacts only; rebuilt, never stored
  uint64_t next = 1;
  std::set<uint64_t> dirty;                  // changed since the last snapshot

  // The live contact with this E.164 number, if any.
  std::optional<uint64_t> find(const std::string& e164) const;
  const contact_state* live(const std::string& id, uint64_t* number = nullptr) const;
  void reindex();  // by_phone from by_number, after loading a snapshot
};

bool valid_status(const std::string& s);
std::string contact_id(uint64_t n);
std::optional<uint64_t> parse_contact_id(const std::string& id);
// The data subject of a contact's events.
std::string subject(const std::string& tenant, const std::string& contact_id);

// Commands. Phones arrive as typed by people; the decider normalises them
// with the tenant's default region.
struct create_contact {
  std::string name, phone, email, source = "manual";
  std::optional<std::string> status;
  bool as_customer = false;
};
struct update_contact {
  std::string id;
  std::optional<std::string> name, phone, email, status;
  bool customers_only = false;  // reached through /api/crm/customers
};
struct delete_contact {
  std::string id;
  bool customers_only = false;
};
struct convert_lead {
  std::string id;
};
// Erasure on request (also of a deleted contact): see ev::contact_erased.
struct erase_contact {
  std::string id;
};
// Calls and WhatsApp: the contact for this number, created as a lead if new.
struct find_or_create_contact {
  std::string phone, name, source;
};
struct change_settings {
  std::optional<std::string> default_region, language, time_zone, whatsapp_provider;
  // The Graph token already sealed for the secret store (empty: remove it).
  // It never reaches an event: the tenant actor writes it beside the
  // whatsapp_token_changed event in the same batch.
  std::optional<std::string> sealed_whatsapp_token;
};

// Rejections: invalid_field (names it), contact_not_found, phone_taken,
// already_customer.
result<std::vector<ev::tenant_event>> decide(const contacts& c, const settings& st, const create_contact& cmd);
result<std::vector<ev::tenant_event>> decide(const contacts& c, const settings& st, const update_contact& cmd);
result<std::vector<ev::tenant_event>> decide(const contacts& c, const delete_contact& cmd);
result<std::vector<ev::tenant_event>> decide(const contacts& c, const convert_lead& cmd);
result<std::vector<ev::tenant_event>> decide(const contacts& c, const erase_contact& cmd);
// Empty when the number is known: the answer is then find().
result<std::vector<ev::tenant_event>> decide(const contacts& c, const settings& st, const find_or_create_contact& cmd);
result<std::vector<ev::tenant_event>> decide(const settings& st, const change_settings& cmd);

// Folds the contact and settings events; others are ignored.
void apply(contacts& c, settings& st, const ev::tenant_event& e);

}  // namespace crmd::crm
