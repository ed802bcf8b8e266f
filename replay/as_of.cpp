#include "replay/as_of.hpp"

#include <map>

#include <nlohmann/json.hpp>

#include "actors/registry/registry_decider.hpp"
#include "events/codec.hpp"
#include "events/identity_events.hpp"
#include "events/time_format.hpp"
#include "projections/contacts_view.hpp"
#include "projections/documents_view.hpp"
#include "projections/views.hpp"
#include "projections/work_view.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;

using scratch_map = std::map<std::string, std::string, std::less<>>;

// A view's keyspace in a plain map while the replay runs (nobody else reads
// it); copied into a memory store once at the end for the list functions.
class scratch_txn : public view_txn {
 public:
  scratch_txn(scratch_map& m, std::string prefix) : m_(m), prefix_(std::move(prefix)) {}
  std::optional<std::string> get(std::string_view key) override {
    if (auto it = m_.find(full(key)); it != m_.end()) return it->second;
    return std::nullopt;
  }
  void put(std::string_view key, std::string_view value) override { m_[full(key)] = std::string(value); }
  void del(std::string_view key) override { m_.erase(full(key)); }
  std::optional<std::pair<std::string, std::string>> last(std::string_view lower, std::string_view upper) override {
    auto it = m_.lower_bound(full(upper));
    if (it == m_.begin()) return std::nullopt;
    --it;
    if (it->first < full(lower)) return std::nullopt;
    return std::make_pair(it->first.substr(prefix_.size()), it->second);
  }

 private:
  std::string full(std::string_view key) const {
    std::string k;
    k.reserve(prefix_.size() + key.size());
    return k.append(prefix_).append(key);
  }
  scratch_map& m_;
  std::string prefix_;
};

json listed(const result<views::page>& p) {
  json items = json::array();
  if (!p) return {{"total", 0}, {"items", items}, {"error", p.error().message()}};
  for (auto& s : p->items) items.push_back(json::parse(s, nullptr, false));
  return {{"total", p->total}, {"items", items}};
}

}  // namespace

result<std::string> tenant_as_of(event_log& log, const as_of_query& q) {
  scratch_map folded;
  // Only the views the answer lists, and only the streams their events are
  // in: the tenant actor's (leads, customers, tasks, documents, prompts,
  // settings), the tenant's users and the registry. Calls and WhatsApp
  // sessions write their own streams, which none of these views folds.
  auto all = views::all();
  std::vector<std::pair<projection*, std::unique_ptr<scratch_txn>>> views;
  for (auto& v : all) {
    std::string_view name = v->name();
    if (name == "contacts" || name == "documents" || name == "tasks" || name == "prompts")
      views.emplace_back(v.get(), std::make_unique<scratch_txn>(folded, view_prefix(name)));
  }
  std::vector<std::string> streams{q.tenant + "/tenant/" + q.tenant, registry::users_stream(q.tenant),
                                   registry::stream};
  registry::state reg;
  uint64_t replayed = 0, last = 0;
  int64_t last_us = 0;
  status failed = status::ok();
  auto s = log.scan_streams(streams, q.until_position, [&](const log_entry& e) {
    const auto& r = e.record;
    if (r.recorded_at_us > q.until_us) return true;  // the clock may step back: later ones can still count
    last = r.position;
    last_us = r.recorded_at_us;
    bool registry_stream = r.stream == registry::stream;
    if (r.tenant != q.tenant && !registry_stream) return true;
    for (auto& [view, txn] : views)
      if (auto st = view->apply(e, *txn); !st) {
        failed = status{st.code(), std::string(view->name()) + " at position " + std::to_string(r.position) + ": " + st.message()};
        return false;
      }
    // Users live in the registry's state, not in a view (docs/decisions.md).
    if (!e.erased && codec::knows_type<ev::registry_event>(r.type)) {
      auto ev = codec::decode<ev::registry_event>(r.type, r.schema_version, e.payload);
      if (ev) registry::apply(reg, std::string(r.stream), *ev);
    }
    ++replayed;
    return true;
  });
  if (!s) return s;
  if (!failed) return failed;
  auto scratch = make_memory_kv();
  {
    auto b = scratch->new_batch();
    for (auto& [k, v] : folded) b->put(cf::projections, k, v);
    if (auto w = scratch->write(*b, false); !w) return w;
  }
  auto& kv = *scratch;
  uint64_t n = std::max<uint64_t>(1, q.limit);
  json users = json::array();
  uint64_t user_total = 0;
  for (auto& [id, u] : reg.users)
    if (u.tenant == q.tenant && !u.deleted) {
      if (users.size() < n) users.push_back({{"id", u.id}, {"email", u.email}, {"role", u.role}, {"tenant_id", u.tenant}});
      ++user_total;
    }
  json settings = nullptr;
  if (auto st = views::get_settings(kv, q.tenant))
    settings = {{"default_region", st->default_region}, {"language", st->language}, {"time_zone", st->time_zone},
                {"whatsapp_provider", st->whatsapp_provider}};
  json out = {{"ok", true},
              {"tenant", q.tenant},
              {"as_of", {{"position", last}, {"at", last ? json(rfc3339(last_us, 6)) : json(nullptr)}}},
              {"events", replayed},
              {"customers", listed(views::list_contacts(kv, q.tenant, "customer", 1, n))},
              {"leads", listed(views::list_contacts(kv, q.tenant, "lead", 1, n))},
              {"contracts", listed(views::list_documents(kv, q.tenant, "contract", "", 1, n))},
              {"invoices", listed(views::list_documents(kv, q.tenant, "invoice", "", 1, n))},
              {"tasks", listed(views::list_tasks(kv, q.tenant, "", 1, n))},
              {"prompts", listed(views::list_prompts(kv, q.tenant, 1, n))},
              {"users", {{"total", user_total}, {"items", users}}},
              {"settings", settings}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace crmd
