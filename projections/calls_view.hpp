// Phone calls as the API lists them (layout in calls_view.cpp): a tenant's
// calls newest first, or those of one contact, each call's state, and its
// transcript and summary kept apart (they are long and never listed).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "projections/views.hpp"

namespace crmd::views {

std::unique_ptr<projection> make_calls_view();

// All calls of the tenant (contact_id empty) or those that reached one
// contact, newest first; reads only up to the page. Items are call JSON.
result<page> list_calls(kv_store& kv, const std::string& tenant, const std::string& contact_id, uint64_t page,
                        uint64_t limit);
// Calls the tenant ever had (erased ones stay as shells): one counter read.
result<uint64_t> count_calls(kv_store& kv, const std::string& tenant);
// The call JSON; nullopt for a call the tenant never had.
result<std::optional<std::string>> get_call(kv_store& kv, const std::string& tenant, const std::string& sid);
// {"text","language","provider","summary","failed_attempts"}; nullopt while
// nothing was transcribed, summarized or failed (or once the subject is erased).
result<std::optional<std::string>> get_transcript(kv_store& kv, const std::string& tenant, const std::string& sid);

}  // namespace crmd::views
