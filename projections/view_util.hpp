// Small helpers every view file uses: stable JSON, prefix bounds, counters
// kept in the view, and reading one page of a keyspace. Internal to projections/.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "projections/views.hpp"

namespace crmd::views::util {

// Sorted keys and replaced invalid UTF-8: a rebuilt view equals an incremental one.
inline std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The first key after every key that starts with `prefix`.
inline std::string upper_of(std::string prefix) {
  prefix.back() = char(prefix.back() + 1);
  return prefix;
}

// A u64be counter in the view, moved by `by`.
inline void bump(view_txn& t, const std::string& key, int64_t by = 1) {
  auto v = t.get(key);
  uint64_t n = v && v->size() == 8 ? read_be64(*v) : 0;
  t.put_counter(key, be64(static_cast<uint64_t>(static_cast<int64_t>(n) + by)));
}

// The value at `k` in the views, or nullopt when there is none.
inline result<std::optional<std::string>> get_opt(kv_store& kv, const std::string& k) {
  std::string v;
  auto s = kv.get(cf::projections, k, &v);
  if (s.is_ok()) return std::optional<std::string>{std::move(v)};
  if (s.code() == errc::not_found) return std::optional<std::string>{};
  return s;
}

// The u64be counter at `k` in the views; 0 when it was never written.
inline result<uint64_t> get_count(kv_store& kv, const std::string& k) {
  std::string v;
  auto s = kv.get(cf::projections, k, &v);
  if (s.is_ok() && v.size() == 8) return read_be64(v);
  if (s.is_ok()) return status{errc::corruption, "malformed counter in the views"};
  if (s.code() == errc::not_found) return uint64_t{0};
  return s;
}

// Whether page `page_no` (from 1) of `limit` items starts after the last of
// `total` (without overflowing (page_no - 1) * limit for a huge page).
inline bool past_the_end(uint64_t page_no, uint64_t limit, uint64_t total) {
  return page_no - 1 >= (total + limit - 1) / limit;
}

// Page `page_no` (from 1) of the values under `prefix`, and the total from
// the counter at `count_key`: reads only up to the end of the page.
inline result<page> scan_page(kv_store& kv, const std::string& prefix, const std::string& count_key, uint64_t page_no,
                              uint64_t limit) {
  page out;
  std::string c;
  auto s = kv.get(cf::projections, count_key, &c);
  if (s.is_ok() && c.size() == 8) out.total = read_be64(c);
  else if (!s.is_ok() && s.code() != errc::not_found) return s;
  uint64_t skip = (page_no - 1) * limit;
  if (past_the_end(page_no, limit, out.total)) return out;  // nothing to walk through
  auto it = kv.scan(cf::projections, prefix, upper_of(prefix));
  for (; it->valid() && out.items.size() < limit; it->next()) {
    if (skip > 0) {
      --skip;
      continue;
    }
    out.items.emplace_back(it->value());
  }
  if (auto e = it->error(); !e) return e;
  return out;
}

}  // namespace crmd::views::util
