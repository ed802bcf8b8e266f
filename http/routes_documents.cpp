// Contracts (/api/contracts), signatures (/api/signatures), invoices
// (/api/invoices), Stripe payment intents and the Stripe webhook.
#include <ctime>

#include "connectors/stripe_client.hpp"
#include "connectors/stripe_signature.hpp"
#include "events/time_format.hpp"
#include "http/api_internal.hpp"
#include "projections/documents_view.hpp"

namespace crmd::http {
namespace {

using identity::perm;
constexpr auto crm_module = identity::module::crm;

json saved(const command_ok& ok) { return {{"ok", true}, {"id", ok.id}, {"position", ok.position}}; }

void list(const call_ptr& c, const std::string& kind, const char* owner_param) {
  uint64_t page = 1, limit = 25;
  if (!c->paging(page, limit)) return;
  std::string owner;
  if (auto it = c->query.find(owner_param); it != c->query.end()) owner = it->second;
  if (owner.size() > 64) return c->error(400, "invalid_field", std::string("field '") + owner_param + "' is too long");
  c->after_own_writes([c, kind, owner, page, limit] {
    auto p = views::list_documents(c->ctx->deps.views, c->tenant, kind, owner, page, limit);
    if (!p) return c->fail(p.error());
    c->send_raw_json(200, page_json(p->items, p->total, page, limit));
  });
}

void get(const call_ptr& c, const std::string& kind) {
  c->after_own_writes([c, kind] {
    auto d = views::get_document(c->ctx->deps.views, c->tenant, kind, c->params["id"]);
    if (!d) return c->fail(d.error());
    if (!*d) return c->error(404, kind + "_not_found", "no " + kind + " '" + c->params["id"] + "'");
    c->send_raw_json(200, "{\"ok\":true,\"" + kind + "\":" + **d + "}");
  });
}

void move(const call_ptr& c, const char* to) {
  c->ctx->deps.rt.tenant_command(c->tenant, crm::move_contract{c->params["id"], to}, c->who(), c->answer(200, saved));
}

// Integer fields of a JSON object, answering 400 naming the field.
bool int_field(const call_ptr& c, const json& j, const char* name, int64_t& out, bool required) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) c->error(400, "invalid_field", std::string("field '") + name + "' is required");
    return !required;
  }
  if (!it->is_number_integer()) {
    c->error(400, "invalid_field", std::string("field '") + name + "' must be an integer (minor units)");
    return false;
  }
  out = it->get<int64_t>();
  return true;
}

void create_invoice(const call_ptr& c) {
  auto body = c->json_body();
  if (!body) return;
  auto customer = string_field(c, *body, "customer_id", true);
  if (!customer) return;
  auto currency = string_field(c, *body, "currency", true);
  if (!currency) return;
  crm::create_invoice cmd{*customer, *currency, "", {}, 0};
  if (body->contains("pdf_url") && !(*body)["pdf_url"].is_null()) {
    auto url = string_field(c, *body, "pdf_url", false);
    if (!url) return;
    cmd.pdf_url = *url;
  }
  if (body->contains("due_at") && !(*body)["due_at"].is_null()) {
    auto due = string_field(c, *body, "due_at", false);
    if (!due) return;
    if (!parse_rfc3339(*due, cmd.due_us))
      return c->error(400, "invalid_field", "field 'due_at' must be an RFC 3339 time with an offset");
  }
  auto lines = body->find("lines");
  if (lines == body->end() || !lines->is_array())
    return c->error(400, "invalid_field", "field 'lines' must be an array of {description, quantity, unit_amount}");
  for (auto& l : *lines) {
    if (!l.is_object()) return c->error(400, "invalid_field", "field 'lines' must hold objects");
    crm::invoice_line line;
    auto d = l.find("description");
    if (d == l.end() || !d->is_string()) return c->error(400, "invalid_field", "field 'lines.description' is required");
    line.description = d->get<std::string>();
    if (!int_field(c, l, "quantity", line.quantity, false) || !int_field(c, l, "unit_amount", line.unit_amount, true))
      return;
    cmd.lines.push_back(std::move(line));
  }
  c->ctx->deps.rt.tenant_command(c->tenant, std::move(cmd), c->who(), c->answer(201, saved));
}

