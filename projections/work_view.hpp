// Tasks and per-contact timelines (layouts in work_view.cpp).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "projections/views.hpp"

namespace crmd::views {

std::unique_ptr<projection> make_tasks_view();
std::unique_ptr<projection> make_timeline_view();

// All tasks of the tenant (oldest first), or those about one contact.
result<page> list_tasks(kv_store& kv, const std::string& tenant, const std::string& about, uint64_t page,
                        uint64_t limit);
// Tasks not done: one counter read.
result<uint64_t> count_open_tasks(kv_store& kv, const std::string& tenant);
result<std::optional<std::string>> get_task(kv_store& kv, const std::string& tenant, const std::string& id);
// A contact's timeline, newest first.
result<page> timeline(kv_store& kv, const std::string& tenant, const std::string& contact, uint64_t page,
                      uint64_t limit);

}  // namespace crmd::views
