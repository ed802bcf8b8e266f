// /api/admin/tenants: create, list, get.
#include "http/api_internal.hpp"
#include "projections/views.hpp"

namespace crmd::http {

void add_tenant_routes(api::impl& a) {
  a.routes.add("POST", "/api/admin/tenants", [](const call_ptr& c) {
    auto body = c->json_body();
    if (!body) return;
    registry::create_tenant cmd;
    auto id = string_field(c, *body, "id", true);
    if (!id) return;
    auto name = string_field(c, *body, "name", true);
    if (!name) return;
    cmd.id = *id;
    cmd.name = *name;
    if (auto it = body->find("aliases"); it != body->end() && !it->is_null()) {
      if (!it->is_array()) return c->error(400, "invalid_field", "field 'aliases' must be an array of strings");
      for (auto& v : *it) {
        if (!v.is_string()) return c->error(400, "invalid_field", "field 'aliases' must be an array of strings");
        cmd.aliases.push_back(v.get<std::string>());
      }
    }
    json tenant = {{"id", cmd.id}, {"name", cmd.name}, {"aliases", cmd.aliases}};
    c->ctx->deps.rt.create_tenant(std::move(cmd), c->who(), c->answer(201, [tenant](const command_ok& ok) {
      return json{{"ok", true}, {"tenant", tenant}, {"position", ok.position}};
    }));
  });

  a.routes.add("GET", "/api/admin/tenants", [](const call_ptr& c) {
    uint64_t page = 1, limit = 25;
    if (!c->paging(page, limit)) return;
    c->after_own_writes([c, page, limit] {
      auto p = views::list_tenants(c->ctx->deps.views, page, limit);
      if (!p) return c->fail(p.error());
      c->send_raw_json(200, page_json(p->items, p->total, page, limit));
    });
  });

  a.routes.add("GET", "/api/admin/tenants/:id", [](const call_ptr& c) {
    auto id = c->tenant_param("id");
    if (!id) return;
    c->after_own_writes([c, id = *id] {
      auto t = views::get_tenant(c->ctx->deps.views, id);
      if (!t) return c->fail(t.error());
      if (!*t) return c->error(404, "tenant_not_found", "no tenant '" + id + "'");
      c->send_raw_json(200, "{\"ok\":true,\"tenant\":" + **t + "}");
    });
  });
}

}  // namespace crmd::http
