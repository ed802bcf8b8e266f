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
  uint64_t n = 0;  // contact L<n>
  bool live = true;
  bool customer = false;
  std::string status;
  uint64_t updated = 0;  // log position of the last change: orders like updated_at, without ties
  std::string name;      // as stored: sort=name orders by it
  std::string text;      // fold(name) \x1f fold(email) \x1f phone \x1f national digits
};

std::optional<row> row_of(uint64_t n, std::string_view value) {
  auto j = json::parse(value, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  row r;
  r.n = n;
  r.customer = j.value("kind", "") == "customer";
  r.status = j.value("status", "");
  r.name = j.value("name", "");
  std::string phone = j.value("phone", "");
  r.updated = j.value("position", uint64_t{0});
  r.text = fold_case(r.name) + '\x1f' + fold_case(j.value("email", "")) + '\x1f' + phone + '\x1f' +
           crm::national_digits(phone);
  return r;
}

uint32_t trigram(const char* p) {
  return uint32_t(uint8_t(p[0])) << 16 | uint32_t(uint8_t(p[1])) << 8 | uint8_t(p[2]);
}

// Byte trigrams: a UTF-8 needle of three bytes or more is in a text only if
// all its byte trigrams are, whatever the script.
std::vector<uint32_t> trigrams_of(const std::string& s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i + 3 <= s.size(); ++i) out.push_back(trigram(s.data() + i));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
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

// One tenant's rows and a trigram index over their text. Rows are only
// appended: a changed contact gets a new slot and its old one dies, so
// posting lists stay sorted by slot; dead slots are compacted away once they
// outnumber the living.
struct tenant_index {
  std::shared_mutex mu;
  std::vector<row> slots;
  std::unordered_map<uint64_t, uint32_t> slot_of;  // live contact -> slot
  std::unordered_map<uint32_t, std::vector<uint32_t>> postings;
  uint64_t leads = 0, customers = 0;
  uint64_t cursor = 0;  // the last change-log position applied
  bool built = false;
  std::atomic<size_t> bytes{0};  // read by eviction without the lock
  std::atomic<uint64_t> last_used{0};

  void clear() {
    slots.clear();
    slot_of.clear();
    postings.clear();
    leads = customers = 0;
    bytes = 0;
  }

  void remove(uint64_t n) {
    auto it = slot_of.find(n);
    if (it == slot_of.end()) return;
    row& r = slots[it->second];
    r.live = false;
    (r.customer ? customers : leads) -= 1;
    slot_of.erase(it);
    if (slots.size() > 4096 && slot_of.size() < slots.size() / 2) compact();
  }

  void add(row r) {
    remove(r.n);
    auto slot = static_cast<uint32_t>(slots.size());
    auto grams = trigrams_of(r.text);
    for (uint32_t g : grams) postings[g].push_back(slot);
    bytes += sizeof(row) + 32 + r.status.capacity() + r.name.capacity() + r.text.capacity() + 4 * grams.size();
    (r.customer ? customers : leads) += 1;
    slot_of[r.n] = slot;
    slots.push_back(std::move(r));
  }

  void compact() {
    std::vector<row> live;
    for (auto& r : slots)
      if (r.live) live.push_back(std::move(r));
    std::sort(live.begin(), live.end(), [](const row& a, const row& b) { return a.n < b.n; });
    clear();
    for (auto& r : live) add(std::move(r));
  }

  // Slots whose text holds `needle`, ascending.
  std::vector<uint32_t> find(const std::string& needle) const {
    std::vector<uint32_t> out;
    if (needle.empty()) return out;
    if (needle.size() < 3) {  // too short for trigrams: look at every row
      for (uint32_t i = 0; i < slots.size(); ++i)
        if (slots[i].live && contains(slots[i].text, needle)) out.push_back(i);
      return out;
    }
    std::vector<const std::vector<uint32_t>*> lists;
    for (uint32_t g : trigrams_of(needle)) {
      auto it = postings.find(g);
      if (it == postings.end()) return out;
      lists.push_back(&it->second);
    }
    std::sort(lists.begin(), lists.end(), [](auto* a, auto* b) { return a->size() < b->size(); });
    std::vector<uint32_t> cand = *lists[0];
    // Narrow by the next-rarest lists while that still pays, then verify.
    for (size_t l = 1; l < lists.size() && l < 4 && cand.size() > 64; ++l) {
      std::vector<uint32_t> next;
      std::set_intersection(cand.begin(), cand.end(), lists[l]->begin(), lists[l]->end(), std::back_inserter(next));
      cand.swap(next);
    }
    for (uint32_t i : cand)
      if (slots[i].live && contains(slots[i].text, needle)) out.push_back(i);
    return out;
  }
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
  struct page_start {
    uint64_t epoch;     // the runner's epoch when last known right
    uint64_t head;      // the tenant's change-log head when it was found
    uint64_t total;     // and the kind's count (an in-place rebuild moves no head)
    std::string key;    // the view key the page starts at
  };
  std::mutex starts_mu;
  std::unordered_map<std::string, page_start> starts;  // "<live prefix>\0<page>/<limit>"
  static constexpr size_t max_starts = 4096;  // ~0.5 MiB; dropped wholesale when full

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

  status full_build(tenant_index& ix, const std::string& tenant, uint64_t at) {
    ix.clear();
    for (const char* kind : {"lead", "customer"}) {
      std::string lo = key(tenant + "/k/" + kind + "/");
      auto it = kv.scan_bulk(cf::projections, lo, util::upper_of(lo));
      for (; it->valid(); it->next()) {
        uint64_t n = ~read_be64(it->key().substr(lo.size()));
        if (auto r = row_of(n, it->value())) ix.add(std::move(*r));
      }
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
      if (!s && s.code() != errc::not_found) return s;
      ix.remove(n);
      if (s)
        if (auto r = row_of(n, v)) ix.add(std::move(*r));
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
    auto keep = [&](const row& r) {
      return r.live && r.customer == customers && (f.status.empty() || r.status == f.status);
    };
    if (q.empty()) {
      for (auto& r : ix->slots)
        if (keep(r)) hits.emplace_back(r.n, &r);
    } else {
      auto found = ix->find(q);
      if (digits.size() >= 3 && digits != q) {  // "050-123" also as "050123"
        auto more = ix->find(digits);
        std::vector<uint32_t> both;
        std::set_union(found.begin(), found.end(), more.begin(), more.end(), std::back_inserter(both));
        found.swap(both);
      }
      for (uint32_t i : found)
        if (keep(ix->slots[i])) hits.emplace_back(ix->slots[i].n, &ix->slots[i]);
    }
    // Newest first: slots are mostly in contact order already.
    auto newer = [](const auto& a, const auto& b) { return a.first > b.first; };
    std::reverse(hits.begin(), hits.end());
    if (!std::is_sorted(hits.begin(), hits.end(), newer)) std::sort(hits.begin(), hits.end(), newer);
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

result<page> contact_search::list_plain(const std::string& tenant, const std::string& kind, uint64_t page_no,
                                        uint64_t limit, uint64_t epoch) {
  uint64_t skip = (page_no - 1) * limit;
  if (skip == 0) return list_contacts(impl_->kv, tenant, kind, page_no, limit);
  std::string live = key(tenant + "/k/" + kind + "/");
  std::string memo = live + '\0' + std::to_string(page_no) + '/' + std::to_string(limit);
  std::string from;
  {
    std::lock_guard<std::mutex> lock(impl_->starts_mu);
    if (auto it = impl_->starts.find(memo); it != impl_->starts.end() && it->second.epoch == epoch)
      from = it->second.key;
  }
  page out;
  auto n = util::get_count(impl_->kv, key(tenant + "/#" + kind));
  if (!n) return n.error();
  out.total = *n;
  if (util::past_the_end(page_no, limit, out.total)) return out;  // nothing to walk through
  uint64_t at = 0;
  if (from.empty()) {
    // Some view changed: did this tenant's contacts? The head is read before
    // the page, so a change committing after it fails the next check.
    auto h = impl_->head(tenant);
    if (!h) return h.error();
    at = *h;
    std::lock_guard<std::mutex> lock(impl_->starts_mu);
    if (auto it = impl_->starts.find(memo);
        it != impl_->starts.end() && it->second.head == at && it->second.total == out.total) {
      from = it->second.key;
      it->second.epoch = epoch;
    }
  }
  bool remembered = !from.empty();
  auto it = impl_->kv.scan(cf::projections, remembered ? from : live, util::upper_of(live));
  for (; !remembered && it->valid() && skip > 0; it->next()) --skip;
  if (!remembered && it->valid()) {
    std::lock_guard<std::mutex> lock(impl_->starts_mu);
    if (impl_->starts.size() >= impl::max_starts) impl_->starts.clear();
    impl_->starts[memo] = {epoch, at, out.total, std::string(it->key())};
  }
  for (; it->valid() && out.items.size() < limit; it->next()) out.items.emplace_back(it->value());
  if (auto s = it->error(); !s) return s;
  return out;
}

}  // namespace crmd::views
