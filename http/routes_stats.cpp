// GET /api/admin/stats: what each business holds and does, and the whole
// node's totals, for system administrators.
//
// Every number is a counter the views already keep (or the log's own
// position), so the answer costs a few point reads per tenant, never a scan
// of leads or messages (decisions.md, "Admin stats"):
//   leads, customers   contacts view   #lead, #customer
//   calls              calls view      #count (every call ever started)
//   messages           messages view   #a (every stored WhatsApp message, history too)
//   open_tasks         tasks view      #open
//   revenue_paid       documents view  invoice/#paid/<currency>, minor units
//   whatsapp_*         messages view   #connected (sessions), settings and the
//                                      sealed Graph token's presence (Cloud)
//   live_streams       the live hub    open /api/stream connections
//   events             tenants view    n/<tenant>
#include <filesystem>
#include <map>

#include "http/api_internal.hpp"
#include "projections/calls_view.hpp"
#include "projections/contacts_view.hpp"
#include "projections/documents_view.hpp"
#include "projections/messages_view.hpp"
#include "projections/runner.hpp"
#include "projections/views.hpp"
#include "projections/work_view.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"
#include "storage/secret_store.hpp"

namespace crmd::http {
namespace {

struct tenant_entry {
  std::string id, name, status;
  bool has_cloud_number = false;  // a WhatsApp Cloud phone_number_id is assigned
};

// The bytes of the RocksDB directory (tables, WAL, manifests): one pass over
// its files. RocksDB may delete a file while we look; that file just does
// not count. nullopt when there is no directory (a store in memory).
std::optional<uint64_t> store_bytes(const std::string& data_dir) {
  namespace fs = std::filesystem;
  if (data_dir.empty()) return std::nullopt;
  std::error_code ec;
  fs::recursive_directory_iterator it(fs::path(data_dir) / "db", ec), end;
  if (ec) return std::nullopt;
  uint64_t total = 0;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    std::error_code fe;
    if (!it->is_regular_file(fe)) continue;
    auto n = it->file_size(fe);
    if (!fe) total += n;
  }
  return total;
}

// The per-tenant numbers the total adds up (revenue_paid too, by currency).
const char* const summed[] = {"leads",  "customers", "calls", "messages", "open_tasks", "whatsapp_sessions_connected",
                              "live_streams", "events"};

// One tenant's numbers; the first failed read is the answer's error.
result<json> tenant_stats(api::impl& a, const tenant_entry& t, const std::map<std::string, size_t>& streams) {
  auto& kv = a.deps.views;
  json j = {{"tenant_id", t.id}, {"name", t.name}, {"status", t.status}};
  struct counter {
    const char* field;
    result<uint64_t> value;
  };
  counter counters[] = {
      {"leads", views::count_contacts(kv, t.id, "lead")},
      {"customers", views::count_contacts(kv, t.id, "customer")},
      {"calls", views::count_calls(kv, t.id)},
      {"messages", views::count_messages(kv, t.id)},
      {"open_tasks", views::count_open_tasks(kv, t.id)},
      {"events", views::count_tenant_events(kv, t.id)},
      {"whatsapp_sessions_connected", views::count_connected_sessions(kv, t.id)},
  };
  for (auto& c : counters) {
    if (!c.value) return c.value.error();
    j[c.field] = *c.value;
  }
  auto revenue = views::paid_revenue(kv, t.id);
  if (!revenue) return revenue.error();
  j["revenue_paid"] = json::object();
  for (auto& [currency, amount] : *revenue) j["revenue_paid"][currency] = amount;

  auto settings = views::get_settings(kv, t.id);
  if (!settings) return settings.error();
  j["whatsapp_provider"] = settings->whatsapp_provider;
  // Baileys: a session says it is connected. Cloud API: nothing to connect;
  // crmd can send once a token and a phone_number_id are both set.
  bool connected = j["whatsapp_sessions_connected"].get<uint64_t>() > 0;
  if (settings->whatsapp_provider == "cloud") {
    std::string sealed;
    auto s = kv.get(cf::meta, secrets::meta_key(t.id, secrets::whatsapp_graph_token), &sealed);
    if (!s && s.code() != errc::not_found) return s;
    connected = s.is_ok() && t.has_cloud_number;
  }
  j["whatsapp_connected"] = connected;
  auto live = streams.find(t.id);
  j["live_streams"] = live == streams.end() ? 0 : live->second;
  return j;
}

void stats(const call_ptr& c) {
  auto& a = *c->ctx;
  std::vector<tenant_entry> tenants;
  a.deps.rt.read_registry([&](const registry::state& s) {
    for (auto& [id, t] : s.tenants) tenants.push_back({id, t.name, t.status, !t.cloud_ids.empty()});
  });
  auto streams = a.live->streams_by_tenant();
  json total = {{"tenants", tenants.size()}, {"revenue_paid", json::object()}, {"whatsapp_connected_tenants", 0}};
  for (const char* f : summed) total[f] = 0;
  json rows = json::array();
  for (auto& t : tenants) {
    auto row = tenant_stats(a, t, streams);
    if (!row) return c->fail(row.error());
    for (const char* f : summed) total[f] = total[f].get<uint64_t>() + (*row)[f].get<uint64_t>();
    for (auto& [currency, n] : (*row)["revenue_paid"].items())
      total["revenue_paid"][currency] = total["revenue_paid"].value(currency, uint64_t(0)) + n.get<uint64_t>();
    if ((*row)["whatsapp_connected"].get<bool>())
      total["whatsapp_connected_tenants"] = total["whatsapp_connected_tenants"].get<uint64_t>() + 1;
    rows.push_back(std::move(*row));
  }
  auto system_events = views::count_tenant_events(a.deps.views, "system");
  if (!system_events) return c->fail(system_events.error());
  auto bytes = store_bytes(a.opts.data_dir);
  json log = {{"events", a.deps.log.last_position()},
              {"system_events", *system_events},
              {"views_position", a.deps.runner.position()},
              {"store_bytes", bytes ? json(*bytes) : json(nullptr)}};
  c->send_json(200, {{"ok", true}, {"total", total}, {"tenants", rows}, {"log", log}});
}

}  // namespace

void add_stats_routes(route_list& r) {
  r.push_back({"GET", "/api/admin/stats", scope::system, {}, {}, [](const call_ptr& c) {
    // A few reads per tenant and a walk of the store's files: off the HTTP threads.
    c->after_own_writes([c] {
      if (!c->ctx->query_pool->try_submit([c] { stats(c); }))
        c->error(503, "busy", "crmd is busy; retry shortly", {{"Retry-After", "1"}});
    });
  }});
}

}  // namespace crmd::http
