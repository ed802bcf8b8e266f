// Filtered and re-sorted contact lists (`q`, `status`, `sort`) served from a
// per-tenant index in memory, so a search over 100k contacts answers in
// milliseconds instead of parsing every contact's JSON from the view.
//
// The contacts view stays the truth: the index holds only what matching and
// sorting need (case-folded name, email, phone and the phone's national
// digits; status; update time) and the page's JSON is read from the view.
// The view keeps a change log (v/contacts/<t>/c/<position> -> contact), so a
// query first applies the changes committed since its last look: a list
// never lags the view it pages over. An index is built on a tenant's first
// filtered query (one scan of its contacts) and rebuilt when the view's
// counts disagree with it (a rebuilt view).
//
// Thread-safe: queries of one tenant share a read lock; catching up takes
// the write lock briefly. Memory is bounded by `max_bytes`: the least
// recently searched tenants' indexes are dropped first.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "projections/contacts_view.hpp"

namespace crmd::views {

struct contact_search_options {
  // ~25 MiB holds a 100k-contact tenant; beyond the budget, idle tenants are
  // rebuilt on their next search (one scan) rather than kept.
  size_t max_bytes = 256u << 20;
};

class contact_search {
 public:
  explicit contact_search(kv_store& kv, contact_search_options o = {});
  ~contact_search();
  contact_search(const contact_search&) = delete;
  contact_search& operator=(const contact_search&) = delete;

  // Like list_contacts, for any filter; page counts from 1.
  result<page> list(const std::string& tenant, const std::string& kind, const contact_filter& f, uint64_t page,
                    uint64_t limit);
  // The unfiltered list, read from the view as list_contacts does, without
  // building an index. The key a deep page starts at is remembered until
  // the tenant's contacts next change, so page 40 does not skip a thousand
  // entries on every read. `epoch` is the runner's (projection_runner::epoch):
  // while it stays the same nothing is read to check that no contact changed.
  result<page> list_plain(const std::string& tenant, const std::string& kind, uint64_t page, uint64_t limit,
                          uint64_t epoch);
  // Bytes held by all tenants' indexes (approximate; for tests and benchmarks).
  size_t bytes() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Lower-cases ASCII, Latin-1, Greek and Cyrillic capitals in UTF-8 text;
// scripts without case (Hebrew, Arabic) pass unchanged.
std::string fold_case(std::string_view s);

}  // namespace crmd::views
