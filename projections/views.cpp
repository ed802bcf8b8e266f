#include "projections/views.hpp"
#include "projections/view_util.hpp"
#include "projections/contacts_view.hpp"
#include "projections/work_view.hpp"
#include "projections/documents_view.hpp"
#include "projections/calls_view.hpp"
#include "projections/messages_view.hpp"
#include "projections/audit_view.hpp"

#include <ctime>
#include <functional>
#include <nlohmann/json.hpp>

#include "actors/registry/registry_decider.hpp"
#include "actors/tenant/tenant_decider.hpp"
#include "events/codec.hpp"
#include "events/time_format.hpp"
#include "events/tenant_events.hpp"

namespace crmd::views {
namespace {

using json = nlohmann::json;
using util::dump;
using util::upper_of;


uint64_t read_count(view_txn& t, std::string_view key) {
  auto v = t.get(key);
  return v && v->size() == 8 ? read_be64(*v) : 0;
}


class tenants_view : public projection {
 public:
  const char* name() const override { return "tenants"; }
  // Every event is counted; only the registry's are read.
  bool needs_payload(std::string_view type) const override { return codec::knows_type<ev::registry_event>(type); }
  status apply(const log_entry& e, view_txn& t) override {
    // Every event counts for its tenant (admin stats): one counter per
    // tenant, so a batch writes it once however many events it holds.
    if (!e.record.tenant.empty()) util::bump(t, "n/" + std::string(e.record.tenant));
    if (e.record.stream != registry::stream) return status::ok();
    auto ev = codec::decode<ev::registry_event>(e.record.type, e.record.schema_version, e.payload);
    if (!ev) return ev.error();
    if (auto* c = std::get_if<ev::tenant_created>(&*ev)) {
      json j = {{"id", c->tenant_id},
                {"name", c->name},
                {"aliases", c->aliases},
                {"status", "active"},
                {"modules", {"calls", "crm", "whatsapp"}},
                {"created_at", rfc3339(e.record.recorded_at_us)},
                {"position", e.record.position}};
      std::string key = "t/" + c->tenant_id;
      if (!t.get(key)) t.put("#count", be64(read_count(t, "#count") + 1));
      t.put(key, dump(j));
      return status::ok();
    }
    std::string id;
    std::function<void(json&)> change;
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, ev::tenant_suspended>) {
            id = x.tenant_id, change = [](json& j) { j["status"] = "suspended"; };
          } else if constexpr (std::is_same_v<T, ev::tenant_reactivated>) {
            id = x.tenant_id, change = [](json& j) { j["status"] = "active"; };
          } else if constexpr (std::is_same_v<T, ev::tenant_deleted>) {
            id = x.tenant_id, change = [](json& j) { j["status"] = "deleted"; };
          } else if constexpr (std::is_same_v<T, ev::tenant_modules_changed>) {
            id = x.tenant_id, change = [m = x.enabled](json& j) { j["modules"] = m; };
          } else if constexpr (std::is_same_v<T, ev::tenant_name_changed>) {
            id = x.tenant_id, change = [n = x.name](json& j) { j["name"] = n; };
          }
        },
        *ev);
    if (!change) return status::ok();
    auto old = t.get("t/" + id);
    if (!old) return status::ok();
    auto j = json::parse(*old, nullptr, false);
    if (!j.is_object()) return {errc::corruption, "malformed tenant view entry"};
    change(j);
    t.put("t/" + id, dump(j));
    return status::ok();
  }
};

class prompts_view : public projection {
 public:
  const char* name() const override { return "prompts"; }
  bool folds(std::string_view type) const override { return type == "prompt_saved" || type == "prompt_deleted"; }
  status apply(const log_entry& e, view_txn& t) override {
    if (!folds(e.record.type)) return status::ok();
    bool saved = e.record.type == "prompt_saved";
    auto ev = codec::decode<ev::tenant_event>(e.record.type, e.record.schema_version, e.payload);
    if (!ev) return ev.error();
    std::string tenant(e.record.tenant);
    if (saved) return on_saved(tenant, std::get<ev::prompt_saved>(*ev), e.record, t);
    return on_deleted(tenant, std::get<ev::prompt_deleted>(*ev), e.record, t);
  }

 private:
  static status on_saved(const std::string& tenant, const ev::prompt_saved& p, const record_view& r, view_txn& t) {
    auto n = tenant::parse_prompt_id(p.prompt_id);
    if (!n) return {errc::corruption, "malformed prompt id " + p.prompt_id};
    std::string base = tenant + "/";
    std::string live_key = base + "l/" + be64(*n);
    auto previous = t.get(live_key);
    std::string created = rfc3339(r.recorded_at_us);
    if (previous) {
      auto old = json::parse(*previous, nullptr, false);
      if (old.is_object()) {
        created = old.value("created_at", created);
        t.del(base + "s/" + be64(old.value("position", uint64_t(0))));
      }
    } else {
      t.put(base + "#count", be64(read_count(t, base + "#count") + 1));
    }
    json j = {{"id", p.prompt_id},     {"version", p.version},   {"title", p.title},
              {"body", p.body},        {"kind", p.kind},         {"created_at", created},
              {"updated_at", rfc3339(r.recorded_at_us)},      {"position", r.position},
              {"deleted", false}};
    std::string v = dump(j);
    t.put(live_key, v);
    std::string version_key = base + "h/" + be64(*n);
    version_key += std::string(be64(p.version)).substr(4);
    t.put(version_key, v);
    t.put(base + "s/" + be64(r.position), p.prompt_id);
    return status::ok();
  }

