#include "http/api.hpp"

#include <iostream>
#include <random>

#include "events/text.hpp"
#include "http/api_internal.hpp"
#include "http/url.hpp"
#include "projections/runner.hpp"
#include "storage/crypto.hpp"
#include "storage/event_log.hpp"

namespace crmd::http {
namespace {

const char* json_type = "application/json; charset=utf-8";

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
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

void call::send_raw_json(int status, std::string body) {
  http_response r;
  r.status = status;
  r.headers = {{"Content-Type", json_type}, {"X-Request-Id", request_id}, {"X-Revision", ctx->opts.revision},
               {"Cache-Control", "no-store"}};
  r.body = std::move(body);
  out->send(std::move(r));
}

void call::send_json(int status, const json& body, std::vector<std::pair<std::string, std::string>> extra) {
  http_response r;
  r.status = status;
  r.headers = {{"Content-Type", json_type}, {"X-Request-Id", request_id}, {"X-Revision", ctx->opts.revision},
               {"Cache-Control", "no-store"}};
  for (auto& h : extra) r.headers.push_back(std::move(h));
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  out->send(std::move(r));
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
  m.causer = principal;
  m.request_id = request_id;
  return m;
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
  uint64_t need = ctx->position_of(principal);
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
    self->ctx->note_position(self->principal, r->position);
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

void api::impl::add_routes() {
  // Hand-formatted: /health is the most frequently polled route.
  auto health = [this](const call_ptr& c, bool with_log) {
    uint64_t head = deps.log.last_position();
    std::string views;
    for (auto& [name, st] : deps.runner.views()) {
      views += (views.empty() ? "\"" : ",\"") + name + "\":{\"position\":" + std::to_string(st.position) +
               ",\"lag\":" + std::to_string(head - std::min(head, st.position));
      if (!st.error.empty()) views += ",\"error\":" + json(st.error).dump();
      views += "}";
    }
    auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
    std::string log;
    if (with_log) {  // group-commit statistics, for operators (crmd status)
      auto ls = deps.log.stats();
      auto per_batch = [&](uint64_t v) { return std::to_string(ls.batches ? v / ls.batches : 0); };
      log = ",\"log\":{\"batches\":" + std::to_string(ls.batches) + ",\"events\":" + std::to_string(ls.events) +
            ",\"decide_us_per_batch\":" + per_batch(ls.decide_us) +
            ",\"write_us_per_batch\":" + per_batch(ls.write_us) + "}";
    }
    c->send_raw_json(200, "{\"ok\":true,\"revision\":" + json(opts.revision).dump() + ",\"uptime_s\":" +
                              std::to_string(up.count()) + ",\"log_position\":" + std::to_string(head) + log +
                              ",\"projections\":{" + views + "}}");
  };
  routes.add("GET", "/health", [health](const call_ptr& c) { health(c, false); });
  routes.add("GET", "/api/health", [health](const call_ptr& c) { health(c, true); });
  add_tenant_routes(*this);
  add_prompt_routes(*this);
}

// --- api -------------------------------------------------------------------------

api::api(api_deps deps, api_options options) : impl_(std::make_unique<impl>(deps, std::move(options))) {
  impl_->add_routes();
}
api::~api() = default;

std::vector<route_info> api::routes() const {
  std::vector<route_info> out;
  for (auto& r : impl_->routes.routes())
    out.push_back({r.method, r.pattern, r.pattern != "/health" && r.pattern != "/api/health"});
  return out;
}

http_response api::timeout_response(const http_request& req) const {
  return {503,
          {{"Content-Type", json_type}, {"Retry-After", "1"}, {"X-Request-Id", request_id_of(req)},
           {"X-Revision", impl_->opts.revision}},
          R"({"ok":false,"error":"timeout","message":"crmd could not answer in time; retry"})"};
}

void api::handle(http_request req, std::shared_ptr<responder> out) {
  auto c = std::make_shared<call>();
  c->request_id = request_id_of(req);
  c->ctx = impl_.get();
  c->out = std::move(out);
  c->query = parse_query(req.query);
  std::string path = req.path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  c->req = std::move(req);

  auto m = impl_->routes.match(c->req.method, path);
  if (!m.handler) {
    if (m.allowed.empty()) return c->error(404, "not_found", "no route " + c->req.method + " " + path);
    std::string allow;
    for (auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
    return c->error(405, "method_not_allowed", c->req.method + " is not allowed on " + path, {{"Allow", allow}});
  }
  c->params = std::move(m.params);
  bool public_route = path == "/health" || path == "/api/health";
  if (!public_route) {
    std::string auth = c->req.header("Authorization");
    const std::string bearer = "Bearer ";
    if (auth.compare(0, bearer.size(), bearer) != 0 ||
        !crypto::constant_time_equal(auth.substr(bearer.size()), impl_->opts.admin_token))
      return c->error(401, "unauthorized", "send Authorization: Bearer <token>",
                      {{"WWW-Authenticate", "Bearer"}});
    c->principal = "admin";
  }
  if (c->req.body.size() > impl_->opts.max_body)
    return c->error(413, "payload_too_large",
                    "the body is larger than " + std::to_string(impl_->opts.max_body) + " bytes");
  (*m.handler)(c);
}

}  // namespace crmd::http
