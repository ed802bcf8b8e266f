#include "projections/contact_search.hpp"

#include <string.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "actors/crm/contacts.hpp"
#include "actors/crm/phone.hpp"
#include "projections/view_util.hpp"

namespace crmd::views {
namespace {

using json = nlohmann::json;

struct row {
  bool customer = false;
  std::string status;
  uint64_t updated = 0;  // log position of the last change: orders like updated_at, without ties
  std::string name;  // as stored: sort=name orders by it
  std::string text;  // fold(name) \x1f fold(email) \x1f phone \x1f national digits
};

size_t row_bytes(const row& r) {
  return sizeof(row) + 48 /* map node */ + r.status.capacity() + r.name.capacity() + r.text.capacity();
}

std::optional<row> row_of(std::string_view value) {
  auto j = json::parse(value, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  row r;
  r.customer = j.value("kind", "") == "customer";
  r.status = j.value("status", "");
  r.name = j.value("name", "");
  std::string phone = j.value("phone", "");
  r.updated = j.value("position", uint64_t{0});
  r.text = fold_case(r.name) + '\x1f' + fold_case(j.value("email", "")) + '\x1f' + phone + '\x1f' +
           crm::national_digits(phone);
  return r;
}

bool contains(const std::string& hay, const std::string& needle) {
  return !needle.empty() && memmem(hay.data(), hay.size(), needle.data(), needle.size()) != nullptr;
}

// "050-123", "(03) 376", "+972 50": digits and the separators people type.
std::string phone_digits(const std::string& q) {
  std::string out;
  for (char c : q) {
    if (c >= '0' && c <= '9') out.push_back(c);
    else if (!strchr(" -().+/", c)) return {};
  }
  return out;
}

struct tenant_index {
  std::shared_mutex mu;
  std::map<uint64_t, row> rows;  // by contact number; newest is last
  uint64_t leads = 0, customers = 0;
  uint64_t cursor = 0;  // the last change-log position applied
  bool built = false;
  std::atomic<size_t> bytes{0};  // read by eviction without the lock
  std::atomic<uint64_t> last_used{0};
};

std::string key(const std::string& rest) { return view_prefix("contacts") + rest; }

}  // namespace

std::string fold_case(std::string_view s) {
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    auto c = static_cast<unsigned char>(out[i]);
    if (c >= 'A' && c <= 'Z') {
      out[i] = static_cast<char>(c + 32);
    } else if (i + 1 < out.size()) {
      auto d = static_cast<unsigned char>(out[i + 1]);
      if (c == 0xC3 && d >= 0x80 && d <= 0x9E && d != 0x97) {  // À..Þ except ×
        out[i + 1] = static_cast<char>(d + 0x20);
      } else if (c == 0xCE && d >= 0x91 && d <= 0xA9 && d != 0xA2) {  // Α..Ω
        if (d <= 0x9F) out[i + 1] = static_cast<char>(d + 0x20);
        else out[i] = static_cast<char>(0xCF), out[i + 1] = static_cast<char>(d - 0x20);
      } else if (c == 0xD0 && d >= 0x80 && d <= 0xAF) {  // Ѐ..Џ, А..Я
        if (d <= 0x8F) out[i] = static_cast<char>(0xD1), out[i + 1] = static_cast<char>(d + 0x10);
        else if (d <= 0x9F) out[i + 1] = static_cast<char>(d + 0x20);
        else out[i] = static_cast<char>(0xD1), out[i + 1] = static_cast<char>(d - 0x20);
      }
      if (c >= 0xC0) ++i;  // the continuation byte is done
    }
  }
  return out;
}

struct contact_search::impl {
  kv_store& kv;
  contact_search_options o;
  mutable std::mutex mu;  // tenants
  std::unordered_map<std::string, std::shared_ptr<tenant_index>> tenants;
  std::atomic<size_t> total{0};
  std::atomic<uint64_t> clock{0};

  impl(kv_store& k, contact_search_options opt) : kv(k), o(opt) {}

  std::shared_ptr<tenant_index> index_of(const std::string& tenant) {
    std::lock_guard<std::mutex> lock(mu);
    auto& ix = tenants[tenant];
    if (!ix) ix = std::make_shared<tenant_index>();
    ix->last_used = ++clock;
    return ix;
  }

  void evict(const std::string& keep) {
    if (total <= o.max_bytes) return;
    std::lock_guard<std::mutex> lock(mu);
    size_t sum = 0;  // exact again: a refresh racing an eviction may have skewed the running total
    for (auto& [name, ix] : tenants) sum += ix->bytes;
    total = sum;
    while (total > o.max_bytes && tenants.size() > 1) {
      auto victim = tenants.end();
      for (auto it = tenants.begin(); it != tenants.end(); ++it)
        if (it->first != keep && (victim == tenants.end() || it->second->last_used < victim->second->last_used))
          victim = it;
      if (victim == tenants.end()) return;
      total -= victim->second->bytes;  // in-flight readers keep it alive; it is just no longer found
      tenants.erase(victim);
    }
  }

  result<uint64_t> count(const std::string& tenant, const char* kind) {
    std::string v;
    auto s = kv.get(cf::projections, key(tenant + "/#" + kind), &v);
    if (s.code() == errc::not_found) return uint64_t{0};
    if (!s) return s;
    return v.size() == 8 ? read_be64(v) : 0;
  }

  result<uint64_t> head(const std::string& tenant) {
    std::string lo = key(tenant + "/c/"), k, v;
    auto s = kv.last(cf::projections, lo, util::upper_of(lo), &k, &v);
    if (s.code() == errc::not_found) return uint64_t{0};
    if (!s) return s;
    return read_be64(std::string_view(k).substr(lo.size()));
  }

