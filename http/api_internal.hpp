// Internal to http/: the API's state, route policies, the caller, and the
// per-request context the route handlers work with. Included by api.cpp,
// auth.cpp and the routes_*.cpp files only.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

#include "actors/runtime.hpp"
#include "events/status.hpp"
#include "http/api.hpp"
#include "http/integrity_job.hpp"
#include "http/idempotency.hpp"
#include "http/live.hpp"
#include "http/router.hpp"
#include "identity/jwt.hpp"
#include "identity/rate_limiter.hpp"
#include "identity/roles.hpp"
#include "identity/session_store.hpp"
#include "projections/contact_search.hpp"
#include "storage/worker_pool.hpp"

namespace crmd::http {

using json = nlohmann::json;

class call_pipeline;
struct call;
using call_ptr = std::shared_ptr<call>;
using handler_fn = std::function<void(const call_ptr&)>;

// Who may call a route. Checked before the handler runs, in this order:
// credentials (401), tenant (404 outside one's own; 400 tenant_required for a
// system admin naming none), tenant status (403), module (403), permission (403).
enum class scope {
  open,       // anyone (health, login)
  signed_in,  // any valid credential
  tenant,     // business data: the tenant from the path, business_id, or the token
  system,     // system admins only
};

struct route_def {
  std::string method, pattern;
  scope who = scope::signed_in;
  identity::perm need = identity::perm::crm_read;  // tenant routes
  identity::module mod = identity::module::none;   // tenant routes
  handler_fn fn;
};
using route_list = std::vector<route_def>;

// The caller, once authenticated.
struct principal {
  std::string user_id;       // "operator" for the operator token
  identity::role role = identity::role::agent;
  std::string tenant;        // empty for a system admin
  std::string impersonator;  // the system admin acting as user_id
  std::string session;       // refresh-token family (or impersonation id)
  bool via_cookie = false;   // browser session: unsafe methods need X-CSRF-Token
  bool is_operator = false;
  int64_t expires_at = 0;    // the token's expiry (seconds); 0 for the operator
  uint32_t generation = 0;   // the user's role generation in the token
};

struct api::impl {
  api_deps deps;
  api_options opts;
  router<const route_def*> routes;
  route_list defs;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // principal -> the highest position acknowledged to it (read-your-writes).
  std::mutex positions_mu;
  std::unordered_map<std::string, uint64_t> positions;

  identity::session_store sessions;
  idempotency_store requests;
  std::unique_ptr<live_hub> live;  // /api/stream
  std::unique_ptr<call_pipeline> calls;  // recordings -> transcripts -> summaries; null in tests without it
  views::contact_search contact_search;  // q/status/sort lists
  identity::verified_tokens token_cache;
  identity::rate_limiter ip_failures, account_failures, webhook_failures;
  std::atomic<uint64_t> kdf_runs{0};  // logins that ran the KDF (tests: equal work)
  integrity_job integrity;            // GET /api/admin/integrity
  // Last, so they are destroyed (and their queued jobs run) while
  // everything those jobs touch still exists; api::stop() drains them first.
  std::unique_ptr<worker_pool> kdf_pool;  // password hashing only
  std::unique_ptr<worker_pool> io_pool;   // synced refresh-token writes, provider calls
  // Reads that visit a whole keyspace (filtered lists, CSV exports): never
  // on an HTTP thread, and not in the way of logins or payments.
  std::unique_ptr<worker_pool> query_pool;

