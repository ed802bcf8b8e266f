// Leads and customers as the API lists them (layout in contacts_view.cpp).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "actors/crm/contacts.hpp"
#include "projections/views.hpp"

namespace crmd::views {

std::unique_ptr<projection> make_contacts_view();

// What contact_search (contact_search.hpp) filters and sorts by.
struct contact_filter {
  // Case-insensitive substring of name, email or phone; a q of digits and
  // separators ("050-123") also matches the phone as dialled locally.
  std::string q;
  std::string status;                // exact status, or empty
  std::string sort = "-created_at";  // created_at|updated_at|name, '-' for descending

  bool plain() const { return q.empty() && status.empty() && sort == "-created_at"; }
};

// kind: lead | customer, newest first; reads only up to the page.
result<page> list_contacts(kv_store& kv, const std::string& tenant, const std::string& kind, uint64_t page,
                           uint64_t limit);
// Live contacts of a kind (lead | customer): one counter read.
result<uint64_t> count_contacts(kv_store& kv, const std::string& tenant, const std::string& kind);
// A live contact of either kind.
result<std::optional<std::string>> get_contact(kv_store& kv, const std::string& tenant, const std::string& id);
// The id of the live contact whose phone is `e164`, as of the view.
result<std::optional<std::string>> contact_by_phone(kv_store& kv, const std::string& tenant, const std::string& e164);
// The tenant's settings (defaults until it changed them).
result<crm::settings> get_settings(kv_store& kv, const std::string& tenant);
// The tenant's deal pipeline stages, in order.
result<std::vector<std::string>> get_pipeline(kv_store& kv, const std::string& tenant);
// Every live contact of a kind, newest first, without holding them all (CSV).
status scan_contacts(kv_store& kv, const std::string& tenant, const std::string& kind,
                     const std::function<bool(std::string_view)>& visit);

}  // namespace crmd::views
