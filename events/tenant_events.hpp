// Events of the tenant aggregate (stream "<tenant>/tenant/<tenant>").
//
// Each event is a plain struct in the past tense with a stable `type_name`,
// a `schema_version`, and a `fields` visitor that lists its members once for
// every codec (binary via cereal, JSON for the CLI and API).
//
// The variant is closed and append-only: never reorder or remove an
// alternative, never change a field in place; bump `schema_version` and give
// the type an `upcast` from the old version instead (see codec.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "events/status.hpp"

namespace crmd::ev {

struct tenant_created {
  static constexpr const char* type_name = "tenant_created";
  static constexpr uint16_t schema_version = 1;
  std::string tenant_id;
  std::string name;
  std::vector<std::string> aliases;
  template <class F> void fields(F&& f) {
    f("tenant_id", tenant_id);
    f("name", name);
    f("aliases", aliases);
  }
};

struct tenant_renamed {
  static constexpr const char* type_name = "tenant_renamed";
  static constexpr uint16_t schema_version = 1;
  std::string name;
  template <class F> void fields(F&& f) { f("name", name); }
};

struct prompt_saved {
  static constexpr const char* type_name = "prompt_saved";
  static constexpr uint16_t schema_version = 1;
  std::string prompt_id;
  uint32_t version = 0;
  std::string title;
  std::string body;
  std::string kind;  // call_summary | whatsapp_reply | general
  template <class F> void fields(F&& f) {
    f("prompt_id", prompt_id);
    f("version", version);
    f("title", title);
    f("body", body);
    f("kind", kind);
  }
};

struct prompt_deleted {
  static constexpr const char* type_name = "prompt_deleted";
  static constexpr uint16_t schema_version = 1;
  std::string prompt_id;
  template <class F> void fields(F&& f) { f("prompt_id", prompt_id); }
};

// Subject-bound: appended with subject "<tenant>/lead/<lead_id>", so the
// personal data in it is encrypted under that lead's key.
struct lead_created {
  static constexpr const char* type_name = "lead_created";
  static constexpr uint16_t schema_version = 1;
  std::string lead_id;
  std::string name;
  std::string phone;  // E.164
  std::string email;
  std::string source; // manual | phone | whatsapp | import
  template <class F> void fields(F&& f) {
    f("lead_id", lead_id);
    f("name", name);
    f("phone", phone);
    f("email", email);
    f("source", source);
  }
};

struct note_added {
  static constexpr const char* type_name = "note_added";
  static constexpr uint16_t schema_version = 1;
  std::string note_id;
  std::string about_id;  // the lead or customer
  std::string text;
  template <class F> void fields(F&& f) {
    f("note_id", note_id);
    f("about_id", about_id);
    f("text", text);
  }
};

// A durable timer of the tenant: the schedule wakes the tenant actor at
// `due_us` (spawning it if it was stopped) and it records timer_fired once.
struct timer_set {
  static constexpr const char* type_name = "timer_set";
  static constexpr uint16_t schema_version = 1;
  std::string timer_id;
  int64_t due_us = 0;
  std::string purpose;
  template <class F> void fields(F&& f) {
    f("timer_id", timer_id);
    f("due_us", due_us);
    f("purpose", purpose);
  }
};

struct timer_fired {
  static constexpr const char* type_name = "timer_fired";
  static constexpr uint16_t schema_version = 1;
  std::string timer_id;
  template <class F> void fields(F&& f) { f("timer_id", timer_id); }
};

// A lead's (or customer's) changed fields; absent ones keep their value.
// Subject-bound like lead_created.
struct lead_updated {
  static constexpr const char* type_name = "lead_updated";
  static constexpr uint16_t schema_version = 1;
  std::string lead_id;
  std::optional<std::string> name, phone, email, status;
  template <class F> void fields(F&& f) {
    f("lead_id", lead_id);
    f("name", name);
    f("phone", phone);
    f("email", email);
    f("status", status);
  }
};

// Soft: gone from lists, kept in history; its phone number is free again.
struct lead_deleted {
  static constexpr const char* type_name = "lead_deleted";
  static constexpr uint16_t schema_version = 1;
  std::string lead_id;
  template <class F> void fields(F&& f) { f("lead_id", lead_id); }
};

// The lead becomes a customer under the same id, keeping its history.
struct lead_converted {
  static constexpr const char* type_name = "lead_converted";
  static constexpr uint16_t schema_version = 1;
  std::string lead_id;
  template <class F> void fields(F&& f) { f("lead_id", lead_id); }
};

// The tenant's own settings (the full set after the change).
//
// Version 2 added whatsapp_provider; version 1 payloads read back with
// "baileys", the only provider there was.
struct settings_changed {
  static constexpr const char* type_name = "settings_changed";
  static constexpr uint16_t schema_version = 2;
  std::string default_region;  // ISO 3166 alpha-2, for phone numbers without +
  std::string language;        // BCP 47, e.g. he, en
  std::string time_zone;       // IANA, e.g. Asia/Jerusalem
  std::string whatsapp_provider = "baileys";  // baileys (the QR bridge) | cloud (Meta's Cloud API)
  template <class F> void fields(F&& f) {
    f("default_region", default_region);
    f("language", language);
    f("time_zone", time_zone);
    f("whatsapp_provider", whatsapp_provider);
  }
  static result<settings_changed> upcast(uint16_t from_version, std::string_view payload);
};

// The layout settings_changed was written with before version 2.
struct settings_changed_v1 {
  static constexpr const char* type_name = "settings_changed";
  static constexpr uint16_t schema_version = 1;
  std::string default_region, language, time_zone;
  template <class F> void fields(F&& f) {
    f("default_region", default_region);
    f("language", language);
    f("time_zone", time_zone);
  }
};

// A person (a lead or customer) was erased on request: their key is
// destroyed right after this event, so every sealed event about them reads
// back as erased, and the tenant forgets their phone number. Names nobody
// but the id: the record of the erasure must not undo it.
struct contact_erased {
  static constexpr const char* type_name = "contact_erased";
  static constexpr uint16_t schema_version = 1;
  std::string lead_id;
  template <class F> void fields(F&& f) { f("lead_id", lead_id); }
};

// The tenant's WhatsApp Cloud API (Graph) token was set or removed. The
// token itself never enters the log: it is sealed in the secret store
// (storage/secret_store.hpp) in the same atomic write as this event.
struct whatsapp_token_changed {
  static constexpr const char* type_name = "whatsapp_token_changed";
  static constexpr uint16_t schema_version = 1;
  bool removed = false;
  template <class F> void fields(F&& f) { f("removed", removed); }
};

// A task about a contact (lead or customer), due at a time or not.
struct task_created {
  static constexpr const char* type_name = "task_created";
  static constexpr uint16_t schema_version = 1;
  std::string task_id;
  std::string about_id;  // the contact, or empty
  std::string title;
  int64_t due_us = 0;    // 0: no due time
  template <class F> void fields(F&& f) {
    f("task_id", task_id);
    f("about_id", about_id);
    f("title", title);
    f("due_us", due_us);
  }
};

struct task_completed {
  static constexpr const char* type_name = "task_completed";
  static constexpr uint16_t schema_version = 1;
  std::string task_id;
  template <class F> void fields(F&& f) { f("task_id", task_id); }
};

struct task_reopened {
  static constexpr const char* type_name = "task_reopened";
  static constexpr uint16_t schema_version = 1;
  std::string task_id;
  template <class F> void fields(F&& f) { f("task_id", task_id); }
};

// A new due time: moved (`snoozed` false) or snoozed until then.
struct task_rescheduled {
  static constexpr const char* type_name = "task_rescheduled";
  static constexpr uint16_t schema_version = 1;
  std::string task_id;
  int64_t due_us = 0;
  bool snoozed = false;
  template <class F> void fields(F&& f) {
    f("task_id", task_id);
    f("due_us", due_us);
    f("snoozed", snoozed);
  }
};

// Emitted once when an open task reaches its due time (durable schedule).
struct task_due {
  static constexpr const char* type_name = "task_due";
  static constexpr uint16_t schema_version = 1;
  std::string task_id;
  int64_t due_us = 0;
  template <class F> void fields(F&& f) {
    f("task_id", task_id);
    f("due_us", due_us);
  }
};

// Contracts: draft -> sent -> signed; draft|sent -> cancelled.
struct contract_created {
  static constexpr const char* type_name = "contract_created";
  static constexpr uint16_t schema_version = 1;
  std::string contract_id, customer_id, title, document_url;
  template <class F> void fields(F&& f) {
    f("contract_id", contract_id);
    f("customer_id", customer_id);
    f("title", title);
    f("document_url", document_url);
  }
};

// The contract moved to `status` (sent, signed or cancelled).
struct contract_status_changed {
  static constexpr const char* type_name = "contract_status_changed";
  static constexpr uint16_t schema_version = 1;
  std::string contract_id, status;
  template <class F> void fields(F&& f) {
    f("contract_id", contract_id);
    f("status", status);
  }
};

// Evidence of a signature; subject-bound to the customer.
struct signature_recorded {
  static constexpr const char* type_name = "signature_recorded";
  static constexpr uint16_t schema_version = 1;
  std::string signature_id, contract_id, customer_id, signer_name, signer_email, document_sha256, client_address,
      user_agent;
  template <class F> void fields(F&& f) {
    f("signature_id", signature_id);
    f("contract_id", contract_id);
    f("customer_id", customer_id);
    f("signer_name", signer_name);
    f("signer_email", signer_email);
    f("document_sha256", document_sha256);
    f("client_address", client_address);
    f("user_agent", user_agent);
  }
};

// Amounts are integers in minor units of `currency` (ISO 4217, upper case).
struct invoice_created {
  static constexpr const char* type_name = "invoice_created";
  static constexpr uint16_t schema_version = 1;
  std::string invoice_id, customer_id, currency, pdf_url;
  std::vector<std::string> line_descriptions;
  std::vector<int64_t> line_quantities, line_unit_amounts;
  int64_t total = 0;
  int64_t due_us = 0;
  template <class F> void fields(F&& f) {
    f("invoice_id", invoice_id);
    f("customer_id", customer_id);
    f("currency", currency);
    f("pdf_url", pdf_url);
    f("line_descriptions", line_descriptions);
    f("line_quantities", line_quantities);
    f("line_unit_amounts", line_unit_amounts);
    f("total", total);
    f("due_us", due_us);
  }
};

// The invoice moved to `status` (overdue, void).
struct invoice_status_changed {
  static constexpr const char* type_name = "invoice_status_changed";
  static constexpr uint16_t schema_version = 1;
  std::string invoice_id, status;
  template <class F> void fields(F&& f) {
    f("invoice_id", invoice_id);
    f("status", status);
  }
};

// A payment settled the invoice (Stripe: the payment intent and event ids).
struct invoice_paid {
  static constexpr const char* type_name = "invoice_paid";
  static constexpr uint16_t schema_version = 1;
  std::string invoice_id, provider, payment_id, provider_event_id;
  int64_t amount = 0;
  std::string currency;
  template <class F> void fields(F&& f) {
    f("invoice_id", invoice_id);
    f("provider", provider);
    f("payment_id", payment_id);
    f("provider_event_id", provider_event_id);
    f("amount", amount);
    f("currency", currency);
  }
};

// Deals: an amount expected from a contact, moving through the tenant's
// pipeline stages until won or lost.
struct deal_created {
  static constexpr const char* type_name = "deal_created";
  static constexpr uint16_t schema_version = 1;
  std::string deal_id, contact_id, title, currency, stage;
  int64_t amount = 0;
  int64_t expected_close_us = 0;
  template <class F> void fields(F&& f) {
    f("deal_id", deal_id);
    f("contact_id", contact_id);
    f("title", title);
    f("currency", currency);
    f("stage", stage);
    f("amount", amount);
    f("expected_close_us", expected_close_us);
  }
};

struct deal_updated {
  static constexpr const char* type_name = "deal_updated";
  static constexpr uint16_t schema_version = 1;
  std::string deal_id;
  std::optional<std::string> title, currency, stage;
  std::optional<int64_t> amount, expected_close_us;
  template <class F> void fields(F&& f) {
    f("deal_id", deal_id);
    f("title", title);
    f("currency", currency);
    f("stage", stage);
    f("amount", amount);
    f("expected_close_us", expected_close_us);
  }
};

struct deal_closed {
  static constexpr const char* type_name = "deal_closed";
  static constexpr uint16_t schema_version = 1;
  std::string deal_id;
  bool won = false;
  template <class F> void fields(F&& f) {
    f("deal_id", deal_id);
    f("won", won);
  }
};

// The tenant's deal pipeline: its stages, in order.
struct pipeline_changed {
  static constexpr const char* type_name = "pipeline_changed";
  static constexpr uint16_t schema_version = 1;
  std::vector<std::string> stages;
  template <class F> void fields(F&& f) { f("stages", stages); }
};

// The outcome of asking a payment provider for a payment intent: success
// (payment_id set) or failure (error set). Never silence.
struct payment_intent_recorded {
  static constexpr const char* type_name = "payment_intent_recorded";
  static constexpr uint16_t schema_version = 1;
  std::string invoice_id, provider, payment_id, error;
  int64_t amount = 0;
  std::string currency;
  template <class F> void fields(F&& f) {
    f("invoice_id", invoice_id);
    f("provider", provider);
    f("payment_id", payment_id);
    f("error", error);
    f("amount", amount);
    f("currency", currency);
  }
};

using tenant_event = std::variant<tenant_created, tenant_renamed, prompt_saved, prompt_deleted,
                                  lead_created, note_added, timer_set, timer_fired, lead_updated, lead_deleted,
                                  lead_converted, settings_changed, task_created, task_completed, task_reopened,
                                  task_rescheduled, task_due, contract_created, contract_status_changed,
                                  signature_recorded, invoice_created, invoice_status_changed, invoice_paid,
                                  deal_created, deal_updated, deal_closed, pipeline_changed,
                                  payment_intent_recorded, whatsapp_token_changed, contact_erased>;


}  // namespace crmd::ev
