// /api/admin/tenants: create, list, get, suspend/reactivate/modules, delete.
// System administrators only.
#include "http/api_internal.hpp"
#include "projections/views.hpp"

namespace crmd::http {
namespace {

json tenant_json(const registry::tenant_info& t) {
  return {{"id", t.id},         {"name", t.name},       {"aliases", t.aliases},
          {"status", t.status}, {"modules", t.modules}};
}

// The tenant as the registry holds it right after a command.
command_done tenant_answer(const call_ptr& c, int status_code) {
  return c->answer(status_code, [c](const command_ok& ok) {
    json t;
    c->ctx->deps.rt.read_registry([&](const registry::state& s) {
      if (auto it = s.tenants.find(ok.id); it != s.tenants.end()) t = tenant_json(it->second);
    });
    return json{{"ok", true}, {"tenant", t}, {"position", ok.position}};
  });
}


}  // namespace

void add_tenant_routes(route_list& r) {
  // The caller's own business (a system admin names one with business_id):
  // what the web client needs to know about it, such as which modules are on.
  r.push_back({"GET", "/api/tenant", scope::tenant, identity::perm::crm_read, identity::module::none,
               [](const call_ptr& c) {
                 json t;
                 c->ctx->deps.rt.read_registry([&](const registry::state& s) {
                   if (auto it = s.tenants.find(c->tenant); it != s.tenants.end()) t = tenant_json(it->second);
                 });
                 c->send_json(200, {{"ok", true}, {"tenant", t}});
               }});

  // The business's own settings (owners): for now its display name.
  r.push_back({"PATCH", "/api/tenant", scope::tenant, identity::perm::tenant_settings, identity::module::none,
               [](const call_ptr& c) {
                 auto body = c->json_body();
                 if (!body) return;
                 auto name = string_field(c, *body, "name", true);
                 if (!name) return;
                 registry::update_tenant cmd;
                 cmd.id = c->tenant;
                 cmd.name = *name;
                 c->ctx->deps.rt.registry_command(std::move(cmd), c->who(), tenant_answer(c, 200));
               }});

  r.push_back({"POST", "/api/admin/tenants", scope::system, {}, {}, [](const call_ptr& c) {
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
      auto aliases = string_array(c, *it, "aliases");
      if (!aliases) return;
      cmd.aliases = std::move(*aliases);
    }
    c->ctx->deps.rt.registry_command(std::move(cmd), c->who(), tenant_answer(c, 201));
  }});

  r.push_back({"GET", "/api/admin/tenants", scope::system, {}, {}, [](const call_ptr& c) {
    uint64_t page = 1, limit = 25;
    if (!c->paging(page, limit)) return;
    c->after_own_writes([c, page, limit] {
      auto p = views::list_tenants(c->ctx->deps.views, page, limit);
      if (!p) return c->fail(p.error());
      c->send_raw_json(200, page_json(p->items, p->total, page, limit));
    });
  }});

  r.push_back({"GET", "/api/admin/tenants/:id", scope::system, {}, {}, [](const call_ptr& c) {
    auto id = c->tenant_param("id");
    if (!id) return;
    c->after_own_writes([c, id = *id] {
      auto t = views::get_tenant(c->ctx->deps.views, id);
      if (!t) return c->fail(t.error());
      if (!*t) return c->error(404, "tenant_not_found", "no tenant '" + id + "'");
      c->send_raw_json(200, "{\"ok\":true,\"tenant\":" + **t + "}");
    });
  }});

  // {"status":"suspended"|"active"} and/or {"modules":{"crm":true,"calls":false}}
  // (or the enabled list, ["crm","whatsapp"]).
  r.push_back({"PATCH", "/api/admin/tenants/:id", scope::system, {}, {}, [](const call_ptr& c) {
    auto id = c->tenant_param("id");
    if (!id) return;
    auto body = c->json_body();
    if (!body) return;
    registry::update_tenant cmd;
    cmd.id = *id;
    if (body->contains("name") && !(*body)["name"].is_null()) {
      auto name = string_field(c, *body, "name", false);
      if (!name) return;
      cmd.name = *name;
    }
    if (body->contains("status") && !(*body)["status"].is_null()) {
      auto st = string_field(c, *body, "status", false);
      if (!st) return;
      cmd.status = *st;
    }
    if (auto it = body->find("modules"); it != body->end() && !it->is_null()) {
      if (it->is_object()) {
        std::set<std::string> enabled;
        c->ctx->deps.rt.read_registry([&](const registry::state& s) {
          if (auto t = s.tenants.find(*id); t != s.tenants.end()) enabled = t->second.modules;
        });
        for (auto& [name, on] : it->items()) {
          if (!on.is_boolean()) return c->error(400, "invalid_field", "field 'modules." + name + "' must be true or false");
          if (on.get<bool>()) enabled.insert(name);
          else enabled.erase(name);
        }
        cmd.modules = std::vector<std::string>(enabled.begin(), enabled.end());
      } else {
        auto list = string_array(c, *it, "modules");
        if (!list) return;
        cmd.modules = std::move(*list);
      }
    }
    if (!cmd.name && !cmd.status && !cmd.modules)
      return c->error(400, "invalid_field", "send 'name', 'status' or 'modules'");
    c->ctx->deps.rt.registry_command(std::move(cmd), c->who(), tenant_answer(c, 200));
  }});

  // Soft: the history stays; its users can no longer sign in.
  r.push_back({"DELETE", "/api/admin/tenants/:id", scope::system, {}, {}, [](const call_ptr& c) {
    auto id = c->tenant_param("id");
    if (!id) return;
    c->ctx->deps.rt.registry_command(registry::delete_tenant{*id}, c->who(), tenant_answer(c, 200));
  }});
}

std::optional<std::vector<std::string>> string_array(const call_ptr& c, const json& v, const char* name) {
  std::vector<std::string> out;
  if (!v.is_array()) {
    c->error(400, "invalid_field", std::string("field '") + name + "' must be an array of strings");
    return std::nullopt;
  }
  for (auto& x : v) {
    if (!x.is_string()) {
      c->error(400, "invalid_field", std::string("field '") + name + "' must be an array of strings");
      return std::nullopt;
    }
    out.push_back(x.get<std::string>());
  }
  return out;
}

}  // namespace crmd::http
