// The read models of issue 3 and their readers.
//
// tenants  v/tenants/t/<id>                    tenant JSON
//          v/tenants/#count                    number of tenants (u64be)
//          v/tenants/n/<tenant>                events in the log of that tenant, "system" included (u64be)
// prompts  v/prompts/<t>/l/<n:be64>            latest version JSON of live prompt p<n>
//          v/prompts/<t>/d/<n:be64>            latest version JSON of deleted prompt p<n>
//          v/prompts/<t>/h/<n:be64><v:be32>    every version's JSON
//          v/prompts/<t>/s/<position:be64>     p<n> of the most recent save of each live prompt
//          v/prompts/<t>/#count                live prompts (u64be)
// Values are JSON objects with sorted keys, so a rebuilt view equals the
// incrementally built one byte for byte.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "projections/projection.hpp"
#include "storage/kv.hpp"

namespace crmd::views {

std::unique_ptr<projection> make_tenants_view();
std::unique_ptr<projection> make_prompts_view();
std::vector<std::unique_ptr<projection>> all();
// For `crmd rebuild <name>`; nullptr for an unknown name.
std::unique_ptr<projection> by_name(const std::string& name);
std::vector<std::string> names();
// The views that may hold what a person is called or said: rebuilt after an
// erasure so its events fold as erased.
const std::vector<std::string>& personal_data_views();

struct page {
  std::vector<std::string> items;  // JSON objects
  uint64_t total = 0;
};

// page counts from 1.
result<page> list_tenants(kv_store& kv, uint64_t page, uint64_t limit);
result<std::optional<std::string>> get_tenant(kv_store& kv, const std::string& id);
// Events of the tenant's streams in the log: one counter read.
result<uint64_t> count_tenant_events(kv_store& kv, const std::string& tenant);

result<page> list_prompts(kv_store& kv, const std::string& tenant, uint64_t page, uint64_t limit);
// Live prompts only; nullopt when absent or deleted.
result<std::optional<std::string>> get_prompt(kv_store& kv, const std::string& tenant, const std::string& id);
result<std::optional<std::string>> last_prompt(kv_store& kv, const std::string& tenant);
// All versions, oldest first; empty when the prompt never existed.
result<std::vector<std::string>> prompt_versions(kv_store& kv, const std::string& tenant, const std::string& id);

}  // namespace crmd::views
