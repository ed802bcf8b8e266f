#include "http/api.hpp"

#include <iostream>
#include <random>

#include "events/text.hpp"
#include "http/api_internal.hpp"
#include "http/url.hpp"
#include "projections/runner.hpp"
#include "storage/crypto.hpp"
#include "identity/roles.hpp"
#include "storage/event_log.hpp"

namespace crmd::http {
namespace {

const char* json_type = "application/json; charset=utf-8";

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char hex[] = "0123456789abcdef";
  std::string id(16, '0');
  uint64_t v = rng();
  for (int i = 15; i >= 0; --i, v >>= 4) id[i] = hex[v & 15];
  return id;
}

// Echo a client's id only if it is short and plain.
std::string request_id_of(const http_request& r) {
  std::string id = r.header("X-Request-Id");
  if (id.empty() || id.size() > 128) return new_request_id();
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':'))
      return new_request_id();
  return id;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    auto eq = part.find('=');
    if (!part.empty())
      out[percent_decode(part.substr(0, eq), true)] =
          eq == std::string_view::npos ? "" : percent_decode(part.substr(eq + 1), true);
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace

// --- call ------------------------------------------------------------------------

void call::send_raw_json(int status, std::string body, std::vector<std::pair<std::string, std::string>> extra) {
  send_body(status, std::move(body), json_type, std::move(extra));
}

void call::send_body(int status, std::string body, std::string content_type,
                     std::vector<std::pair<std::string, std::string>> extra) {
  http_response r;
  r.status = status;
  r.headers = {{"Content-Type", std::move(content_type)}, {"X-Request-Id", request_id}, {"X-Revision", ctx->opts.revision},
               {"Cache-Control", "no-store"}};
  if (!cors_origin.empty()) {
    r.headers.emplace_back("Access-Control-Allow-Origin", cors_origin);
    r.headers.emplace_back("Access-Control-Allow-Credentials", "true");
    r.headers.emplace_back("Access-Control-Expose-Headers", "X-Request-Id, X-Revision, Retry-After");
    r.headers.emplace_back("Vary", "Origin");
  }
  for (auto& h : extra) r.headers.push_back(std::move(h));
  r.body = std::move(body);
  out->send(std::move(r));
}

void call::send_json(int status, const json& body, std::vector<std::pair<std::string, std::string>> extra) {
  send_raw_json(status, body.dump(-1, ' ', false, json::error_handler_t::replace), std::move(extra));
}

void call::error(int status, const std::string& code, const std::string& message,
                 std::vector<std::pair<std::string, std::string>> extra) {
  if (ctx->opts.log_rejections)
    std::cerr << "crmd http: " << status << " " << req.method << " " << req.path << " " << code << " ("
              << message << ") request " << request_id << "\n";
  send_json(status, {{"ok", false}, {"error", code}, {"message", message}}, std::move(extra));
}

void call::fail(const status& s) {
  switch (s.code()) {
    case errc::invalid_argument: return error(400, s.reason(), s.message());
    case errc::conflict: return error(409, s.reason(), s.message());
    case errc::not_found: return error(404, s.reason(), s.message());
    case errc::unauthenticated: return error(401, s.reason(), s.message());
    case errc::forbidden: return error(403, s.reason(), s.message());
    case errc::subject_erased: return error(410, s.reason(), s.message());
    case errc::busy:
    case errc::shutting_down: return error(503, s.reason(), s.message(), {{"Retry-After", "1"}});
    default: return error(500, "storage_error", s.message());
  }
}

event_metadata call::who() const {
  event_metadata m;
  if (who_) {
    m.causer = who_->user_id;
    m.impersonator = who_->impersonator;
  }
  m.request_id = request_id;
  m.client = client;
  return m;
}

std::string call::principal_key() const { return who_ ? who_->user_id : std::string(); }

registry::actor call::as_actor() const {
  if (!who_) return {};
  return {who_->user_id, identity::role_name(who_->role), who_->tenant};
}