  impl(api_deps d, api_options o);
  void note_position(const std::string& principal, uint64_t pos);
  uint64_t position_of(const std::string& principal);
  void add_routes();
  // Fills c->who or answers 401/403 itself and returns false.
  bool authenticate(const call_ptr& c, bool required);
  // Applies the route's scope; answers and returns false when denied.
  bool authorize(const call_ptr& c, const route_def& r);
  // Whether `p` may still act on `tenant` now (for long-lived streams).
  bool still_valid(const principal& p, const std::string& tenant, identity::module mod);
  std::string client_address(const http_request& r) const;
};

// One request in flight.
struct call : std::enable_shared_from_this<call> {
  http_request req;
  std::shared_ptr<responder> out;
  params_t params;
  std::string request_id;
  std::optional<principal> who_;  // set for authenticated requests
  std::string tenant;             // tenant routes: the canonical tenant acted on
  std::string cors_origin;        // set when the Origin is allowed
  std::string client;             // client address (X-Forwarded-For when trusted)
  api::impl* ctx = nullptr;
  std::map<std::string, std::string> query;  // decoded query parameters

  void send_json(int status, const json& body, std::vector<std::pair<std::string, std::string>> extra = {});
  void send_raw_json(int status, std::string body, std::vector<std::pair<std::string, std::string>> extra = {});
  // Any other body (recordings): the same headers as JSON answers, but `content_type`.
  void send_body(int status, std::string body, std::string content_type,
                 std::vector<std::pair<std::string, std::string>> extra = {});
  void error(int status, const std::string& code, const std::string& message,
             std::vector<std::pair<std::string, std::string>> extra = {});
  // Maps a rejection or failure to its status code and answers it.
  void fail(const status& s);
  event_metadata who() const;
  // The read-your-writes key of the caller.
  std::string principal_key() const;
  // The registry's view of the caller, for commands that check ranks.
  registry::actor as_actor() const;

  // The body as a JSON object, or answers 400/415 and returns nullopt.
  std::optional<json> json_body();
  // page/limit from the query (defaults 1 and 25, limit at most 200).
  bool paging(uint64_t& page, uint64_t& limit);
  // A tenant from the path, resolved through aliases; answers 404 if unknown.
  std::optional<std::string> tenant_param(const std::string& name = "tenant");
  // Runs `read` once the views include this principal's writes (and
  // `min_position` from the query); answers 503 after the consistency wait.
  void after_own_writes(std::function<void()> read);
  // Answers a command's outcome: `ok` builds the success body.
  command_done answer(int status, std::function<json(const command_ok&)> ok);
  // A webhook whose signature failed: 403 in the provider's terms, or 429
  // once this address has failed too often (validly signed calls never count).
  void reject_signature(int status, std::string body, std::string content_type);
};

// Fields of a JSON body: a missing or mistyped field is a 400 naming it.
std::optional<std::string> string_field(const call_ptr& c, const json& body, const char* name, bool required);
std::optional<std::vector<std::string>> string_array(const call_ptr& c, const json& v, const char* name);

// {"ok":true,"results":[<items>],"page":P,"pages":N,"total":T}: the one
// pagination shape of every list in crmd. Items are stored JSON objects.
std::string page_json(const std::vector<std::string>& items, uint64_t total, uint64_t page, uint64_t limit);

// The value of cookie `name` in the request, or empty.
std::string cookie_value(const http_request& r, std::string_view name);

// A fresh access token for `u`; `csrf` receives the value a cookie-borne
// request must echo in X-CSRF-Token.
std::string mint_access_token(const api::impl& a, const registry::user_info& u, const std::string& session,
                              const std::string& impersonator, std::chrono::seconds ttl, std::string& csrf);

// A user as the API shows it (never the password hash).
json user_json(const registry::user_info& u);

void add_health_routes(route_list& r);
void add_admin_routes(route_list& r);
void add_erasure_routes(route_list& r);
void add_tenant_routes(route_list& r);
void add_prompt_routes(route_list& r);
void add_auth_routes(route_list& r);
void add_user_routes(route_list& r);
void add_contact_routes(route_list& r);
void add_work_routes(route_list& r);
void add_document_routes(route_list& r);
void add_live_routes(route_list& r);
void add_twilio_routes(route_list& r);
void add_call_routes(route_list& r);
void add_whatsapp_routes(route_list& r);
void add_stats_routes(route_list& r);

}  // namespace crmd::http
