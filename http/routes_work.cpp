// Notes (/api/customers/{id}/notes), tasks (/api/tasks) and the timeline of
// a customer or lead (/api/customers/{id}/timeline, /api/leads/{id}/timeline).
#include "events/time_format.hpp"
#include "http/api_internal.hpp"
#include "projections/work_view.hpp"

namespace crmd::http {
namespace {

using identity::perm;
constexpr auto crm_module = identity::module::crm;

json saved(const command_ok& ok) { return {{"ok", true}, {"id", ok.id}, {"position", ok.position}}; }

// An RFC 3339 time field; answers 400 naming it and returns false if bad.
bool time_field(const call_ptr& c, const json& body, const char* name, int64_t& us) {
  auto v = string_field(c, body, name, false);
  if (!v) return !body.contains(name) || body[name].is_null() ? true : false;
  if (!parse_rfc3339(*v, us)) {
    c->error(400, "invalid_field", std::string("field '") + name + "' must be an RFC 3339 time with an offset");
    return false;
  }
  return true;
}

void timeline(const call_ptr& c) {
  uint64_t page = 1, limit = 25;
  if (!c->paging(page, limit)) return;
  c->after_own_writes([c, page, limit] {
    auto p = views::timeline(c->ctx->deps.views, c->tenant, c->params["id"], page, limit);
    if (!p) return c->fail(p.error());
    // The one list whose key is "items" (the client's timeline component).
    std::string out = page_json(p->items, p->total, page, limit);
    out.replace(out.find("\"results\""), 9, "\"items\"");
    c->send_raw_json(200, std::move(out));
  });
}

}  // namespace

void add_work_routes(route_list& r) {
  r.push_back({"POST", "/api/customers/:id/notes", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) {
    auto body = c->json_body();
    if (!body) return;
    auto text = string_field(c, *body, "text", true);
    if (!text) return;
    c->ctx->deps.rt.tenant_command(c->tenant, crm::add_note{c->params["id"], *text}, c->who(), c->answer(201, saved));
  }});

  r.push_back({"GET", "/api/tasks", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) {
    uint64_t page = 1, limit = 25;
    if (!c->paging(page, limit)) return;
    std::string about;
    if (auto it = c->query.find("customer_id"); it != c->query.end()) about = it->second;
    if (about.size() > 64) return c->error(400, "invalid_field", "field 'customer_id' is too long");
    c->after_own_writes([c, about, page, limit] {
      auto p = views::list_tasks(c->ctx->deps.views, c->tenant, about, page, limit);
      if (!p) return c->fail(p.error());
      c->send_raw_json(200, page_json(p->items, p->total, page, limit));
    });
  }});

  r.push_back({"POST", "/api/tasks", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) {
    auto body = c->json_body();
    if (!body) return;
    auto title = string_field(c, *body, "title", true);
    if (!title) return;
    crm::create_task cmd{"", *title, 0};
    if (body->contains("customer_id") && !(*body)["customer_id"].is_null()) {
      auto about = string_field(c, *body, "customer_id", false);
      if (!about) return;
      cmd.about_id = *about;
    }
    if (!time_field(c, *body, "due_at", cmd.due_us)) return;
    c->ctx->deps.rt.tenant_command(c->tenant, std::move(cmd), c->who(), c->answer(201, saved));
  }});

  // {"status":"done"|"open"} completes or reopens; {"due_at": t} moves it;
  // {"snooze_until": t} snoozes it. One change per request.
  r.push_back({"PATCH", "/api/tasks/:id", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) {
    auto body = c->json_body();
    if (!body) return;
    std::string id = c->params["id"];
    tenant::command cmd;
    int n = 0;
    if (body->contains("status") && !(*body)["status"].is_null()) {
      auto st = string_field(c, *body, "status", false);
      if (!st) return;
      if (*st == "done") cmd = crm::complete_task{id};
      else if (*st == "open") cmd = crm::reopen_task{id};
      else return c->error(400, "invalid_field", "field 'status' must be done or open");
      ++n;
    }
    for (auto [name, snooze] : {std::pair{"due_at", false}, std::pair{"snooze_until", true}}) {
      if (!body->contains(name) || (*body)[name].is_null()) continue;
      int64_t us = 0;
      if (!time_field(c, *body, name, us)) return;
      cmd = crm::reschedule_task{id, us, snooze};
      ++n;
    }
    if (n != 1) return c->error(400, "invalid_field", "send exactly one of 'status', 'due_at', 'snooze_until'");
    c->ctx->deps.rt.tenant_command(c->tenant, std::move(cmd), c->who(), c->answer(200, saved));
  }});

  r.push_back({"GET", "/api/tasks/:id", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) {
    c->after_own_writes([c] {
      auto t = views::get_task(c->ctx->deps.views, c->tenant, c->params["id"]);
      if (!t) return c->fail(t.error());
      if (!*t) return c->error(404, "task_not_found", "no task '" + c->params["id"] + "'");
      c->send_raw_json(200, "{\"ok\":true,\"task\":" + **t + "}");
    });
  }});

  r.push_back({"GET", "/api/customers/:id/timeline", scope::tenant, perm::crm_read, crm_module, timeline});
  r.push_back({"GET", "/api/leads/:id/timeline", scope::tenant, perm::crm_read, crm_module, timeline});
}

}  // namespace crmd::http
