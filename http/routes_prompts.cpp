// /api/business/{tenant}/prompts: the per-tenant AI prompts, versioned.
#include "http/api_internal.hpp"
#include "projections/views.hpp"

namespace crmd::http {
namespace {

json saved(const command_ok& ok) {
  return {{"ok", true}, {"id", ok.id}, {"version", ok.version}, {"position", ok.position}};
}

}  // namespace

void add_prompt_routes(route_list& r) {
  using identity::perm;
  constexpr auto crm = identity::module::crm;
  r.push_back({"POST", "/api/business/:tenant/prompts", scope::tenant, perm::prompts_write, crm, [](const call_ptr& c) {
    auto tenant = std::optional<std::string>(c->tenant);
    auto body = c->json_body();
    if (!body) return;
    auto title = string_field(c, *body, "title", true);
    if (!title) return;
    auto text = string_field(c, *body, "body", true);
    if (!text) return;
    tenant::save_prompt cmd{*title, *text, "general"};
    if (body->contains("kind") && !(*body)["kind"].is_null()) {
      auto kind = string_field(c, *body, "kind", false);
      if (!kind) return;
      cmd.kind = *kind;
    }
    c->ctx->deps.rt.tenant_command(*tenant, std::move(cmd), c->who(), c->answer(201, saved));
  }});

  r.push_back({"PUT", "/api/business/:tenant/prompts/:id", scope::tenant, perm::prompts_write, crm, [](const call_ptr& c) {
    auto tenant = std::optional<std::string>(c->tenant);
    auto body = c->json_body();
    if (!body) return;
    tenant::update_prompt cmd;
    cmd.prompt_id = c->params["id"];
    for (auto [name, field] : {std::pair{"title", &cmd.title}, std::pair{"body", &cmd.body},
                               std::pair{"kind", &cmd.kind}}) {
      if (!body->contains(name) || (*body)[name].is_null()) continue;
      auto v = string_field(c, *body, name, false);
      if (!v) return;
      *field = *v;
    }
    c->ctx->deps.rt.tenant_command(*tenant, std::move(cmd), c->who(), c->answer(200, saved));
  }});

  r.push_back({"DELETE", "/api/business/:tenant/prompts/:id", scope::tenant, perm::prompts_write, crm, [](const call_ptr& c) {
    auto tenant = std::optional<std::string>(c->tenant);
    c->ctx->deps.rt.tenant_command(*tenant, tenant::delete_prompt{c->params["id"]}, c->who(),
                                   c->answer(200, [](const command_ok& ok) {
                                     return json{{"ok", true}, {"id", ok.id}, {"position", ok.position}};
                                   }));
  }});

  r.push_back({"GET", "/api/business/:tenant/prompts", scope::tenant, perm::crm_read, crm, [](const call_ptr& c) {
    auto tenant = std::optional<std::string>(c->tenant);
    uint64_t page = 1, limit = 25;
    if (!c->paging(page, limit)) return;
    c->after_own_writes([c, t = *tenant, page, limit] {
      auto p = views::list_prompts(c->ctx->deps.views, t, page, limit);
      if (!p) return c->fail(p.error());
      c->send_raw_json(200, page_json(p->items, p->total, page, limit));
    });
  }});

  // Literal before the :id route, so "last" is never taken for an id.
  r.push_back({"GET", "/api/business/:tenant/prompts/last", scope::tenant, perm::crm_read, crm, [](const call_ptr& c) {
    auto tenant = std::optional<std::string>(c->tenant);
    c->after_own_writes([c, t = *tenant] {
      auto p = views::last_prompt(c->ctx->deps.views, t);
      if (!p) return c->fail(p.error());
      c->send_raw_json(200, "{\"ok\":true,\"prompt\":" + (*p ? **p : std::string("null")) + "}");
    });
  }});

  r.push_back({"GET", "/api/business/:tenant/prompts/:id", scope::tenant, perm::crm_read, crm, [](const call_ptr& c) {
    auto tenant = std::optional<std::string>(c->tenant);
    c->after_own_writes([c, t = *tenant] {
      auto id = c->params["id"];
      auto p = views::get_prompt(c->ctx->deps.views, t, id);
      if (!p) return c->fail(p.error());
      if (!*p) return c->error(404, "prompt_not_found", "no prompt '" + id + "'");
      c->send_raw_json(200, "{\"ok\":true,\"prompt\":" + **p + "}");
    });
  }});

  r.push_back({"GET", "/api/business/:tenant/prompts/:id/versions", scope::tenant, perm::crm_read, crm, [](const call_ptr& c) {
    auto tenant = std::optional<std::string>(c->tenant);
    c->after_own_writes([c, t = *tenant] {
      auto id = c->params["id"];
      auto v = views::prompt_versions(c->ctx->deps.views, t, id);
      if (!v) return c->fail(v.error());
      if (v->empty()) return c->error(404, "prompt_not_found", "no prompt '" + id + "'");
      std::string items;
      for (auto& i : *v) items += (items.empty() ? "" : ",") + i;
      c->send_raw_json(200, "{\"ok\":true,\"results\":[" + items + "],\"total\":" + std::to_string(v->size()) + "}");
    });
  }});
}

}  // namespace crmd::http
