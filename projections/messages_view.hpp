// WhatsApp messages as the API lists them (layout in messages_view.cpp):
// a tenant's messages newest first, or those of one contact, each with its
// latest delivery status.
#pragma once

#include <memory>
#include <string>

#include "projections/views.hpp"

namespace crmd::views {

std::unique_ptr<projection> make_messages_view();

// Messages stored for the tenant (history included): one counter read.
result<uint64_t> count_messages(kv_store& kv, const std::string& tenant);
// The tenant's WhatsApp sessions that are connected, as their events say.
result<uint64_t> count_connected_sessions(kv_store& kv, const std::string& tenant);
// All messages of the tenant (contact_id empty) or of one contact, newest
// first; reads only up to the page.
result<page> list_messages(kv_store& kv, const std::string& tenant, const std::string& contact_id, uint64_t page,
                           uint64_t limit);

}  // namespace crmd::views
