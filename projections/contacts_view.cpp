// The contacts view: a tenant's leads and customers, newest first.
//
//   v/contacts/<t>/k/<kind>/<be64(~n)>   live contact L<n> of kind lead|customer (JSON)
//   v/contacts/<t>/i/<be64(n)>           its kind, to find it by id
//   v/contacts/<t>/d/<be64(n)>           a deleted contact's last JSON
//   v/contacts/<t>/#<kind>               live contacts of the kind (u64be)
//   v/contacts/<t>/settings              the tenant's settings (JSON)
//   v/contacts/<t>/p/<e164>              id of the live contact with that phone (webhooks find callers by it)
//   v/contacts/<t>/c/<be64(position)>    be64(n): contact L<n> changed at that log position
//                                        (how contact_search catches up; see contact_search.hpp)
//
// Erased subjects: the contact's entries are removed (its personal data must
// not outlive its key); the envelope's subject names the id.
#include <nlohmann/json.hpp>

#include "actors/crm/contacts.hpp"
#include "actors/crm/deals.hpp"
#include "events/codec.hpp"
#include "events/time_format.hpp"
#include "projections/contact_doc.hpp"
#include "projections/contacts_view.hpp"
#include "projections/view_util.hpp"

namespace crmd::views {
namespace {

using json = nlohmann::json;
using util::bump;
using util::dump;
using util::upper_of;

std::string newest_first(uint64_t n) { return be64(~n); }

struct keys {
  std::string base;  // "<t>/"
  std::string live(const std::string& kind, uint64_t n) const { return base + "k/" + kind + "/" + newest_first(n); }
  std::string index(uint64_t n) const { return base + "i/" + be64(n); }
  std::string deleted(uint64_t n) const { return base + "d/" + be64(n); }
  std::string count(const std::string& kind) const { return base + "#" + kind; }
  std::string changed(uint64_t position) const { return base + "c/" + be64(position); }
  std::string phone(const std::string& e164) const { return base + "p/" + e164; }
};


class contacts_view : public projection {
 public:
  const char* name() const override { return "contacts"; }

  bool folds(std::string_view type) const override {
    return type == "lead_created" || type == "lead_updated" || type == "lead_deleted" || type == "lead_converted" ||
           type == "settings_changed" || type == "pipeline_changed";
  }

