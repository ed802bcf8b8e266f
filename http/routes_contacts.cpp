// Leads (/api/leads) and customers (/api/crm/customers): one kind of record,
// a contact, that a lead becomes a customer of by conversion. The tenant
// comes from the token (a system admin names it with business_id).
// Also the tenant's settings (/api/business/{tenant}/settings).
#include "actors/crm/phone.hpp"
#include "http/api_internal.hpp"
#include "projections/contacts_view.hpp"
#include "projections/runner.hpp"
#include "storage/secret_store.hpp"

namespace crmd::http {
namespace {

using identity::perm;
constexpr auto crm_module = identity::module::crm;

json saved(const command_ok& ok) { return {{"ok", true}, {"id", ok.id}, {"position", ok.position}}; }

// Reads the optional string fields `names` of `body` into `out`; answers 400
// and returns false for a mistyped one.
bool optional_fields(const call_ptr& c, const json& body,
                     std::initializer_list<std::pair<const char*, std::optional<std::string>*>> fields) {
  for (auto [name, out] : fields) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) continue;
    auto v = string_field(c, body, name, false);
    if (!v) return false;
    *out = *v;
  }
  return true;
}

void create(const call_ptr& c, bool customer) {
  auto body = c->json_body();
  if (!body) return;
  std::optional<std::string> name, phone, email, source, status;
  if (!optional_fields(c, *body, {{"name", &name}, {"phone", &phone}, {"email", &email}, {"source", &source},
                                  {"status", &status}}))
    return;
  crm::create_contact cmd{name.value_or(""), phone.value_or(""), email.value_or(""), source.value_or("manual"), status,
                          customer};
  c->ctx->deps.rt.tenant_command(c->tenant, std::move(cmd), c->who(), c->answer(201, saved));
}

void list(const call_ptr& c, const std::string& kind) {
  uint64_t page = 1, limit = 25;
  if (!c->paging(page, limit)) return;
  views::contact_filter f;
  if (auto it = c->query.find("q"); it != c->query.end()) f.q = it->second;
  if (auto it = c->query.find("status"); it != c->query.end()) {
    if (!crm::valid_status(it->second))
      return c->error(400, "invalid_field", "field 'status' must be new, contacted, qualified, won or lost");
    f.status = it->second;
  }
  if (auto it = c->query.find("sort"); it != c->query.end()) {
    static const std::set<std::string> sorts{"created_at", "-created_at", "updated_at", "-updated_at", "name", "-name"};
    if (!sorts.count(it->second))
      return c->error(400, "invalid_field", "field 'sort' must be created_at, updated_at or name, '-' for descending");
    f.sort = it->second;
  }
  if (f.q.size() > 200) return c->error(400, "invalid_field", "field 'q' is longer than 200 bytes");
  c->after_own_writes([c, kind, f, page, limit] {
    if (f.plain()) {
      auto p = c->ctx->contact_search.list_plain(c->tenant, kind, page, limit, c->ctx->deps.runner.epoch());
      if (!p) return c->fail(p.error());
      return c->send_raw_json(200, page_json(p->items, p->total, page, limit));
    }
    // A tenant's first search builds its index (one scan): never on an HTTP thread.
    bool queued = c->ctx->query_pool->try_submit([c, kind, f, page, limit] {
      auto p = c->ctx->contact_search.list(c->tenant, kind, f, page, limit);
      if (!p) return c->fail(p.error());
      c->send_raw_json(200, page_json(p->items, p->total, page, limit));
    });
    if (!queued) c->error(503, "busy", "too many searches at once; retry shortly", {{"Retry-After", "1"}});
  });
}

void get(const call_ptr& c, const std::string& kind) {
  c->after_own_writes([c, kind] {
    auto id = c->params["id"];
    auto v = views::get_contact(c->ctx->deps.views, c->tenant, id);
    if (!v) return c->fail(v.error());
    if (!*v || (kind == "customer" && v->value().find("\"kind\":\"customer\"") == std::string::npos))
      return c->error(404, "contact_not_found", "no " + kind + " '" + id + "'");
    c->send_raw_json(200, "{\"ok\":true,\"" + kind + "\":" + **v + "}");
  });
}

void patch(const call_ptr& c, bool customers_only) {
  auto body = c->json_body();
  if (!body) return;
  crm::update_contact cmd;
  cmd.id = c->params["id"];
  cmd.customers_only = customers_only;
  if (!optional_fields(c, *body, {{"name", &cmd.name}, {"phone", &cmd.phone}, {"email", &cmd.email},
                                  {"status", &cmd.status}}))
    return;
  c->ctx->deps.rt.tenant_command(c->tenant, std::move(cmd), c->who(), c->answer(200, saved));
}

