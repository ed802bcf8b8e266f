// Users: /api/businesses/{tenant}/users (owners and managers, lower ranks
// only) and /api/admin/users (system administrators, every tenant).
// Deletion is soft: the user can no longer sign in, their tokens stop
// working at once, and their events stay attributed to them.
#include "http/api_internal.hpp"
#include "identity/password.hpp"

namespace crmd::http {
namespace {

command_done user_answer(const call_ptr& c, int status_code) {
  return c->answer(status_code, [c](const command_ok& ok) {
    json u;
    c->ctx->deps.rt.read_registry([&](const registry::state& s) {
      if (auto it = s.users.find(ok.id); it != s.users.end()) u = user_json(it->second);
    });
    return json{{"ok", true}, {"user", u}, {"position", ok.position}};
  });
}

// Lists users of `tenant` ("*": every user); deleted ones only when asked.
void list_users(const call_ptr& c, const std::string& tenant) {
  uint64_t page = 1, limit = 25;
  if (!c->paging(page, limit)) return;
  bool include_deleted = false;
  if (auto it = c->query.find("include_deleted"); it != c->query.end()) {
    if (it->second != "true" && it->second != "false")
      return c->error(400, "invalid_field", "field 'include_deleted' must be true or false");
    include_deleted = it->second == "true";
  }
  // Deleted users are shown to those who administer users (owners, admins).
  if (include_deleted && c->who_->role < identity::role::owner)
    return c->error(403, "forbidden", "include_deleted needs an owner or a system administrator");
  std::vector<std::string> items;
  uint64_t total = 0, skip = (page - 1) * limit;
  c->ctx->deps.rt.read_registry([&](const registry::state& s) {
    for (auto& [id, u] : s.users) {
      if ((tenant != "*" && u.tenant != tenant) || (u.deleted && !include_deleted)) continue;
      if (total++ < skip || items.size() >= limit) continue;
      items.push_back(user_json(u).dump(-1, ' ', false, json::error_handler_t::replace));
    }
  });
  c->send_raw_json(200, page_json(items, total, page, limit));
}

// Validates the body, hashes the password on the KDF pool, then asks the
// registry. `tenant` is the path's tenant, or nullopt for /api/admin/users.
void create_user(const call_ptr& c, std::optional<std::string> tenant) {
  auto body = c->json_body();
  if (!body) return;
  auto email = string_field(c, *body, "email", true);
  if (!email) return;
  auto password = string_field(c, *body, "password", true);
  if (!password) return;
  auto role = string_field(c, *body, "role", true);
  if (!role) return;
  if (!identity::acceptable_password(*password))
    return c->error(400, "invalid_field", "field 'password' must be 10 to 256 bytes");
  if (!tenant) {
    auto t = string_field(c, *body, "tenant_id", false);
    if (body->contains("tenant_id") && !(*body)["tenant_id"].is_null() && !t) return;
    tenant = std::string();
    if (t && !t->empty()) {
      auto canonical = c->ctx->deps.rt.resolve_tenant(*t);
      if (!canonical) return c->error(404, "tenant_not_found", "no tenant '" + *t + "'");
      tenant = *canonical;
    }
  }
  registry::create_user cmd{c->as_actor(), *email, *role, *tenant, ""};
  // Rejections that need no hash are answered before the KDF runs.
  if (auto pre = [&] {
        result<registry::decision> r = status{errc::io_error, ""};
        c->ctx->deps.rt.read_registry([&](const registry::state& s) {
          auto probe = cmd;
          probe.password_hash = "-";
          r = registry::decide(s, probe);
        });
        return r;
      }();
      !pre)
    return c->fail(pre.error());
  uint32_t iterations = c->ctx->opts.kdf_iterations;
  bool queued = c->ctx->kdf_pool->try_submit([c, cmd = std::move(cmd), password = *password, iterations]() mutable {
    cmd.password_hash = identity::hash_password(password, iterations);
    c->ctx->deps.rt.registry_command(std::move(cmd), c->who(), user_answer(c, 201));
  });
  if (!queued) c->error(503, "busy", "password hashing is at capacity; retry shortly", {{"Retry-After", "1"}});
}

// The user `uid` of the path's tenant, or 404 (also for other tenants' users).
bool in_tenant(const call_ptr& c, const std::string& uid) {
  bool found = false;
  c->ctx->deps.rt.read_registry([&](const registry::state& s) {
    auto* u = s.live_user(uid);
    found = u && u->tenant == c->tenant;
  });
  if (!found) c->error(404, "user_not_found", "no user '" + uid + "'");
  return found;
}

}  // namespace

json user_json(const registry::user_info& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"role", u.role},
          {"tenant_id", u.tenant.empty() ? json(nullptr) : json(u.tenant)},
          {"deleted", u.deleted}};
}

void add_user_routes(route_list& r) {
  using identity::perm;
  constexpr auto none = identity::module::none;

  r.push_back({"GET", "/api/businesses/:tenant/users", scope::tenant, perm::users_read, none,
               [](const call_ptr& c) { list_users(c, c->tenant); }});
  r.push_back({"POST", "/api/businesses/:tenant/users", scope::tenant, perm::users_manage, none,
               [](const call_ptr& c) { create_user(c, c->tenant); }});
  r.push_back({"PATCH", "/api/businesses/:tenant/users/:uid", scope::tenant, perm::users_manage, none,
               [](const call_ptr& c) {
                 auto uid = c->params["uid"];
                 if (!in_tenant(c, uid)) return;
                 auto body = c->json_body();
                 if (!body) return;
                 auto role = string_field(c, *body, "role", true);
                 if (!role) return;
                 c->ctx->deps.rt.registry_command(registry::change_role{c->as_actor(), uid, *role}, c->who(),
                                                  user_answer(c, 200));
               }});
  r.push_back({"DELETE", "/api/businesses/:tenant/users/:uid", scope::tenant, perm::users_manage, none,
               [](const call_ptr& c) {
                 auto uid = c->params["uid"];
                 if (!in_tenant(c, uid)) return;
                 c->ctx->deps.rt.registry_command(registry::delete_user{c->as_actor(), uid}, c->who(),
                                                  user_answer(c, 200));
               }});

  r.push_back({"GET", "/api/admin/users", scope::system, {}, {}, [](const call_ptr& c) {
    std::string tenant = "*";
    if (auto it = c->query.find("tenant_id"); it != c->query.end()) {
      auto canonical = c->ctx->deps.rt.resolve_tenant(it->second);
      if (!canonical) return c->error(404, "tenant_not_found", "no tenant '" + it->second + "'");
      tenant = *canonical;
    }
    list_users(c, tenant);
  }});
  r.push_back({"POST", "/api/admin/users", scope::system, {}, {},
               [](const call_ptr& c) { create_user(c, std::nullopt); }});
  r.push_back({"DELETE", "/api/admin/users/:uid", scope::system, {}, {}, [](const call_ptr& c) {
    c->ctx->deps.rt.registry_command(registry::delete_user{c->as_actor(), c->params["uid"]}, c->who(),
                                     user_answer(c, 200));
  }});
}

}  // namespace crmd::http