void call::reject_signature(int status_code, std::string body, std::string content_type) {
  auto& limiter = ctx->webhook_failures;
  if (auto wait = limiter.retry_after_s(client); wait > 0) {
    // In the webhook's own format: a provider that never reads JSON from
    // crmd (Twilio) does not get it here either.
    bool json = content_type.rfind("application/json", 0) == 0;
    return send_body(429,
                     json ? R"({"ok":false,"error":"rate_limited","message":"too many requests with bad signatures"})"
                          : "too many requests with bad signatures",
                     std::move(content_type), {{"Retry-After", std::to_string(wait)}});
  }
  limiter.record(client);
  send_body(status_code, std::move(body), std::move(content_type));
}

std::optional<json> call::json_body() {
  std::string ct = req.header("Content-Type");
  auto semi = ct.find(';');
  std::string base = ct.substr(0, semi);
  while (!base.empty() && base.back() == ' ') base.pop_back();
  for (auto& ch : base) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (base != "application/json") {
    error(415, "unsupported_media_type", "send the body as application/json");
    return std::nullopt;
  }
  // nlohmann's parser rejects invalid UTF-8 inside strings, so this is also
  // the UTF-8 check.
  auto j = json::parse(req.body, nullptr, false);
  if (j.is_discarded()) {
    error(400, "invalid_json", "the body is not valid JSON (or not valid UTF-8)");
    return std::nullopt;
  }
  if (!j.is_object()) {
    error(400, "invalid_json", "the body must be a JSON object");
    return std::nullopt;
  }
  return j;
}

bool call::paging(uint64_t& page, uint64_t& limit) {
  page = 1;
  limit = 25;
  if (auto it = query.find("page"); it != query.end() && (!parse_u64(it->second, page) || page == 0)) {
    error(400, "invalid_field", "field 'page' must be a positive integer");
    return false;
  }
  if (auto it = query.find("limit"); it != query.end() &&
                                     (!parse_u64(it->second, limit) || limit == 0 || limit > 200)) {
    error(400, "invalid_field", "field 'limit' must be an integer from 1 to 200");
    return false;
  }
  return true;
}

std::optional<std::string> call::tenant_param(const std::string& name) {
  auto id = params[name];
  auto canonical = ctx->deps.rt.resolve_tenant(id);
  if (!canonical) {
    error(404, "tenant_not_found", "no tenant '" + id + "'");
    return std::nullopt;
  }
  return canonical;
}

void call::after_own_writes(std::function<void()> read) {
  uint64_t need = ctx->position_of(principal_key());
  if (auto it = query.find("min_position"); it != query.end()) {
    uint64_t mp = 0;
    if (!parse_u64(it->second, mp)) return error(400, "invalid_field", "field 'min_position' must be an integer");
    need = std::max(need, mp);
  }
  auto self = shared_from_this();
  ctx->deps.runner.when_caught_up(need, ctx->opts.consistency_wait, [self, read = std::move(read)](bool ok) {
    if (ok) return read();
    self->error(503, "consistency_timeout", "the views have not caught up with your writes yet; retry",
                {{"Retry-After", "1"}});
  });
}

command_done call::answer(int status_code, std::function<json(const command_ok&)> ok) {
  auto self = shared_from_this();
  return [self, status_code, ok = std::move(ok)](result<command_ok> r) {
    if (!r) return self->fail(r.error());
    self->ctx->note_position(self->principal_key(), r->position);
    self->send_json(status_code, ok(*r));
  };
}

// --- impl ------------------------------------------------------------------------

void api::impl::note_position(const std::string& principal, uint64_t pos) {
  std::lock_guard lock(positions_mu);
  auto& p = positions[principal];
  p = std::max(p, pos);
}

uint64_t api::impl::position_of(const std::string& principal) {
  std::lock_guard lock(positions_mu);
  auto it = positions.find(principal);
  return it == positions.end() ? 0 : it->second;
}

std::optional<std::string> string_field(const call_ptr& c, const json& body, const char* name, bool required) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) c->error(400, "invalid_field", std::string("field '") + name + "' is required");
    return std::nullopt;
  }
  if (!it->is_string()) {
    c->error(400, "invalid_field", std::string("field '") + name + "' must be a string");
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::string page_json(const std::vector<std::string>& items, uint64_t total, uint64_t page, uint64_t limit) {
  std::string out = "{\"ok\":true,\"results\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    out += items[i];
  }
  uint64_t pages = (total + limit - 1) / limit;
  return out + "],\"page\":" + std::to_string(page) + ",\"pages\":" + std::to_string(pages) +
         ",\"total\":" + std::to_string(total) + "}";
}