  static status on_deleted(const std::string& tenant, const ev::prompt_deleted& p, const record_view& r, view_txn& t) {
    auto n = tenant::parse_prompt_id(p.prompt_id);
    if (!n) return {errc::corruption, "malformed prompt id " + p.prompt_id};
    std::string base = tenant + "/";
    auto live = t.get(base + "l/" + be64(*n));
    if (!live) return status::ok();  // the decider never deletes twice
    auto j = json::parse(*live, nullptr, false);
    if (!j.is_object()) return {errc::corruption, "malformed prompt view entry"};
    t.del(base + "s/" + be64(j.value("position", uint64_t(0))));
    j["deleted"] = true;
    j["deleted_at"] = rfc3339(r.recorded_at_us);
    t.del(base + "l/" + be64(*n));
    t.put(base + "d/" + be64(*n), dump(j));
    t.put(base + "#count", be64(read_count(t, base + "#count") - 1));
    return status::ok();
  }
};

std::string key(std::string_view view, const std::string& rest) { return view_prefix(view) + rest; }



}  // namespace

std::unique_ptr<projection> make_tenants_view() { return std::make_unique<tenants_view>(); }
std::unique_ptr<projection> make_prompts_view() { return std::make_unique<prompts_view>(); }

std::vector<std::unique_ptr<projection>> all() {
  std::vector<std::unique_ptr<projection>> v;
  v.push_back(make_tenants_view());
  v.push_back(make_prompts_view());
  v.push_back(make_contacts_view());
  v.push_back(make_tasks_view());
  v.push_back(make_timeline_view());
  v.push_back(make_documents_view());
  v.push_back(make_calls_view());
  v.push_back(make_messages_view());
  v.push_back(make_audit_view());
  return v;
}

std::unique_ptr<projection> by_name(const std::string& name) {
  for (auto& v : all())
    if (name == v->name()) return std::move(v);
  return nullptr;
}

const std::vector<std::string>& personal_data_views() {
  static const std::vector<std::string> v{"contacts", "timeline", "messages", "calls", "tasks", "documents"};
  return v;
}

std::vector<std::string> names() {
  std::vector<std::string> out;
  for (auto& v : all()) out.push_back(v->name());
  return out;
}

result<page> list_tenants(kv_store& kv, uint64_t page_no, uint64_t limit) {
  return util::scan_page(kv, key("tenants", "t/"), key("tenants", "#count"), page_no, limit);
}

result<std::optional<std::string>> get_tenant(kv_store& kv, const std::string& id) {
  return util::get_opt(kv, key("tenants", "t/" + id));
}

result<uint64_t> count_tenant_events(kv_store& kv, const std::string& tenant) {
  return util::get_count(kv, key("tenants", "n/" + tenant));
}

result<page> list_prompts(kv_store& kv, const std::string& tenant, uint64_t page_no, uint64_t limit) {
  return util::scan_page(kv, key("prompts", tenant + "/l/"), key("prompts", tenant + "/#count"), page_no, limit);
}

result<std::optional<std::string>> get_prompt(kv_store& kv, const std::string& tenant, const std::string& id) {
  auto n = tenant::parse_prompt_id(id);
  if (!n) return std::optional<std::string>{};
  return util::get_opt(kv, key("prompts", tenant + "/l/" + be64(*n)));
}

result<std::optional<std::string>> last_prompt(kv_store& kv, const std::string& tenant) {
  std::string lo = key("prompts", tenant + "/s/"), k, v;
  auto s = kv.last(cf::projections, lo, upper_of(lo), &k, &v);
  if (s.code() == errc::not_found) return std::optional<std::string>{};
  if (!s) return s;
  return get_prompt(kv, tenant, v);
}

result<std::vector<std::string>> prompt_versions(kv_store& kv, const std::string& tenant, const std::string& id) {
  std::vector<std::string> out;
  auto n = tenant::parse_prompt_id(id);
  if (!n) return out;
  std::string lo = key("prompts", tenant + "/h/" + be64(*n));
  auto it = kv.scan(cf::projections, lo, upper_of(lo));
  for (; it->valid(); it->next()) out.emplace_back(it->value());
  if (auto e = it->error(); !e) return e;
  return out;
}

}  // namespace crmd::views