  status apply(const log_entry& e, view_txn& t) override {
    const auto& r = e.record;
    if (!folds(r.type)) return status::ok();
    keys k{std::string(r.tenant) + "/"};
    if (r.type == "settings_changed" || r.type == "pipeline_changed") {
      auto ev = codec::decode<ev::tenant_event>(r.type, r.schema_version, e.payload);
      if (!ev) return ev.error();
      auto cur = t.get(k.base + "settings");
      json j = cur ? json::parse(*cur, nullptr, false) : json::object();
      if (!j.is_object()) j = json::object();
      if (auto* st = std::get_if<ev::settings_changed>(&*ev)) {
        j["default_region"] = st->default_region;
        j["language"] = st->language;
        j["time_zone"] = st->time_zone;
        j["whatsapp_provider"] = st->whatsapp_provider;
      } else {
        j["pipeline"] = std::get<ev::pipeline_changed>(*ev).stages;
      }
      t.put(k.base + "settings", dump(j));
      return status::ok();
    }
    if (e.erased) return forget(r, k, t);
    auto ev = codec::decode<ev::tenant_event>(r.type, r.schema_version, e.payload);
    if (!ev) return ev.error();
    std::string when = rfc3339(r.recorded_at_us);
    if (auto* c = std::get_if<ev::lead_created>(&*ev)) {
      auto n = crm::parse_contact_id(c->lead_id);
      if (!n) return {errc::corruption, "malformed contact id " + c->lead_id};
      contact_doc d{c->lead_id, "lead", c->name, c->phone, c->email, c->source, "new", when, when, {}, false,
                    r.position};
      if (!dump_contact(d, buf_)) {
        json j = {{"id", c->lead_id}, {"kind", "lead"},      {"name", c->name},   {"phone", c->phone},
                  {"email", c->email}, {"source", c->source}, {"status", "new"},   {"created_at", when},
                  {"updated_at", when}, {"position", r.position}};
        buf_ = dump(j);
      }
      t.put(k.live("lead", *n), buf_);
      t.put(k.index(*n), "lead");
      bump(t, k.count("lead"), 1);
      t.put_new(k.changed(r.position), be64(*n));
      if (!c->phone.empty()) t.put(k.phone(c->phone), c->lead_id);
      return status::ok();
    }
    std::string id = std::visit([](const auto& x) -> std::string {
      if constexpr (std::is_same_v<std::decay_t<decltype(x)>, ev::lead_updated> ||
                    std::is_same_v<std::decay_t<decltype(x)>, ev::lead_deleted> ||
                    std::is_same_v<std::decay_t<decltype(x)>, ev::lead_converted>)
        return x.lead_id;
      return {};
    }, *ev);
    auto n = crm::parse_contact_id(id);
    if (!n) return {errc::corruption, "malformed contact id " + id};
    auto kind = t.get(k.index(*n));
    if (!kind) return status::ok();  // deleted or erased before
    auto cur = t.get(k.live(*kind, *n));
    if (!cur) return status::ok();
    t.put_new(k.changed(r.position), be64(*n));
    if (auto* u = std::get_if<ev::lead_updated>(&*ev)) {
      // The common change, without building a JSON tree (contact_doc.hpp).
      if (auto d = parse_contact(*cur)) {
        d->updated_at = when;
        d->position = r.position;
        if (u->name) d->name = *u->name;
        if (u->phone) {
          if (!d->phone.empty()) t.del(k.phone(d->phone));
          if (!u->phone->empty()) t.put(k.phone(*u->phone), id);
          d->phone = *u->phone;
        }
        if (u->email) d->email = *u->email;
        if (u->status) d->status = *u->status;
        if (dump_contact(*d, buf_)) {
          t.put(k.live(*kind, *n), buf_);
          return status::ok();
        }
        // Not valid UTF-8: nlohmann below replaces it as it always did. The
        // phone index is already moved, and moving it again changes nothing.
      }
    }
    auto j = json::parse(*cur, nullptr, false);
    if (!j.is_object()) return {errc::corruption, "malformed contact view entry"};
    j["updated_at"] = when;
    j["position"] = r.position;
    if (auto* u = std::get_if<ev::lead_updated>(&*ev)) {
      if (u->name) j["name"] = *u->name;
      if (u->phone) {
        if (auto old = j.value("phone", ""); !old.empty()) t.del(k.phone(old));
        if (!u->phone->empty()) t.put(k.phone(*u->phone), id);
        j["phone"] = *u->phone;
      }
      if (u->email) j["email"] = *u->email;
      if (u->status) j["status"] = *u->status;
      t.put(k.live(*kind, *n), dump(j));
    } else if (std::holds_alternative<ev::lead_converted>(*ev)) {
      j["kind"] = "customer";
      j["converted_at"] = when;
      t.del(k.live(*kind, *n));
      t.put(k.live("customer", *n), dump(j));
      t.put(k.index(*n), "customer");
      bump(t, k.count(*kind), -1);
      bump(t, k.count("customer"), 1);
    } else {  // deleted
      if (auto old = j.value("phone", ""); !old.empty()) t.del(k.phone(old));
      j["deleted"] = true;
      t.del(k.live(*kind, *n));
      t.del(k.index(*n));
      t.put(k.deleted(*n), dump(j));
      bump(t, k.count(*kind), -1);
    }
    return status::ok();
  }

 private:
  std::string buf_;  // the entry being written, kept for its capacity