namespace {

route_list all_routes() {
  route_list r;
  add_health_routes(r);
  add_auth_routes(r);
  add_tenant_routes(r);
  add_user_routes(r);
  add_prompt_routes(r);
  add_contact_routes(r);
  add_work_routes(r);
  add_document_routes(r);
  add_live_routes(r);
  add_twilio_routes(r);
  add_call_routes(r);
  add_whatsapp_routes(r);
  add_admin_routes(r);
  add_erasure_routes(r);
  add_stats_routes(r);
  return r;
}

const char* scope_name(scope s) {
  switch (s) {
    case scope::open: return "open";
    case scope::signed_in: return "signed_in";
    case scope::tenant: return "tenant";
    case scope::system: return "system";
  }
  return "?";
}

}  // namespace

void api::impl::add_routes() {
  defs = all_routes();
  for (auto& d : defs) routes.add(d.method, d.pattern, &d);
}

std::vector<route_info> route_table() {
  std::vector<route_info> out;
  for (auto& d : all_routes())
    out.push_back({d.method, d.pattern, scope_name(d.who), d.who == scope::tenant ? identity::perm_name(d.need) : "",
                   d.who == scope::tenant ? identity::module_name(d.mod) : ""});
  return out;
}

// --- api -------------------------------------------------------------------------