void remove(const call_ptr& c, bool customers_only) {
  c->ctx->deps.rt.tenant_command(c->tenant, crm::delete_contact{c->params["id"], customers_only}, c->who(),
                                 c->answer(200, saved));
}

// CSV, UTF-8 with a byte-order mark so spreadsheet programs show Hebrew.
std::string csv_cell(const std::string& v) {
  bool quote = v.find_first_of(",\"\r\n") != std::string::npos;
  // A leading =, +, -, @, tab or CR would start a formula in a spreadsheet;
  // a phone number (+ and digits) is left as it is.
  bool phone = v.size() > 1 && v[0] == '+' && v.find_first_not_of("0123456789", 1) == std::string::npos;
  std::string s = !v.empty() && !phone && std::string("=+-@\t\r").find(v[0]) != std::string::npos ? "'" + v : v;
  if (!quote) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

// Streams the export in chunks, from the view, on the I/O pool: a tenant's
// whole list is never held in memory, nor an HTTP thread held by the scan.
void csv(const call_ptr& c, const std::string& kind) {
  c->after_own_writes([c, kind] {
    bool queued = c->ctx->query_pool->try_submit([c, kind] {
      auto stream = c->out->start_stream(200, {{"Content-Type", "text/csv; charset=utf-8"},
                                               {"Content-Disposition", "attachment; filename=\"" + kind + "s.csv\""},
                                               {"X-Request-Id", c->request_id},
                                               {"X-Revision", c->ctx->opts.revision},
                                               {"Cache-Control", "no-store"}});
      if (!stream) return;
      std::string out = "\xEF\xBB\xBFid,name,phone,email,status,source,created_at\r\n";
      auto s = views::scan_contacts(c->ctx->deps.views, c->tenant, kind, [&](std::string_view v) {
        auto j = json::parse(v, nullptr, false);
        if (!j.is_object()) return true;
        for (const char* f : {"id", "name", "phone", "email", "status", "source", "created_at"})
          out += csv_cell(j.value(f, "")) + (std::string(f) == "created_at" ? "\r\n" : ",");
        if (out.size() < (64u << 10)) return true;
        bool open = stream->write(std::move(out));
        out.clear();
        return open;  // the client left: stop reading
      });
      if (!s) std::fprintf(stderr, "crmd http: csv export stopped: %s\n", s.to_string().c_str());
      if (!out.empty()) stream->write(std::move(out));
      stream->close();
    });
    if (!queued) c->error(503, "busy", "crmd is busy; retry shortly", {{"Retry-After", "1"}});
  });
}

// The Graph token is shown as {"set":bool,"last4":"..."|null}, never whole.
json settings_json(const call_ptr& c, const crm::settings& s) {
  json token = {{"set", false}, {"last4", nullptr}};
  if (!c->ctx->opts.secrets_key.empty()) {
    auto t = secrets::read(c->ctx->deps.views, c->ctx->opts.secrets_key, c->tenant, secrets::whatsapp_graph_token);
    if (t && *t) token = {{"set", true}, {"last4", secrets::hint(**t)}};
  }
  return {{"default_region", s.default_region}, {"language", s.language}, {"time_zone", s.time_zone},
          {"whatsapp_provider", s.whatsapp_provider}, {"whatsapp_token", token}};
}

// "whatsapp_token": a Graph access token to keep sealed (storage/secret_store.hpp),
// or null / "" to remove it. False when it answered an error.
bool whatsapp_token(const call_ptr& c, const json& body, crm::change_settings& cmd) {
  auto it = body.find("whatsapp_token");
  if (it == body.end()) return true;
  std::string token;
  if (it->is_string()) {
    token = it->get<std::string>();
  } else if (!it->is_null()) {
    c->error(400, "invalid_field", "field 'whatsapp_token' must be a string or null");
    return false;
  }
  // Meta's tokens are long printable ASCII; anything else would break the
  // Authorization header it is sent in.
  bool printable = token.find_first_not_of(
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=|:") == std::string::npos;
  if (!token.empty() && (token.size() < 20 || token.size() > 4096 || !printable)) {
    c->error(400, "invalid_field", "field 'whatsapp_token' must be 20..4096 characters of a Graph access token");
    return false;
  }
  if (c->ctx->opts.secrets_key.empty()) {
    c->error(503, "secrets_unavailable", "crmd has no secrets key to store the token with");
    return false;
  }
  if (token.empty()) {
    cmd.sealed_whatsapp_token = std::string();
    return true;
  }
  auto sealed = secrets::seal(c->ctx->opts.secrets_key, c->tenant, secrets::whatsapp_graph_token, token);
  if (!sealed) {
    c->fail(sealed.error());
    return false;
  }
  cmd.sealed_whatsapp_token = std::move(*sealed);
  return true;
}

}  // namespace

void add_contact_routes(route_list& r) {
  r.push_back({"POST", "/api/leads", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) { create(c, false); }});
  r.push_back({"GET", "/api/leads", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) { list(c, "lead"); }});
  r.push_back({"GET", "/api/leads.csv", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) { csv(c, "lead"); }});
  r.push_back({"GET", "/api/leads/:id", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) { get(c, "lead"); }});
  r.push_back({"PATCH", "/api/leads/:id", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) { patch(c, false); }});
  r.push_back({"DELETE", "/api/leads/:id", scope::tenant, perm::crm_delete, crm_module, [](const call_ptr& c) { remove(c, false); }});
  r.push_back({"POST", "/api/leads/:id/convert", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) {
    c->ctx->deps.rt.tenant_command(c->tenant, crm::convert_lead{c->params["id"]}, c->who(), c->answer(200, saved));
  }});

  r.push_back({"POST", "/api/crm/customers", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) { create(c, true); }});
  r.push_back({"GET", "/api/crm/customers", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) { list(c, "customer"); }});
  r.push_back({"GET", "/api/crm/customers.csv", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) { csv(c, "customer"); }});
  r.push_back({"GET", "/api/crm/customers/:id", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) { get(c, "customer"); }});
  r.push_back({"PATCH", "/api/crm/customers/:id", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) { patch(c, true); }});
  r.push_back({"DELETE", "/api/crm/customers/:id", scope::tenant, perm::crm_delete, crm_module, [](const call_ptr& c) { remove(c, true); }});

  r.push_back({"GET", "/api/business/:tenant/settings", scope::tenant, perm::tenant_settings, identity::module::none,
               [](const call_ptr& c) {
                 c->after_own_writes([c] {
                   auto s = views::get_settings(c->ctx->deps.views, c->tenant);
                   if (!s) return c->fail(s.error());
                   auto p = views::get_pipeline(c->ctx->deps.views, c->tenant);
                   if (!p) return c->fail(p.error());
                   auto j = settings_json(c, *s);
                   j["pipeline"] = *p;
                   c->send_json(200, {{"ok", true}, {"settings", j}});
                 });
               }});
  r.push_back({"PATCH", "/api/business/:tenant/settings", scope::tenant, perm::tenant_settings, identity::module::none,
               [](const call_ptr& c) {
                 auto body = c->json_body();
                 if (!body) return;
                 // The deal pipeline is its own command (open deals must keep their stage).
                 if (body->contains("pipeline")) {
                   auto& p = (*body)["pipeline"];
                   crm::set_pipeline sp;
                   if (!p.is_array()) return c->error(400, "invalid_field", "field 'pipeline' must be an array of stage names");
                   for (auto& x : p) {
                     if (!x.is_string()) return c->error(400, "invalid_field", "field 'pipeline' must be an array of stage names");
                     sp.stages.push_back(x.get<std::string>());
                   }
                   if (body->size() > 1)
                     return c->error(400, "invalid_field", "send 'pipeline' on its own");
                   return c->ctx->deps.rt.tenant_command(c->tenant, std::move(sp), c->who(),
                                                         c->answer(200, [](const command_ok& ok) {
                                                           return json{{"ok", true}, {"position", ok.position}};
                                                         }));
                 }
                 crm::change_settings cmd;
                 if (!optional_fields(c, *body, {{"default_region", &cmd.default_region}, {"language", &cmd.language},
                                                 {"time_zone", &cmd.time_zone},
                                                 {"whatsapp_provider", &cmd.whatsapp_provider}}))
                   return;
                 if (!whatsapp_token(c, *body, cmd)) return;
                 c->ctx->deps.rt.tenant_command(c->tenant, std::move(cmd), c->who(),
                                                c->answer(200, [c](const command_ok& ok) {
                                                  return json{{"ok", true}, {"position", ok.position}};
                                                }));
               }});
}

}  // namespace crmd::http
