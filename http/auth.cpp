// Who is calling (operator token, bearer JWT or session cookie) and whether
// the route lets them: the checks every /api route passes before its handler.
#include <strings.h>

#include <ctime>

#include "http/api_internal.hpp"
#include "identity/jwt.hpp"
#include "storage/crypto.hpp"

namespace crmd::http {
namespace {

const char* session_cookie = "crmd_session";

bool unsafe_method(const std::string& m) { return m != "GET" && m != "HEAD" && m != "OPTIONS"; }

int64_t now_s() { return static_cast<int64_t>(std::time(nullptr)); }

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::string cookie_value(const http_request& r, std::string_view name) {
  for (auto& [k, v] : r.headers) {
    if (k.size() != 6 || strncasecmp(k.c_str(), "cookie", 6) != 0) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      auto semi = rest.find(';');
      auto part = rest.substr(0, semi);
      auto eq = part.find('=');
      if (eq != std::string_view::npos && trim(part.substr(0, eq)) == name) return trim(part.substr(eq + 1));
      if (semi == std::string_view::npos) break;
      rest.remove_prefix(semi + 1);
    }
  }
  return {};
}

std::string mint_access_token(const api::impl& a, const registry::user_info& u, const std::string& session,
                              const std::string& impersonator, std::chrono::seconds ttl, std::string& csrf) {
  identity::token_claims c;
  c.user_id = u.id;
  c.tenant = u.tenant;
  c.role = u.role;
  c.session = session;
  c.impersonator = impersonator;
  csrf = crypto::to_hex(crypto::random_bytes(16));
  c.csrf = csrf;
  c.generation = u.generation;
  c.issued_at = now_s();
  c.expires_at = c.issued_at + ttl.count();
  return identity::sign(c, a.opts.jwt_secret);
}

std::string api::impl::client_address(const http_request& r) const {
  if (opts.trust_proxy) {
    // The proxy appends the address it saw; that last entry is the one it
    // vouches for (earlier ones are whatever the client claimed).
    // Every X-Forwarded-For line, in order: a client-sent line comes first,
    // the proxy's own last.
    std::string xff;
    for (auto& [k, v] : r.headers)
      if (strcasecmp(k.c_str(), "X-Forwarded-For") == 0) xff += (xff.empty() ? "" : ",") + v;
    auto comma = xff.rfind(',');
    std::string last = trim(comma == std::string::npos ? xff : std::string_view(xff).substr(comma + 1));
    if (!last.empty() && last.size() <= 64) return last;
  }
  return r.remote;
}

bool api::impl::authenticate(const call_ptr& c, bool required) {
  auto deny = [&](const std::string& code, const std::string& message) {
    c->error(401, code, message, {{"WWW-Authenticate", "Bearer"}});
    return false;
  };
  std::string auth = c->req.header("Authorization");
  const std::string bearer = "Bearer ";
  std::string token;
  bool via_cookie = false;
  if (!auth.empty()) {
    if (auth.compare(0, bearer.size(), bearer) != 0) return deny("unauthorized", "send Authorization: Bearer <token>");
    token = auth.substr(bearer.size());
    if (crypto::constant_time_equal(token, opts.admin_token)) {
      principal p;
      p.user_id = "operator";
      p.role = identity::role::system_admin;
      p.is_operator = true;
      c->who_ = std::move(p);
      return true;
    }
  } else {
    token = cookie_value(c->req, session_cookie);
    via_cookie = !token.empty();
  }
  if (token.empty()) return required ? deny("unauthorized", "send Authorization: Bearer <token>") : true;

  int64_t now = now_s();
  result<identity::token_claims> claims = status{errc::unauthenticated, ""};
  if (auto hit = token_cache.find(token, now)) {
    claims = std::move(*hit);
  } else {
    claims = identity::verify(token, opts.jwt_secret, now);
    if (!claims) return deny(claims.error().reason(), claims.error().message());
    token_cache.put(token, *claims);
  }
  if (!claims->session.empty() && sessions.revoked(claims->session))
    return deny("session_revoked", "this session was signed out or revoked; log in again");
  // The token must still describe the user as the registry knows them now:
  // a deleted user, or one whose role changed, holds a stale token.
  bool current = false, impersonator_ok = claims->impersonator.empty();
  std::string tenant_status;
  deps.rt.read_registry([&](const registry::state& s) {
    auto* u = s.live_user(claims->user_id);
    current = u && u->role == claims->role && u->tenant == claims->tenant && u->generation == claims->generation;
    if (current && !u->tenant.empty())
      if (auto t = s.tenants.find(u->tenant); t != s.tenants.end()) tenant_status = t->second.status;
    if (!impersonator_ok)
      if (auto* a = s.live_user(claims->impersonator)) impersonator_ok = a->role == "system_admin";
    if (!impersonator_ok && claims->impersonator == "operator") impersonator_ok = true;
  });
  if (!current || !impersonator_ok)
    return deny("token_revoked", "this token no longer matches its user (deleted or role changed); log in again");
  if (via_cookie && unsafe_method(c->req.method) &&
      (claims->csrf.empty() || !crypto::constant_time_equal(c->req.header("X-CSRF-Token"), claims->csrf))) {
    c->error(403, "csrf_failed", "send the crmd_csrf cookie's value as X-CSRF-Token");
    return false;
  }
  if (tenant_status == "suspended" || tenant_status == "deleted") {
    c->error(403, "tenant_" + tenant_status, "this business account is " + tenant_status);
    return false;
  }
  principal p;
  p.user_id = claims->user_id;
  p.role = *identity::parse_role(claims->role);  // the registry only holds valid roles
  p.tenant = claims->tenant;
  p.impersonator = claims->impersonator;
  p.session = claims->session;
  p.via_cookie = via_cookie;
  p.expires_at = claims->expires_at;
  p.generation = claims->generation;
  c->who_ = std::move(p);
  return true;
}

bool api::impl::still_valid(const principal& p, const std::string& tenant, identity::module mod) {
  if (!p.is_operator && p.expires_at <= now_s()) return false;
  if (!p.session.empty() && sessions.revoked(p.session)) return false;
  bool ok = true;
  deps.rt.read_registry([&](const registry::state& s) {
    if (!p.is_operator) {
      auto* u = s.live_user(p.user_id);
      ok = u && identity::role_name(p.role) == u->role && u->generation == p.generation;
    }
    auto t = s.tenants.find(tenant);
    bool admin = p.role == identity::role::system_admin;
    if (t == s.tenants.end() || (!admin && t->second.status != "active")) ok = false;
    else if (mod != identity::module::none && !t->second.modules.count(identity::module_name(mod))) ok = false;
  });
  return ok;
}

bool api::impl::authorize(const call_ptr& c, const route_def& r) {
  // Open routes look at no credential: a stale token must not lock anyone
  // out of /health or the login itself.
  if (r.who == scope::open) return true;
  if (!authenticate(c, true)) return false;
  auto& p = *c->who_;
  bool admin = p.role == identity::role::system_admin;
  if (r.who == scope::signed_in) return true;
  if (r.who == scope::system) {
    if (admin) return true;
    c->error(403, "forbidden", "this needs a system administrator");
    return false;
  }
  // Tenant routes: which tenant, then may this caller act on it.
  std::string named;
  if (auto it = c->params.find("tenant"); it != c->params.end()) named = it->second;
  else if (auto q = c->query.find("business_id"); q != c->query.end()) named = q->second;
  std::string target;
  if (named.empty()) {
    if (admin) {
      c->error(400, "tenant_required", "name the tenant: business_id=<tenant> or a /business/<tenant>/ path");
      return false;
    }
    target = p.tenant;
  } else {
    auto canonical = deps.rt.resolve_tenant(named);
    // Another tenant looks exactly like one that does not exist.
    if (!canonical || (!admin && *canonical != p.tenant)) {
      c->error(404, "tenant_not_found", "no tenant '" + named + "'");
      return false;
    }
    target = *canonical;
  }
  std::string status;
  bool module_on = true;
  deps.rt.read_registry([&](const registry::state& s) {
    auto t = s.tenants.find(target);
    if (t == s.tenants.end()) return;
    status = t->second.status;
    if (r.mod != identity::module::none) module_on = t->second.modules.count(identity::module_name(r.mod)) > 0;
  });
  if (status == "deleted" && !admin) {
    c->error(404, "tenant_not_found", "no tenant '" + target + "'");
    return false;
  }
  if (!module_on) {
    c->error(403, "module_disabled",
             std::string("the ") + identity::module_name(r.mod) + " module is switched off for this business");
    return false;
  }
  if (!identity::allowed(p.role, r.need)) {
    c->error(403, "forbidden", std::string("your role may not ") + identity::perm_description(r.need));
    return false;
  }
  c->tenant = target;
  return true;
}

}  // namespace crmd::http