api::impl::impl(api_deps d, api_options o)
    : deps(d),
      opts(std::move(o)),
      sessions(d.views, std::chrono::duration_cast<std::chrono::microseconds>(opts.refresh_ttl).count()),
      requests(d.views),
      live(std::make_unique<live_hub>(d.log)),
      contact_search(d.views),
      ip_failures({opts.auth_failures_per_minute, 60'000'000, 100'000}),
      account_failures({opts.auth_failures_per_minute, 60'000'000, 100'000}),
      webhook_failures({opts.auth_failures_per_minute, 60'000'000, 100'000}),
      kdf_pool(std::make_unique<worker_pool>(opts.kdf_threads, opts.kdf_queue)),
      io_pool(std::make_unique<worker_pool>(1, 256)),
      query_pool(std::make_unique<worker_pool>(2, 64)) {}

api::api(api_deps deps, api_options options) : impl_(std::make_unique<impl>(deps, std::move(options))) {
  impl_->add_routes();
}
api::~api() = default;

status api::start() {
  if (auto s = impl_->sessions.load(); !s) return s;
  if (auto s = impl_->requests.purge(); !s) return s;
  impl_->live->start();
  impl_->calls = std::make_unique<call_pipeline>(impl_->deps.rt, impl_->deps.log, impl_->deps.views, impl_->opts.calls);
  impl_->calls->resume();  // recordings a restart interrupted
  return status::ok();
}

void api::stop() {
  impl_->integrity.stop();
  impl_->live->stop();
  impl_->calls.reset();  // finishes the step in hand; resume() picks up the rest next start
  // Runs the jobs already accepted (their callers are owed an answer) and
  // refuses new ones; the runtime and the log are still up.
  impl_->kdf_pool.reset();
  impl_->io_pool.reset();
  impl_->query_pool.reset();
  impl_->kdf_pool = std::make_unique<worker_pool>(0, 0);
  impl_->io_pool = std::make_unique<worker_pool>(0, 0);
  impl_->query_pool = std::make_unique<worker_pool>(0, 0);
}

std::vector<route_info> api::routes() const { return route_table(); }

http_response api::timeout_response(const http_request& req) const {
  return {503,
          {{"Content-Type", json_type}, {"Retry-After", "1"}, {"X-Request-Id", request_id_of(req)},
           {"X-Revision", impl_->opts.revision}},
          R"({"ok":false,"error":"timeout","message":"crmd could not answer in time; retry"})"};
}

namespace {

// Stores the answer for Idempotency-Key retries before it leaves.
class recording_responder : public responder {
 public:
  recording_responder(std::shared_ptr<responder> inner, idempotency_store& store, idempotency_store::claim claim,
                      std::string request_body)
      : inner_(std::move(inner)), store_(store), claim_(std::move(claim)), request_body_(std::move(request_body)) {}
  bool send(http_response r) override {
    // Kept even when the server already answered with its own timeout: the
    // work happened, and a retry must get this answer rather than redo it.
    if (finished_.exchange(true)) return false;
    store_.finish(claim_, request_body_, {r.status, r.body});
    return inner_->send(std::move(r));
  }
  bool answered() const override { return inner_->answered(); }

 private:
  std::shared_ptr<responder> inner_;
  idempotency_store& store_;
  idempotency_store::claim claim_;
  std::string request_body_;
  std::atomic<bool> finished_{false};
};

bool cors_allowed(const api_options& o, const std::string& origin) {
  if (origin.empty()) return false;
  for (auto& a : o.cors_origins)
    if (a == origin) return true;
  return false;
}

}  // namespace

void api::handle(http_request req, std::shared_ptr<responder> out) {
  auto c = std::make_shared<call>();
  c->request_id = request_id_of(req);
  c->ctx = impl_.get();
  c->out = std::move(out);
  c->query = parse_query(req.query);
  c->client = impl_->client_address(req);
  std::string path = req.path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  c->req = std::move(req);
  std::string origin = c->req.header("Origin");
  if (cors_allowed(impl_->opts, origin)) c->cors_origin = origin;

  auto m = impl_->routes.match(c->req.method, path);
  // A CORS preflight: answered here, for allowed origins only.
  if (c->req.method == "OPTIONS" && c->req.has_header("Access-Control-Request-Method") && !origin.empty()) {
    if (c->cors_origin.empty()) return c->error(403, "cors_forbidden", "origin " + origin + " is not allowed");
    if (m.allowed.empty() && !m.handler) return c->error(404, "not_found", "no route " + path);
    std::string allow;
    for (auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
    return c->send_raw_json(204, "",
                            {{"Access-Control-Allow-Methods", allow},
                             {"Access-Control-Allow-Headers", "Authorization, Content-Type, X-CSRF-Token, X-Request-Id"},
                             {"Access-Control-Max-Age", "600"}});
  }
  if (!m.handler) {
    if (m.allowed.empty()) return c->error(404, "not_found", "no route " + c->req.method + " " + path);
    std::string allow;
    for (auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
    return c->error(405, "method_not_allowed", c->req.method + " is not allowed on " + path, {{"Allow", allow}});
  }
  c->params = std::move(m.params);
  const route_def& route = **m.handler;
  if (!impl_->authorize(c, route)) return;
  if (c->req.body.size() > impl_->opts.max_body)
    return c->error(413, "payload_too_large",
                    "the body is larger than " + std::to_string(impl_->opts.max_body) + " bytes");
  if (c->req.method == "POST" && path.rfind("/api/", 0) == 0 && path.rfind("/api/auth/", 0) != 0 &&
      c->req.has_header("Idempotency-Key")) {
    std::string key = c->req.header("Idempotency-Key");
    if (!valid_idempotency_key(key))
      return c->error(400, "invalid_field", "header 'Idempotency-Key' must be 1 to 255 printable characters");
    std::string tenant = !c->tenant.empty() ? c->tenant : (c->who_ ? c->who_->tenant : "");
    auto claim = impl_->requests.begin(tenant, c->principal_key(), "POST " + path + "\n" + key, c->req.body);
    if (!claim) return c->fail(claim.error());
    switch (claim->what) {
      case idempotency_store::outcome::replay:
        return c->send_raw_json(claim->answer.status, claim->answer.body, {{"Idempotent-Replayed", "true"}});
      case idempotency_store::outcome::mismatch:
        return c->error(422, "idempotency_key_reused", "this Idempotency-Key was used with a different body");
      case idempotency_store::outcome::in_progress:
        return c->error(409, "idempotency_in_progress", "a request with this Idempotency-Key is still running",
                        {{"Retry-After", "1"}});
      case idempotency_store::outcome::fresh:
        c->out = std::make_shared<recording_responder>(std::move(c->out), impl_->requests, std::move(*claim),
                                                       c->req.body);
        break;
    }
  }
  route.fn(c);
}

}  // namespace crmd::http
