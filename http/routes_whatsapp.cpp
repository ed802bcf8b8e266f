// WhatsApp sessions: the client API (/api/whatsapp/...) and the bridge's
// webhook (/webhook/whatsapp/{tenant}/events). The session actor decides
// everything (actors/whatsapp/session_decider.hpp); these routes translate.
//
// Routes take `session` from the query (default "main"); the bridge's
// deliveries name theirs in the body (absent: "main").
#include <cstdio>

#include "actors/crm/phone.hpp"
#include "connectors/bridge_client.hpp"
#include "connectors/qr_svg.hpp"
#include "connectors/whatsapp_parse.hpp"
#include "events/catalog.hpp"
#include "events/clock.hpp"
#include "events/time_format.hpp"
#include "events/codec.hpp"
#include "events/whatsapp_events.hpp"
#include "http/api_internal.hpp"
#include "http/whatsapp_ingest.hpp"
#include "projections/contacts_view.hpp"
#include "projections/messages_view.hpp"
#include "storage/crypto.hpp"
#include "storage/event_log.hpp"

namespace crmd::http {
namespace {

using identity::perm;
constexpr auto wa_module = identity::module::whatsapp;

std::optional<std::string> session_param(const call_ptr& c) {
  std::string s = c->query.count("session") ? c->query["session"] : "main";
  if (!wa::valid_session(s)) {
    c->error(400, "invalid_field", wa::session_rule);
    return std::nullopt;
  }
  return s;
}

json status_json(const wa_view& v) {
  const auto& s = v.state;
  json last = nullptr;
  if (s.last_disconnect)
    last = {{"code", s.last_disconnect->code}, {"reason", s.last_disconnect->reason}, {"at", s.last_disconnect->at}};
  return {{"ok", true},
          {"state", s.status},
          {"connected", s.status == "connected"},
          {"hasQR", !v.qr.empty()},
          {"pushName", s.push_name.empty() ? json(nullptr) : json(s.push_name)},
          {"jid", s.jid.empty() ? json(nullptr) : json(s.jid)},
          {"lastDisconnect", last}};
}

// Runs `cmd` on the session and answers {"ok":true,"state":...}.
void command(const call_ptr& c, wa::command cmd) {
  auto session = session_param(c);
  if (!session) return;
  c->ctx->deps.rt.whatsapp_command(c->tenant, *session, std::move(cmd), c->who(), [c](result<wa_view> r) {
    if (!r) return c->fail(r.error());
    if (r->position) c->ctx->note_position(c->principal_key(), r->position);
    c->send_json(200, {{"ok", true}, {"state", r->state.status}});
  });
}

void read(const call_ptr& c, std::function<json(const wa_view&)> render) {
  auto session = session_param(c);
  if (!session) return;
  c->ctx->deps.rt.read_whatsapp(c->tenant, *session, [c, render](result<wa_view> r) {
    if (!r) return c->fail(r.error());
    c->send_json(200, render(*r));
  });
}

// The session's history, newest first: every transition with its cause. It
// reads the whole session stream, so it runs on the query pool.
void history(const call_ptr& c) {
  uint64_t page = 1, limit = 25;
  if (!c->paging(page, limit)) return;
  auto session = session_param(c);
  if (!session) return;
  bool queued = c->ctx->query_pool->try_submit([c, session = *session, page, limit] {
    auto evs = c->ctx->deps.log.read_stream(wa::stream_of(c->tenant, session), 1, 100000);
    if (!evs) return c->fail(evs.error());
    std::vector<std::string> items;
    uint64_t total = evs->size();
    for (uint64_t i = (page - 1) * limit; i < total && items.size() < limit; ++i) {
      auto& e = (*evs)[total - 1 - i];
      auto payload = catalog::payload_to_json(e.env.type, e.env.schema_version, e.payload);
      json item = {{"type", e.env.type}, {"at", rfc3339(e.env.recorded_at_us)}, {"position", e.env.position},
                   {"by", e.env.meta.causer}};
      if (payload) item["data"] = json::parse(*payload, nullptr, false);
      items.push_back(item.dump());
    }
    c->send_raw_json(200, page_json(items, total, page, limit));
  });
  if (!queued) c->error(503, "busy", "too many reads at once; retry shortly", {{"Retry-After", "1"}});
}

bool bridge_secret_ok(const call_ptr& c) {
  const auto& secret = c->ctx->opts.internal_secret;
  if (!secret.empty() && crypto::constant_time_equal(c->req.header("X-Internal-Secret"), secret)) return true;
  c->reject_signature(401, R"({"ok":false,"error":"unauthorized","message":"missing or wrong X-Internal-Secret"})",
                      "application/json; charset=utf-8");
  return false;
}

// The older services' route: {"tenantId","payload"} with a messages.upsert
// payload; the tenant id may be an alias ("1" for "business_1").
void legacy_incoming(const call_ptr& c) {
  if (!bridge_secret_ok(c)) return;
  auto body = connectors::wa::parse_legacy_incoming(c->req.body);
  if (!body) return c->error(400, body.error().reason(), body.error().message());
  auto tenant = c->ctx->deps.rt.resolve_tenant(body->first);
  if (!tenant) return c->error(404, "tenant_not_found", "no tenant '" + body->first.substr(0, 64) + "'");
  auto job = std::make_shared<ingest>();
  job->c = c;
  job->tenant = *tenant;
  job->session = "main";
  job->history = body->second.type == "append";
  job->messages = std::move(body->second.messages);
  job->step();
}

// The bridge's webhook: secret (401), tenant (404), body (400), then the session decides.
void bridge_events(const call_ptr& c) {
  if (!bridge_secret_ok(c)) return;
  auto tenant = c->ctx->deps.rt.resolve_tenant(c->params["tenant"]);
  if (!tenant) return c->error(404, "tenant_not_found", "no tenant '" + c->params["tenant"].substr(0, 64) + "'");
  auto ev = connectors::wa::parse_bridge_event(c->req.body);
  if (!ev) return c->error(400, ev.error().reason(), ev.error().message());
  if (!wa::valid_session(ev->session))
    return c->error(400, "invalid_field", wa::session_rule);
  auto* cu = std::get_if<connectors::wa::connection_update>(&ev->data);
  if (!cu) {
    auto job = std::make_shared<ingest>();
    job->c = c;
    job->tenant = *tenant;
    job->session = ev->session;
    if (auto* up = std::get_if<connectors::wa::upsert>(&ev->data)) {
      job->history = up->type == "append";
      job->messages = std::move(up->messages);
    } else {
      job->statuses = std::move(std::get<std::vector<connectors::wa::status_update>>(ev->data));
    }
    return job->step();
  }
  wa::bridge_update u;
  u.seq = ev->seq;
  u.connection = cu->connection;
  u.qr = cu->qr;
  u.is_new_login = cu->is_new_login;
  if (cu->last_disconnect) {
    u.code = cu->last_disconnect->code;
    u.reason = cu->last_disconnect->message;
    u.at = cu->last_disconnect->date;
  }
  u.me_id = cu->me_id;
  u.me_name = cu->me_name;
  u.now_us = system_clock().now_us();
  event_metadata who = c->who();
  who.causer = "bridge";
  c->ctx->deps.rt.whatsapp_command(*tenant, ev->session, std::move(u), who, [c](result<wa_view> r) {
    if (!r) return c->fail(r.error());
    c->send_json(200, {{"ok", true}, {"state", r->state.status}});
  });
}

// Meta's subscription check: the raw challenge as text/plain, or 403.
void cloud_verify(const call_ptr& c) {
  auto q = [&](const char* k) { return c->query.count(k) ? c->query[k] : std::string(); };
  const auto& token = c->ctx->opts.whatsapp_verify_token;
  if (q("hub.mode") != "subscribe" || token.empty() || !crypto::constant_time_equal(q("hub.verify_token"), token)) {
    std::fprintf(stderr, "crmd whatsapp cloud: verification refused\n");
    return c->reject_signature(403, "forbidden", "text/plain; charset=utf-8");
  }
  c->send_body(200, q("hub.challenge").substr(0, 256), "text/plain; charset=utf-8");
}

// Meta's events: signature over the raw bytes, then each change's messages
// and statuses are stored like the bridge's, for the tenant that owns its
// phone_number_id (an unknown id is logged and skipped: Meta would retry a
// refusal for days).
void cloud_events(const call_ptr& c) {
  const auto& secret = c->ctx->opts.whatsapp_app_secret;
  if (secret.empty() || !connectors::wa::valid_meta_signature(secret, c->req.body, c->req.header("X-Hub-Signature-256")))
    return c->reject_signature(403, R"({"ok":false,"error":"invalid_signature","message":"bad X-Hub-Signature-256"})",
                               "application/json; charset=utf-8");
  auto batches = connectors::wa::parse_cloud_webhook(c->req.body);
  if (!batches) return c->error(400, batches.error().reason(), batches.error().message());
  struct run {
    std::vector<connectors::wa::cloud_batch> batches;
    size_t next = 0, stored = 0, duplicates = 0;
    uint64_t position = 0;
  };
  auto state = std::make_shared<run>();
  state->batches = std::move(*batches);
  auto step = std::make_shared<std::function<void()>>();
  *step = [c, state, step] {
    while (state->next < state->batches.size()) {
      auto& b = state->batches[state->next++];
      std::optional<std::string> tenant;
      c->ctx->deps.rt.read_registry([&](const registry::state& s) {
        if (auto it = s.cloud_ids.find(b.phone_number_id); it != s.cloud_ids.end()) tenant = it->second;
      });
      if (!tenant) {
        std::fprintf(stderr, "crmd whatsapp cloud: no tenant for phone_number_id %s\n", b.phone_number_id.c_str());
        continue;
      }
      auto job = std::make_shared<ingest>();
      job->c = c;
      job->tenant = *tenant;
      job->session = "cloud";
      job->messages = std::move(b.messages);
      job->statuses = std::move(b.statuses);
      job->answer = [state, step, job](uint64_t) {
        state->stored += job->stored;
        state->duplicates += job->duplicates;
        state->position = std::max(state->position, job->last_position);
        (*step)();
      };
      return job->step();
    }
    c->send_json(200, {{"ok", true}, {"stored", state->stored}, {"duplicates", state->duplicates},
                       {"position", state->position}});
    *step = nullptr;  // breaks the cycle
  };
  (*step)();
}

}  // namespace

void add_whatsapp_routes(route_list& r) {
  r.push_back({"POST", "/api/wa/send", scope::tenant, perm::messages_send, wa_module, whatsapp_send});
  r.push_back({"POST", "/api/whatsapp/start", scope::tenant, perm::tenant_settings, wa_module,
               [](const call_ptr& c) { command(c, wa::start{"user", system_clock().now_us()}); }});
  r.push_back({"POST", "/api/whatsapp/restart", scope::tenant, perm::tenant_settings, wa_module,
               [](const call_ptr& c) { command(c, wa::start{"restart", system_clock().now_us()}); }});
  r.push_back({"POST", "/api/whatsapp/logout", scope::tenant, perm::tenant_settings, wa_module,
               [](const call_ptr& c) { command(c, wa::logout{}); }});
  r.push_back({"GET", "/api/whatsapp/status", scope::tenant, perm::crm_read, wa_module,
               [](const call_ptr& c) { read(c, status_json); }});
  // 200 always: a QR or nulls, never an empty body.
  r.push_back({"GET", "/api/whatsapp/qr", scope::tenant, perm::crm_read, wa_module, [](const call_ptr& c) {
    read(c, [](const wa_view& v) {
      json out = {{"ok", true}, {"qrText", nullptr}, {"dataUrl", nullptr}, {"state", v.state.status}};
      if (!v.qr.empty()) {
        out["qrText"] = v.qr;
        if (auto url = connectors::qr_data_url(v.qr)) out["dataUrl"] = *url;
      }
      return out;
    });
  }});
  r.push_back({"GET", "/api/whatsapp/history", scope::tenant, perm::crm_read, wa_module, history});
  r.push_back({"POST", "/webhook/whatsapp/:tenant/events", scope::open, {}, {}, bridge_events});
  r.push_back({"POST", "/webhook/whatsapp/incoming", scope::open, {}, {}, legacy_incoming});
  r.push_back({"POST", "/webhook/wa/incoming", scope::open, {}, {}, legacy_incoming});
  r.push_back({"GET", "/webhook/whatsapp/cloud", scope::open, {}, {}, cloud_verify});
  r.push_back({"POST", "/webhook/whatsapp/cloud", scope::open, {}, {}, cloud_events});
  // {"phone_number_ids":["1234567890"]}: the tenant's Cloud API numbers (full set).
  r.push_back({"PUT", "/api/admin/tenants/:id/whatsapp_cloud", scope::system, {}, {}, [](const call_ptr& c) {
    auto id = c->tenant_param("id");
    if (!id) return;
    auto body = c->json_body();
    if (!body) return;
    auto it = body->find("phone_number_ids");
    if (it == body->end()) return c->error(400, "invalid_field", "field 'phone_number_ids' is required");
    auto list = string_array(c, *it, "phone_number_ids");
    if (!list) return;
    c->ctx->deps.rt.registry_command(registry::assign_cloud_ids{*id, *list}, c->who(),
                                     c->answer(200, [id = *id](const command_ok& ok) {
                                       return json{{"ok", true}, {"tenant_id", id}, {"position", ok.position}};
                                     }));
  }});
  r.push_back({"GET", "/api/wa/messages", scope::tenant, perm::crm_read, wa_module, [](const call_ptr& c) {
    uint64_t page = 1, limit = 25;
    if (!c->paging(page, limit)) return;
    std::string contact = c->query.count("customer_id") ? c->query["customer_id"] : "";
    if (contact.size() > 64 || contact.find('/') != std::string::npos)
      return c->error(400, "invalid_field", "field 'customer_id' is not an id");
    c->after_own_writes([c, contact, page, limit] {
      auto p = views::list_messages(c->ctx->deps.views, c->tenant, contact, page, limit);
      if (!p) return c->fail(p.error());
      c->send_raw_json(200, page_json(p->items, p->total, page, limit));
    });
  }});
}

}  // namespace crmd::http