  void put(tenant_index& ix, uint64_t n, std::optional<row> r) {
    if (auto it = ix.rows.find(n); it != ix.rows.end()) {
      ix.bytes -= row_bytes(it->second);
      (it->second.customer ? ix.customers : ix.leads) -= 1;
      ix.rows.erase(it);
    }
    if (!r) return;
    ix.bytes += row_bytes(*r);
    (r->customer ? ix.customers : ix.leads) += 1;
    ix.rows.emplace(n, std::move(*r));
  }

  status full_build(tenant_index& ix, const std::string& tenant, uint64_t at) {
    ix.rows.clear();
    ix.leads = ix.customers = 0;
    ix.bytes = 0;
    for (const char* kind : {"lead", "customer"}) {
      std::string lo = key(tenant + "/k/" + kind + "/");
      auto it = kv.scan(cf::projections, lo, util::upper_of(lo));
      for (; it->valid(); it->next())
        put(ix, ~read_be64(it->key().substr(lo.size())), row_of(it->value()));
      if (auto e = it->error(); !e) return e;
    }
    ix.cursor = at;
    ix.built = true;
    return status::ok();
  }

  // Re-reads every contact changed after the cursor from the view.
  status catch_up(tenant_index& ix, const std::string& tenant) {
    std::string lo = key(tenant + "/c/");
    auto it = kv.scan(cf::projections, lo + be64(ix.cursor + 1), util::upper_of(lo));
    for (; it->valid(); it->next()) {
      uint64_t n = read_be64(it->value());
      std::string kind, v;
      auto s = kv.get(cf::projections, key(tenant + "/i/" + be64(n)), &kind);
      if (s.is_ok()) s = kv.get(cf::projections, key(tenant + "/k/" + kind + "/" + be64(~n)), &v);
      if (s.code() == errc::not_found) put(ix, n, std::nullopt);
      else if (!s) return s;
      else put(ix, n, row_of(v));
      ix.cursor = read_be64(it->key().substr(lo.size()));
    }
    return it->error();
  }

  // Brings the index up to the view. Counts are read before the head, so a
  // change committing in between shows as a newer head, never as a mismatch.
  status refresh(tenant_index& ix, const std::string& tenant) {
    auto leads = count(tenant, "lead");
    if (!leads) return leads.error();
    auto customers = count(tenant, "customer");
    if (!customers) return customers.error();
    auto at = head(tenant);
    if (!at) return at.error();
    auto fresh = [&] { return ix.built && ix.cursor == *at && ix.leads == *leads && ix.customers == *customers; };
    {
      std::shared_lock<std::shared_mutex> lock(ix.mu);
      if (fresh()) return status::ok();
    }
    std::unique_lock<std::shared_mutex> lock(ix.mu);
    if (fresh()) return status::ok();
    size_t before = ix.bytes;
    // Not fresh with no newer change: the view was rebuilt under us.
    status s = !ix.built || *at <= ix.cursor ? full_build(ix, tenant, *at) : catch_up(ix, tenant);
    total += ix.bytes;
    total -= before;
    if (!s) ix.built = false;
    return s;
  }
};

contact_search::contact_search(kv_store& kv, contact_search_options o) : impl_(std::make_unique<impl>(kv, o)) {}
contact_search::~contact_search() = default;
size_t contact_search::bytes() const { return impl_->total; }

result<page> contact_search::list(const std::string& tenant, const std::string& kind, const contact_filter& f,
                                  uint64_t page_no, uint64_t limit) {
  auto ix = impl_->index_of(tenant);
  if (auto s = impl_->refresh(*ix, tenant); !s) return s;
  impl_->evict(tenant);
  bool customers = kind == "customer";
  std::string q = fold_case(f.q), digits = phone_digits(f.q);
  std::vector<std::pair<uint64_t, const row*>> hits;
  page out;
  std::vector<uint64_t> wanted;
  {
    std::shared_lock<std::shared_mutex> lock(ix->mu);
    for (auto it = ix->rows.rbegin(); it != ix->rows.rend(); ++it) {
      const row& r = it->second;
      if (r.customer != customers || (!f.status.empty() && r.status != f.status)) continue;
      if (!q.empty() && !contains(r.text, q) && !contains(r.text, digits)) continue;
      hits.emplace_back(it->first, &r);
    }
    std::string field = f.sort.empty() || f.sort[0] != '-' ? f.sort : f.sort.substr(1);
    bool desc = !f.sort.empty() && f.sort[0] == '-';
    // Hits are newest first; stable sorts keep that order among equals.
    if (field == "created_at" && !desc) std::reverse(hits.begin(), hits.end());
    else if (field == "updated_at")
      std::stable_sort(hits.begin(), hits.end(), [&](const auto& a, const auto& b) {
        return desc ? b.second->updated < a.second->updated : a.second->updated < b.second->updated;
      });
    else if (field == "name")
      std::stable_sort(hits.begin(), hits.end(), [&](const auto& a, const auto& b) {
        return desc ? b.second->name < a.second->name : a.second->name < b.second->name;
      });
    out.total = hits.size();
    for (uint64_t i = (page_no - 1) * limit; i < hits.size() && wanted.size() < limit; ++i)
      wanted.push_back(hits[i].first);
  }
  for (uint64_t n : wanted) {
    std::string v;
    auto s = impl_->kv.get(cf::projections, key(tenant + "/k/" + kind + "/" + be64(~n)), &v);
    if (s.code() == errc::not_found) continue;  // deleted since the index was read
    if (!s) return s;
    out.items.push_back(std::move(v));
  }
  return out;
}

}  // namespace crmd::views