// Asks Stripe for a PaymentIntent for the invoice's total (on the I/O pool:
// a blocking HTTPS call) and answers its client secret. The idempotency key
// is the tenant and invoice, so a retried call never makes a second charge.
void payment_intent(const call_ptr& c) {
  if (c->ctx->opts.stripe_secret_key.empty())
    return c->error(503, "stripe_not_configured", "STRIPE_SECRET_KEY is not set", {{"Retry-After", "60"}});
  c->after_own_writes([c] {
    std::string id = c->params["id"];
    auto d = views::get_document(c->ctx->deps.views, c->tenant, "invoice", id);
    if (!d) return c->fail(d.error());
    if (!*d) return c->error(404, "invoice_not_found", "no invoice '" + id + "'");
    auto inv = json::parse(**d, nullptr, false);
    std::string st = inv.value("status", "");
    if (st != "pending" && st != "overdue")
      return c->error(409, "invalid_transition", "invoice " + id + " is " + st + ": nothing to pay");
    connectors::payment_intent_request r;
    r.amount = inv.value("total", int64_t(0));
    r.currency = inv.value("currency", "");
    for (auto& ch : r.currency) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    r.metadata = {{"invoice_id", id}, {"tenant_id", c->tenant}};
    r.idempotency_key = "crmd-" + c->tenant + "-" + id;
    bool queued = c->ctx->io_pool->try_submit([c, r, id] {
      connectors::stripe_options o{c->ctx->opts.stripe_api_base, c->ctx->opts.stripe_secret_key, 10000};
      auto pi = connectors::create_payment_intent(o, r);
      // The outcome is an event either way; the answer waits for it.
      crm::record_payment_intent rec{id, "stripe", pi ? pi->id : "", pi ? "" : pi.error().message(), r.currency,
                                     r.amount};
      c->ctx->deps.rt.tenant_command(c->tenant, std::move(rec), c->who(), [c, pi](result<command_ok> done) {
        if (!done) return c->fail(done.error());
        c->ctx->note_position(c->principal_key(), done->position);
        if (!pi) {
          int code = pi.error().code() == errc::invalid_argument ? 402 : 502;
          return c->error(code, pi.error().reason(), pi.error().message());
        }
        c->send_json(200, {{"ok", true}, {"payment_intent_id", pi->id}, {"client_secret", pi->client_secret},
                           {"amount", pi->amount}, {"currency", pi->currency}, {"position", done->position}});
      });
    });
    if (!queued) c->error(503, "busy", "crmd is busy; retry shortly", {{"Retry-After", "1"}});
  });
}

// Stripe's webhook: signature first (400 otherwise, and limited per address
// when it keeps failing), then payment_intent.succeeded marks the invoice
// paid. A redelivered event changes nothing. Other event types: 200, ignored.
void stripe_webhook(const call_ptr& c) {
  auto& o = c->ctx->opts;
  auto verdict = connectors::verify_stripe_signature(c->req.header("Stripe-Signature"), c->req.body,
                                                     o.stripe_webhook_secret, static_cast<int64_t>(std::time(nullptr)));
  if (o.stripe_webhook_secret.empty() || !verdict)
    return c->reject_signature(400, R"({"ok":false,"error":"invalid_signature","message":"bad Stripe-Signature"})",
                               "application/json; charset=utf-8");
  auto ev = json::parse(c->req.body, nullptr, false);
  if (!ev.is_object() || !ev.contains("id") || !ev["id"].is_string() || !ev.contains("type") || !ev["type"].is_string())
    return c->error(400, "invalid_json", "not a Stripe event");
  if (ev["type"] != "payment_intent.succeeded") return c->send_json(200, {{"ok", true}, {"received", true}});
  auto obj = ev.value("/data/object"_json_pointer, json::object());
  auto meta = obj.value("metadata", json::object());
  if (!obj.is_object() || !meta.is_object() || !meta.contains("tenant_id") || !meta.contains("invoice_id") ||
      !meta["tenant_id"].is_string() || !meta["invoice_id"].is_string() || !obj.contains("amount") ||
      !obj["amount"].is_number_integer() || !obj.contains("currency") || !obj["currency"].is_string())
    return c->error(400, "invalid_field", "payment_intent.succeeded without amount, currency and crmd metadata");
  auto tenant = c->ctx->deps.rt.resolve_tenant(meta["tenant_id"].get<std::string>());
  if (!tenant) return c->error(400, "tenant_not_found", "no tenant for this payment");
  std::string currency = obj["currency"];
  for (auto& ch : currency) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  crm::record_payment cmd{meta["invoice_id"], "stripe", obj.value("id", ""), ev["id"], currency,
                          obj["amount"].get<int64_t>()};
  event_metadata who = c->who();
  who.causer = "stripe";
  who.causation_id = ev["id"];
  c->ctx->deps.rt.tenant_command(*tenant, std::move(cmd), who, [c](result<command_ok> r) {
    if (!r && r.error().code() != errc::conflict && r.error().code() != errc::not_found) return c->fail(r.error());
    // A payment crmd cannot apply is still acknowledged (Stripe would retry
    // for days); it is logged for people to look at.
    if (!r) std::fprintf(stderr, "crmd stripe: payment not recorded: %s\n", r.error().message().c_str());
    c->send_json(200, {{"ok", true}, {"received", true}, {"recorded", static_cast<bool>(r)}});
  });
}

}  // namespace

