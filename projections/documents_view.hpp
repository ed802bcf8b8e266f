// Contracts, signatures and invoices (layout in documents_view.cpp).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "projections/views.hpp"

namespace crmd::views {

std::unique_ptr<projection> make_documents_view();

// kind: contract | invoice | signature. `owner`: the customer (contracts,
// invoices) or the contract (signatures) to list for; empty lists all.
result<page> list_documents(kv_store& kv, const std::string& tenant, const std::string& kind, const std::string& owner,
                            uint64_t page, uint64_t limit);
// The amounts of the tenant's paid invoices by currency (ISO 4217), in minor
// units as invoices store them; a currency with no paid invoice is absent.
result<std::map<std::string, uint64_t>> paid_revenue(kv_store& kv, const std::string& tenant);
result<std::optional<std::string>> get_document(kv_store& kv, const std::string& tenant, const std::string& kind,
                                                const std::string& id);

}  // namespace crmd::views
