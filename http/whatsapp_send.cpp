// POST /api/wa/send {"customer_id"|"to","text","session"?} -> 202
// {"ok","message_id","position","status"}. `session` picks one of a bridge
// tenant's sessions (default "main").
//
// The tenant's settings choose the provider: "baileys" hands the message to
// the bridge (the session must be connected), "cloud" posts it to the Graph
// API with the tenant's sealed token and its admin-assigned phone_number_id.
// Either way the call runs on the I/O pool and the message is recorded under
// the id WhatsApp gave it, so the provider's own echo or status webhooks find
// it; a failed hand-over records it with a local id and status failed.
#include <cstdio>

#include "actors/crm/phone.hpp"
#include "actors/whatsapp/session_decider.hpp"
#include "connectors/bridge_client.hpp"
#include "connectors/graph_client.hpp"
#include "events/clock.hpp"
#include "http/api_internal.hpp"
#include "http/whatsapp_ingest.hpp"
#include "projections/contacts_view.hpp"
#include "storage/crypto.hpp"
#include "storage/secret_store.hpp"

namespace crmd::http {
namespace {

struct outgoing {
  std::string jid, contact, text;
  std::string session;  // the bridge session ("main" unless named) or "cloud"
};

// Records the message (and a failed status when `sent` failed), then answers 202.
void record(const call_ptr& c, const outgoing& m, const result<std::string>& sent) {
  auto job = std::make_shared<ingest>();
  job->c = c;
  job->tenant = c->tenant;
  job->session = m.session;
  std::string id = sent ? *sent : "crmd-" + crypto::to_hex(crypto::random_bytes(10));
  job->answer = [c, id, ok = static_cast<bool>(sent)](uint64_t position) {
    c->ctx->note_position(c->principal_key(), position);
    c->send_json(202, {{"ok", true}, {"message_id", id}, {"position", position}, {"status", ok ? "sent" : "failed"}});
  };
  connectors::wa::message_in in;
  in.remote_jid = m.jid;
  in.phone = connectors::wa::phone_from_jid(m.jid);
  in.id = id;
  in.from_me = true;
  in.text = m.text;
  in.timestamp = system_clock().now_us() / 1'000'000;
  // A number with no contact yet gets one, as an incoming chat does: every
  // chat with a person is bound to a subject that erasure can reach.
  if (!m.contact.empty()) job->contact_override = m.contact;
  job->messages.push_back(std::move(in));
  if (!sent) job->statuses.push_back({m.jid, id, true, "failed"});
  job->step();
}

void on_io_pool(const call_ptr& c, std::function<void()> work) {
  if (!c->ctx->io_pool->try_submit(std::move(work)))
    c->error(503, "busy", "crmd is busy; retry shortly", {{"Retry-After", "1"}});
}

void send_with_bridge(const call_ptr& c, outgoing m) {
  std::string session = m.session;
  c->ctx->deps.rt.read_whatsapp(c->tenant, session, [c, m = std::move(m)](result<wa_view> v) {
    if (!v) return c->fail(v.error());
    if (v->state.status != "connected")
      return c->error(409, "whatsapp_not_connected", "the WhatsApp session is " + v->state.status);
    on_io_pool(c, [c, m] {
      connectors::bridge_options o{c->ctx->opts.baileys_base_url, c->ctx->opts.internal_secret};
      auto sent = connectors::bridge_send(o, c->tenant, m.jid, m.text, m.session);
      if (!sent) std::fprintf(stderr, "crmd whatsapp: %s: send failed: %s\n", c->tenant.c_str(), sent.error().message().c_str());
      record(c, m, sent);
    });
  });
}

void send_with_cloud(const call_ptr& c, outgoing m) {
  // The tenant's first Cloud number (ids sort; admins usually assign one).
  std::string number_id;
  c->ctx->deps.rt.read_registry([&](const registry::state& s) {
    for (auto& [id, tenant] : s.cloud_ids)
      if (tenant == c->tenant) {
        number_id = id;
        break;
      }
  });
  if (number_id.empty())
    return c->error(409, "whatsapp_not_connected",
                    "the Cloud API has no phone_number_id for this business; an administrator assigns one");
  if (m.session != "main")
    return c->error(400, "invalid_field", "a business on the Cloud API has one number: no field 'session'");
  m.session = "cloud";
  on_io_pool(c, [c, m = std::move(m), number_id] {
    auto token = secrets::read(c->ctx->deps.views, c->ctx->opts.secrets_key, c->tenant, secrets::whatsapp_graph_token);
    if (!token) return c->fail(token.error());
    if (!*token)
      return c->error(409, "whatsapp_not_connected", "the Cloud API has no token; set whatsapp_token in the settings");
    connectors::graph_options o;
    o.base_url = c->ctx->opts.whatsapp_graph_base;
    auto sent = connectors::graph_send_text(o, number_id, **token, m.jid.substr(0, m.jid.find('@')), m.text);
    if (!sent)
      std::fprintf(stderr, "crmd whatsapp cloud: %s: send failed: %s\n", c->tenant.c_str(), sent.error().message().c_str());
    record(c, m, sent);
  });
}

void send_after_reads(const call_ptr& c, const json& body, const std::string& text) {
  auto st = views::get_settings(c->ctx->deps.views, c->tenant);
  if (!st) return c->fail(st.error());
  outgoing m;
  m.text = text;
  m.session = "main";
  if (body.contains("session") && !body["session"].is_null()) {
    auto session = string_field(c, body, "session", true);
    if (!session) return;
    if (!wa::valid_session(*session))
      return c->error(400, "invalid_field", wa::session_rule);
    m.session = *session;
  }
  std::string phone;
  if (body.contains("customer_id")) {
    auto id = string_field(c, body, "customer_id", true);
    if (!id) return;
    auto found = views::get_contact(c->ctx->deps.views, c->tenant, *id);
    if (!found) return c->fail(found.error());
    if (!*found) return c->error(404, "contact_not_found", "no customer or lead '" + id->substr(0, 64) + "'");
    auto j = json::parse(**found, nullptr, false);
    phone = j.is_object() ? j.value("phone", "") : "";
    m.contact = *id;
    if (phone.empty()) return c->error(400, "invalid_field", "the contact has no phone number");
  } else {
    auto to = string_field(c, body, "to", true);
    if (!to) return;
    auto e164 = crm::to_e164(*to, st->default_region);
    if (!e164) return c->error(400, "invalid_field", "field 'to' is not a phone number");
    phone = *e164;
    if (auto known = views::contact_by_phone(c->ctx->deps.views, c->tenant, phone); known && *known) m.contact = **known;
  }
  m.jid = phone.substr(1) + "@s.whatsapp.net";
  if (st->whatsapp_provider == "cloud") return send_with_cloud(c, std::move(m));
  send_with_bridge(c, std::move(m));
}

}  // namespace

void whatsapp_send(const call_ptr& c) {
  auto body = c->json_body();
  if (!body) return;
  auto text = string_field(c, *body, "text", true);
  if (!text) return;
  if (text->empty() || text->size() > 4096) return c->error(400, "invalid_field", "field 'text' must be 1..4096 bytes");
  // The contact and the settings are read from the views once they hold
  // the caller's own writes: a customer created a moment ago can be written to.
  c->after_own_writes([c, body = std::move(*body), text = std::move(*text)] { send_after_reads(c, body, text); });
}

}  // namespace crmd::http