  static status forget(const record_view& r, const keys& k, view_txn& t) {
    auto slash = r.subject.rfind('/');
    auto n = crm::parse_contact_id(std::string(r.subject.substr(slash == std::string_view::npos ? 0 : slash + 1)));
    if (!n) return status::ok();
    if (auto kind = t.get(k.index(*n))) {
      if (auto cur = t.get(k.live(*kind, *n))) {
        auto j = json::parse(*cur, nullptr, false);
        if (j.is_object() && !j.value("phone", "").empty()) t.del(k.phone(j.value("phone", "")));
      }
      t.del(k.live(*kind, *n));
      t.del(k.index(*n));
      bump(t, k.count(*kind), -1);
      t.put_new(k.changed(r.position), be64(*n));
    }
    t.del(k.deleted(*n));
    return status::ok();
  }
};

std::string view_key(const std::string& rest) { return view_prefix("contacts") + rest; }

}  // namespace

std::unique_ptr<projection> make_contacts_view() { return std::make_unique<contacts_view>(); }

result<page> list_contacts(kv_store& kv, const std::string& tenant, const std::string& kind, uint64_t page_no,
                           uint64_t limit) {
  // The key order is the answer: read one page.
  return util::scan_page(kv, view_key(tenant + "/k/" + kind + "/"), view_key(tenant + "/#" + kind), page_no, limit);
}

result<uint64_t> count_contacts(kv_store& kv, const std::string& tenant, const std::string& kind) {
  return util::get_count(kv, view_key(tenant + "/#" + kind));
}

result<std::optional<std::string>> get_contact(kv_store& kv, const std::string& tenant, const std::string& id) {
  auto n = crm::parse_contact_id(id);
  if (!n) return std::optional<std::string>{};
  std::string kind, v;
  auto s = kv.get(cf::projections, view_key(tenant + "/i/" + be64(*n)), &kind);
  if (s.code() == errc::not_found) return std::optional<std::string>{};
  if (!s) return s;
  s = kv.get(cf::projections, view_key(tenant + "/k/" + kind + "/" + newest_first(*n)), &v);
  if (s.code() == errc::not_found) return std::optional<std::string>{};
  if (!s) return s;
  return std::optional<std::string>{std::move(v)};
}

result<std::optional<std::string>> contact_by_phone(kv_store& kv, const std::string& tenant, const std::string& e164) {
  return util::get_opt(kv, view_key(tenant + "/p/" + e164));
}

result<crm::settings> get_settings(kv_store& kv, const std::string& tenant) {
  crm::settings out;
  std::string v;
  auto s = kv.get(cf::projections, view_key(tenant + "/settings"), &v);
  if (s.code() == errc::not_found) return out;
  if (!s) return s;
  auto j = json::parse(v, nullptr, false);
  if (!j.is_object()) return status{errc::corruption, "malformed settings view entry"};
  out.default_region = j.value("default_region", out.default_region);
  out.language = j.value("language", out.language);
  out.time_zone = j.value("time_zone", out.time_zone);
  out.whatsapp_provider = j.value("whatsapp_provider", out.whatsapp_provider);
  return out;
}

result<std::vector<std::string>> get_pipeline(kv_store& kv, const std::string& tenant) {
  std::vector<std::string> out = crm::deals{}.pipeline;
  std::string v;
  auto s = kv.get(cf::projections, view_key(tenant + "/settings"), &v);
  if (s.code() == errc::not_found) return out;
  if (!s) return s;
  auto j = json::parse(v, nullptr, false);
  if (j.is_object() && j.contains("pipeline") && j["pipeline"].is_array()) {
    out.clear();
    for (auto& x : j["pipeline"])
      if (x.is_string()) out.push_back(x.get<std::string>());
  }
  return out;
}

status scan_contacts(kv_store& kv, const std::string& tenant, const std::string& kind,
                     const std::function<bool(std::string_view)>& visit) {
  std::string prefix = view_key(tenant + "/k/" + kind + "/");
  auto it = kv.scan_bulk(cf::projections, prefix, upper_of(prefix));  // a whole list: the CSV export
  for (; it->valid(); it->next())
    if (!visit(it->value())) break;
  return it->error();
}

}  // namespace crmd::views
