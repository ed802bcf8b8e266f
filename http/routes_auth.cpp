// /api/auth: login, refresh, logout, me; /api/admin/impersonate.
//
// Passwords are checked on the KDF pool (503 + Retry-After when it is full);
// an unknown e-mail runs the same KDF work as a wrong password and gets the
// same 401. Sign-ins, sign-outs and revocations are events in the tenant's
// "<tenant>/auth/<tenant>" stream (system admins: "system/auth/system"), and a
// 2xx is sent only once that event is durable.
#include <ctime>

#include "events/codec.hpp"
#include "http/api_internal.hpp"
#include "identity/jwt.hpp"
#include "identity/password.hpp"
#include "storage/crypto.hpp"
#include "storage/event_log.hpp"

namespace crmd::http {
namespace {

using header_list = std::vector<std::pair<std::string, std::string>>;

std::string auth_stream(const std::string& tenant) {
  return tenant.empty() ? "system/auth/system" : tenant + "/auth/" + tenant;
}

// Appends one sign-in event; `done` runs once it is durable (or failed).
template <class Event>
void record(api::impl& a, const std::string& tenant, Event e, event_metadata who,
            std::function<void(result<append_result>)> done) {
  auto enc = codec::encode(ev::auth_event{std::move(e)});
  append_request r;
  r.stream = auth_stream(tenant);
  r.events.push_back(new_event{enc.type, enc.schema_version, std::move(enc.payload), ""});
  r.meta = std::move(who);
  a.deps.log.append_async(std::move(r), std::move(done));
}

std::string cookie(const api::impl& a, const std::string& name, const std::string& value, const char* path,
                   int64_t max_age, bool http_only) {
  std::string c = name + "=" + value + "; Path=" + path + "; Max-Age=" + std::to_string(max_age) + "; SameSite=Lax";
  if (http_only) c += "; HttpOnly";
  if (a.opts.secure_cookies) c += "; Secure";
  return c;
}

header_list session_cookies(const api::impl& a, const std::string& access, const std::string& csrf,
                            const std::string& refresh) {
  int64_t ttl = a.opts.access_ttl.count();
  header_list h{{"Set-Cookie", cookie(a, "crmd_session", access, "/", ttl, true)},
                {"Set-Cookie", cookie(a, "crmd_csrf", csrf, "/", ttl, false)}};
  if (!refresh.empty())
    h.emplace_back("Set-Cookie", cookie(a, "crmd_refresh", refresh, "/api/auth",
                                        std::chrono::duration_cast<std::chrono::seconds>(a.opts.refresh_ttl).count(),
                                        true));
  return h;
}

header_list cleared_cookies(const api::impl& a) {
  return {{"Set-Cookie", cookie(a, "crmd_session", "", "/", 0, true)},
          {"Set-Cookie", cookie(a, "crmd_csrf", "", "/", 0, false)},
          {"Set-Cookie", cookie(a, "crmd_refresh", "", "/api/auth", 0, true)}};
}

json token_body(const std::string& access, std::chrono::seconds ttl, const registry::user_info& u) {
  return {{"ok", true},
          {"access_token", access},
          {"token_type", "Bearer"},
          {"expires_in", ttl.count()},
          {"user", {{"id", u.id}, {"email", u.email}, {"role", u.role},
                    {"tenant_id", u.tenant.empty() ? json(nullptr) : json(u.tenant)}}}};
}

std::optional<registry::user_info> find_user(api::impl& a, const std::function<const registry::user_info*(
                                                                const registry::state&)>& pick,
                                             std::string* tenant_status = nullptr) {
  std::optional<registry::user_info> out;
  a.deps.rt.read_registry([&](const registry::state& s) {
    if (auto* u = pick(s)) {
      out = *u;
      if (tenant_status && !u->tenant.empty())
        if (auto t = s.tenants.find(u->tenant); t != s.tenants.end()) *tenant_status = t->second.status;
    }
  });
  return out;
}

bool rate_limited(const call_ptr& c, const std::string& account) {
  auto& a = *c->ctx;
  int64_t wait = std::max(a.ip_failures.retry_after_s(c->client),
                          account.empty() ? 0 : a.account_failures.retry_after_s(account));
  if (wait == 0) return false;
  c->error(429, "rate_limited", "too many failed attempts; retry later", {{"Retry-After", std::to_string(wait)}});
  return true;
}

void login(const call_ptr& c) {
  auto body = c->json_body();
  if (!body) return;
  auto email = string_field(c, *body, "email", true);
  if (!email) return;
  auto password = string_field(c, *body, "password", true);
  if (!password) return;
  if (password->size() > 1024) return c->error(400, "invalid_field", "field 'password' is too long");
  std::string account = registry::normalize_email(*email).value_or(*email);
  if (account.size() > 254) account.resize(254);
  if (rate_limited(c, account)) return;
  auto& a = *c->ctx;
  bool queued = a.kdf_pool->try_submit([c, account, password = *password] {
    auto& a = *c->ctx;
    std::string tenant_status;
    auto user = find_user(a, [&](const registry::state& s) { return s.user_by_email(account); }, &tenant_status);
    // Equal work either way: the same 401 must not be faster for unknown e-mails.
    bool ok = user ? identity::verify_password(password, user->password_hash)
                   : (identity::burn_password_check(password, a.opts.kdf_iterations), false);
    a.kdf_runs++;
    if (!ok) {
      a.ip_failures.record(c->client);
      a.account_failures.record(account);
      if (user) record(a, user->tenant, ev::login_failed{user->id, "bad_password"}, c->who(), [](auto) {});
      return c->error(401, "invalid_credentials", "wrong e-mail or password");
    }
    if (tenant_status == "suspended" || tenant_status == "deleted")
      return c->error(403, "tenant_" + tenant_status, "this business account is " + tenant_status);
    auto grant = a.sessions.start(user->id, user->tenant);
    if (!grant) return c->fail(grant.error());
    std::string csrf;
    std::string access = mint_access_token(a, *user, grant->family, "", a.opts.access_ttl, csrf);
    event_metadata who = c->who();
    who.causer = user->id;
    record(a, user->tenant, ev::user_logged_in{user->id, grant->family}, who,
           [c, access, csrf, refresh = grant->token, u = *user](result<append_result> r) {
             if (!r) return c->fail(r.error());
             c->send_json(200, token_body(access, c->ctx->opts.access_ttl, u),
                          session_cookies(*c->ctx, access, csrf, refresh));
           });
  });
  if (!queued) c->error(503, "busy", "sign-ins are at capacity; retry shortly", {{"Retry-After", "1"}});
}

void refresh(const call_ptr& c) {
  if (rate_limited(c, "")) return;
  std::string token = cookie_value(c->req, "crmd_refresh");
  if (token.empty()) return c->error(401, "refresh_invalid", "no refresh token cookie; log in");
  bool queued = c->ctx->io_pool->try_submit([c, token] {
    auto& a = *c->ctx;
    // Check the account before spending the token: a refused refresh must
    // leave the token usable, or the client's retry would look like theft.
    if (auto known = a.sessions.describe(token)) {
      std::string tenant_status;
      auto user = find_user(a, [&](const registry::state& s) { return s.live_user(known->user_id); }, &tenant_status);
      if (!user || user->tenant != known->tenant) {
        if (a.sessions.revoked(known->family)) return c->error(401, "refresh_invalid", "log in again");
        if (auto st = a.sessions.revoke(known->family); !st) return c->fail(st);
        event_metadata meta = c->who();
        meta.causer = known->user_id;
        return record(a, known->tenant, ev::session_revoked{known->user_id, known->family, "user_deleted"}, meta,
                      [c](result<append_result>) {
                        c->error(401, "refresh_invalid", "this account no longer exists; log in again");
                      });
      }
      if (tenant_status == "suspended" || tenant_status == "deleted")
        return c->error(403, "tenant_" + tenant_status, "this business account is " + tenant_status);
    }
    auto grant = a.sessions.rotate(token);
    if (!grant) {
      if (grant.error().code() != errc::unauthenticated) return c->fail(grant.error());
      a.ip_failures.record(c->client);
      if (grant.error().reason() != "refresh_reused") return c->fail(grant.error());
      // A spent token came back: someone holds a copy. The family is revoked
      // (rotate() did that); the audit trail learns of it.
      auto who = a.sessions.describe(token);
      if (!who) return c->fail(grant.error());
      event_metadata meta = c->who();
      meta.causer = who->user_id;
      return record(a, who->tenant, ev::session_revoked{who->user_id, who->family, "refresh_reused"}, meta,
                    [c, err = grant.error()](result<append_result>) { c->fail(err); });
    }
    auto user = find_user(a, [&](const registry::state& s) { return s.live_user(grant->user_id); });
    if (!user) return c->error(401, "refresh_invalid", "this account no longer exists; log in again");
    std::string csrf;
    std::string access = mint_access_token(a, *user, grant->family, "", a.opts.access_ttl, csrf);
    c->send_json(200, token_body(access, a.opts.access_ttl, *user), session_cookies(a, access, csrf, grant->token));
  });
  if (!queued) c->error(503, "busy", "crmd is busy; retry shortly", {{"Retry-After", "1"}});
}

// Ends the session the request belongs to (its access token's family, or
// the refresh cookie's), at once for every token of it. Always 200: logging
// out twice, or with an expired token, still clears the cookies.
void logout(const call_ptr& c) {
  auto& a = *c->ctx;
  std::string token = c->req.header("Authorization");
  token = token.rfind("Bearer ", 0) == 0 ? token.substr(7) : cookie_value(c->req, "crmd_session");
  std::optional<identity::refresh_grant> session;
  // An expired access token still names its session.
  auto claims = identity::verify(token, a.opts.jwt_secret, 0);
  if (claims && !claims->session.empty())
    session = identity::refresh_grant{"", claims->session, claims->user_id, claims->tenant};
  std::string refresh = cookie_value(c->req, "crmd_refresh");
  bool queued = a.io_pool->try_submit([c, session, refresh]() mutable {
    auto& a = *c->ctx;
    if (!session && !refresh.empty()) session = a.sessions.describe(refresh);
    if (!session || a.sessions.revoked(session->family))
      return c->send_json(200, {{"ok", true}}, cleared_cookies(a));
    if (auto st = a.sessions.revoke(session->family); !st) return c->fail(st);
    event_metadata who = c->who();
    who.causer = session->user_id;
    record(a, session->tenant, ev::user_logged_out{session->user_id, session->family}, who,
           [c](result<append_result> r) {
             if (!r) return c->fail(r.error());
             c->send_json(200, {{"ok", true}}, cleared_cookies(*c->ctx));
           });
  });
  if (!queued) c->error(503, "busy", "crmd is busy; retry shortly", {{"Retry-After", "1"}});
}

void me(const call_ptr& c) {
  auto& p = *c->who_;
  if (p.is_operator)
    return c->send_json(200, {{"ok", true},
                              {"user", {{"id", "operator"}, {"email", nullptr}, {"role", "system_admin"},
                                        {"tenant_id", nullptr}}},
                              {"impersonator", nullptr}});
  json user, impersonator = nullptr;
  c->ctx->deps.rt.read_registry([&](const registry::state& s) {
    if (auto* u = s.live_user(p.user_id)) user = user_json(*u);
    if (!p.impersonator.empty()) {
      if (auto* i = s.live_user(p.impersonator)) impersonator = {{"id", i->id}, {"email", i->email}, {"role", i->role}};
      else impersonator = {{"id", p.impersonator}};
    }
  });
  c->send_json(200, {{"ok", true}, {"user", user}, {"impersonator", impersonator}});
}

// A short-lived token acting as a tenant's user; every event it causes
// records both identities (event_metadata::impersonator).
void impersonate(const call_ptr& c) {
  auto body = c->json_body();
  if (!body) return;
  auto tenant = string_field(c, *body, "tenant_id", true);
  if (!tenant) return;
  auto uid = string_field(c, *body, "user_id", true);
  if (!uid) return;
  auto canonical = c->ctx->deps.rt.resolve_tenant(*tenant);
  if (!canonical) return c->error(404, "tenant_not_found", "no tenant '" + *tenant + "'");
  auto& a = *c->ctx;
  auto user = find_user(a, [&](const registry::state& s) { return s.live_user(*uid); });
  if (!user || user->tenant != *canonical)
    return c->error(404, "user_not_found", "no user '" + *uid + "' in tenant '" + *canonical + "'");
  std::string session = "imp-" + crypto::to_hex(crypto::random_bytes(12)), csrf;
  std::string admin = c->who_->user_id;
  std::string access = mint_access_token(a, *user, session, admin, a.opts.impersonation_ttl, csrf);
  event_metadata who = c->who();
  who.causer = user->id;
  who.impersonator = admin;
  record(a, user->tenant, ev::impersonation_started{user->id, session}, who,
         [c, access, u = *user, admin](result<append_result> r) {
           if (!r) return c->fail(r.error());
           auto body = token_body(access, c->ctx->opts.impersonation_ttl, u);
           body["impersonator"] = {{"id", admin}};
           c->ctx->note_position(c->principal_key(), r->last_position);
           c->send_json(200, body);
         });
}

}  // namespace

void add_auth_routes(route_list& r) {
  r.push_back({"POST", "/api/auth/login", scope::open, {}, {}, login});
  r.push_back({"POST", "/api/auth/refresh", scope::open, {}, {}, refresh});
  r.push_back({"POST", "/api/auth/logout", scope::open, {}, {}, logout});
  r.push_back({"GET", "/api/auth/me", scope::signed_in, {}, {}, me});
  r.push_back({"POST", "/api/admin/impersonate", scope::system, {}, {}, impersonate});
}

}  // namespace crmd::http