void add_document_routes(route_list& r) {
  r.push_back({"GET", "/api/contracts", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) { list(c, "contract", "customer_id"); }});
  r.push_back({"POST", "/api/contracts", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) {
    auto body = c->json_body();
    if (!body) return;
    auto customer = string_field(c, *body, "customer_id", true);
    if (!customer) return;
    auto title = string_field(c, *body, "title", true);
    if (!title) return;
    std::string url;
    if (body->contains("document_url") && !(*body)["document_url"].is_null()) {
      auto u = string_field(c, *body, "document_url", false);
      if (!u) return;
      url = *u;
    }
    c->ctx->deps.rt.tenant_command(c->tenant, crm::create_contract{*customer, *title, url}, c->who(), c->answer(201, saved));
  }});
  r.push_back({"GET", "/api/contracts/:id", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) { get(c, "contract"); }});
  r.push_back({"POST", "/api/contracts/:id/send", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) { move(c, "sent"); }});
  r.push_back({"POST", "/api/contracts/:id/sign", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) { move(c, "signed"); }});
  r.push_back({"POST", "/api/contracts/:id/cancel", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) { move(c, "cancelled"); }});
  r.push_back({"POST", "/api/contracts/:id/signatures", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) {
    auto body = c->json_body();
    if (!body) return;
    auto name = string_field(c, *body, "signer_name", true);
    if (!name) return;
    auto email = string_field(c, *body, "signer_email", true);
    if (!email) return;
    auto sha = string_field(c, *body, "document_sha256", true);
    if (!sha) return;
    crm::record_signature cmd{c->params["id"], *name, *email, *sha, c->client, c->req.header("User-Agent")};
    c->ctx->deps.rt.tenant_command(c->tenant, std::move(cmd), c->who(), c->answer(201, saved));
  }});
  r.push_back({"GET", "/api/signatures", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) { list(c, "signature", "contract_id"); }});

  r.push_back({"GET", "/api/invoices", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) { list(c, "invoice", "customer_id"); }});
  r.push_back({"POST", "/api/invoices", scope::tenant, perm::crm_write, crm_module, create_invoice});
  r.push_back({"GET", "/api/invoices/:id", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) { get(c, "invoice"); }});
  r.push_back({"POST", "/api/invoices/:id/void", scope::tenant, perm::crm_delete, crm_module, [](const call_ptr& c) {
    c->ctx->deps.rt.tenant_command(c->tenant, crm::void_invoice{c->params["id"]}, c->who(), c->answer(200, saved));
  }});
  r.push_back({"POST", "/api/invoices/:id/payment_intent", scope::tenant, perm::crm_write, crm_module, payment_intent});
  r.push_back({"POST", "/webhook/stripe", scope::open, {}, {}, stripe_webhook});

  r.push_back({"GET", "/api/crm/deals", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) { list(c, "deal", "customer_id"); }});
  r.push_back({"GET", "/api/crm/deals/:id", scope::tenant, perm::crm_read, crm_module, [](const call_ptr& c) { get(c, "deal"); }});
  r.push_back({"POST", "/api/crm/deals", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) {
    auto body = c->json_body();
    if (!body) return;
    auto contact = string_field(c, *body, "customer_id", true);
    if (!contact) return;
    auto title = string_field(c, *body, "title", true);
    if (!title) return;
    auto currency = string_field(c, *body, "currency", true);
    if (!currency) return;
    crm::create_deal cmd{*contact, *title, *currency, {}, 0, 0};
    if (!int_field(c, *body, "amount", cmd.amount, false)) return;
    if (body->contains("stage") && !(*body)["stage"].is_null()) {
      auto st = string_field(c, *body, "stage", false);
      if (!st) return;
      cmd.stage = *st;
    }
    if (body->contains("expected_close_at") && !(*body)["expected_close_at"].is_null()) {
      auto t = string_field(c, *body, "expected_close_at", false);
      if (!t) return;
      if (!parse_rfc3339(*t, cmd.expected_close_us))
        return c->error(400, "invalid_field", "field 'expected_close_at' must be an RFC 3339 time with an offset");
    }
    c->ctx->deps.rt.tenant_command(c->tenant, std::move(cmd), c->who(), c->answer(201, saved));
  }});
  // Any of title, amount, currency, stage, expected_close_at; "status": won | lost closes it.
  r.push_back({"PATCH", "/api/crm/deals/:id", scope::tenant, perm::crm_write, crm_module, [](const call_ptr& c) {
    auto body = c->json_body();
    if (!body) return;
    crm::update_deal cmd;
    cmd.id = c->params["id"];
    for (auto [name, out] : {std::pair{"title", &cmd.title}, std::pair{"currency", &cmd.currency},
                             std::pair{"stage", &cmd.stage}, std::pair{"status", &cmd.outcome}}) {
      if (!body->contains(name) || (*body)[name].is_null()) continue;
      auto v = string_field(c, *body, name, false);
      if (!v) return;
      *out = *v;
    }
    if (body->contains("amount") && !(*body)["amount"].is_null()) {
      int64_t a = 0;
      if (!int_field(c, *body, "amount", a, true)) return;
      cmd.amount = a;
    }
    if (body->contains("expected_close_at") && !(*body)["expected_close_at"].is_null()) {
      auto t = string_field(c, *body, "expected_close_at", false);
      if (!t) return;
      int64_t us = 0;
      if (!parse_rfc3339(*t, us))
        return c->error(400, "invalid_field", "field 'expected_close_at' must be an RFC 3339 time with an offset");
      cmd.expected_close_us = us;
    }
    c->ctx->deps.rt.tenant_command(c->tenant, std::move(cmd), c->who(), c->answer(200, saved));
  }});
}

}  // namespace crmd::http
