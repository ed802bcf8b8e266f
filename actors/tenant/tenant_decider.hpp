// The tenant aggregate (stream "<tenant>/tenant/<tenant>"): for now the
// tenant's AI prompts, each with a version history.
// Pure functions: decide(state, command) -> events or a rejection; apply.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "events/status.hpp"
#include "actors/crm/contacts.hpp"
#include "actors/crm/deals.hpp"
#include "actors/crm/documents.hpp"
#include "actors/crm/work.hpp"
#include "events/tenant_events.hpp"

namespace crmd::tenant {

struct prompt_state {
  static constexpr const char* type_name = "tenant_prompt_state";
  uint32_t version = 0;
  bool deleted = false;
  std::string title, body, kind;
  template <class F> void fields(F&& f) {
    f("version", version);
    f("deleted", deleted);
    f("title", title);
    f("body", body);
    f("kind", kind);
  }
};

struct state {
  static constexpr const char* type_name = "tenant_state";
  std::map<uint64_t, prompt_state> prompts;  // by prompt number (id "p<number>")
  uint64_t next_prompt = 1;
  std::map<std::string, bool> timers;        // timer id -> fired
  // Prompts changed since the last snapshot (not part of the state proper):
  // a snapshot writes only these, so its cost follows the events since the
  // last one, not the size of the tenant.
  std::set<uint64_t> dirty;
  crm::contacts contacts;  // leads and customers
  crm::settings settings;
  crm::work work;          // notes and tasks
  crm::documents docs;     // contracts and invoices
  crm::deals deals;
  template <class F> void fields(F&& f) {
    f("next_prompt", next_prompt);
    f("prompts", prompts);
    f("timers", timers);
    f("contacts", contacts.by_number);
    f("next_contact", contacts.next);
    f("settings", settings);
    f("tasks", work.tasks);
    f("next_task", work.next_task);
    f("next_note", work.next_note);
    f("contracts", docs.contracts);
    f("invoices", docs.invoices);
    f("next_contract", docs.next_contract);
    f("next_invoice", docs.next_invoice);
    f("next_signature", docs.next_signature);
    f("deals", deals.by_number);
    f("pipeline", deals.pipeline);
    f("next_deal", deals.next);
  }
};

// The state without its prompts: one piece of an incremental snapshot.
struct state_header {
  static constexpr const char* type_name = "tenant_state_header";
  uint64_t next_prompt = 1;
  std::map<std::string, bool> timers;
  uint64_t next_contact = 1;
  crm::settings settings;
  uint64_t next_task = 1, next_note = 1;
  uint64_t next_contract = 1, next_invoice = 1, next_signature = 1;
  uint64_t next_deal = 1;
  std::vector<std::string> pipeline;
  template <class F> void fields(F&& f) {
    f("next_prompt", next_prompt);
    f("timers", timers);
    f("next_contact", next_contact);
    f("settings", settings);
    f("next_task", next_task);
    f("next_note", next_note);
    f("next_contract", next_contract);
    f("next_invoice", next_invoice);
    f("next_signature", next_signature);
    f("next_deal", next_deal);
    f("pipeline", pipeline);
  }
};

struct save_prompt {
  std::string title, body;
  std::string kind = "general";
};
// Fields left empty keep their current value.
struct update_prompt {
  std::string prompt_id;
  std::optional<std::string> title, body, kind;
};
struct delete_prompt {
  std::string prompt_id;
};
// Arms a durable timer; the schedule later sends fire_timer.
struct set_timer {
  std::string timer_id;
  int64_t due_us = 0;
  std::string purpose;
};
// Sent by the scheduler; firing twice records nothing the second time.
struct fire_timer {
  std::string timer_id;
};
using command = std::variant<save_prompt, update_prompt, delete_prompt, set_timer, fire_timer, crm::create_contact,
                             crm::update_contact, crm::delete_contact, crm::convert_lead, crm::erase_contact,
                             crm::find_or_create_contact, crm::change_settings, crm::add_note, crm::create_task,
                             crm::complete_task, crm::reopen_task, crm::reschedule_task, crm::create_contract,
                             crm::move_contract, crm::record_signature, crm::create_invoice, crm::void_invoice,
                             crm::record_payment, crm::create_deal, crm::update_deal, crm::set_pipeline,
                             crm::record_payment_intent>;

bool valid_kind(const std::string& kind);
// "p12" -> 12; nullopt for anything else.
std::optional<uint64_t> parse_prompt_id(const std::string& id);
std::string prompt_id(uint64_t number);

// Rejections: errc::invalid_argument (reason invalid_field, naming the field),
// errc::not_found (reason prompt_not_found).
result<std::vector<ev::tenant_event>> decide(const state& s, const command& c);
void apply(state& s, const ev::tenant_event& e);
// What a command that recorded nothing answers with (the contact a
// find_or_create found); empty otherwise.
std::string answer_id(const state& s, const command& c);
// The data subject of an event of `tenant`, or empty.
std::string subject_of(const std::string& tenant, const ev::tenant_event& e);

// Snapshot encoding (cereal portable binary of the state).
std::string encode_state(const state& s);
status decode_state(std::string_view bytes, state& out);
// Incremental snapshots: the header (everything but prompts) and one prompt.
std::string encode_header(const state& s);
status decode_header(std::string_view bytes, state& out);
std::string encode_prompt(const prompt_state& p);
status decode_prompt(std::string_view bytes, prompt_state& out);
std::string encode_contact(const crm::contact_state& c);
status decode_contact(std::string_view bytes, crm::contact_state& out);
std::string encode_task(const crm::task_state& t);
status decode_task(std::string_view bytes, crm::task_state& out);
std::string encode_contract(const crm::contract_state& c);
status decode_contract(std::string_view bytes, crm::contract_state& out);
std::string encode_invoice(const crm::invoice_state& i);
status decode_invoice(std::string_view bytes, crm::invoice_state& out);
std::string encode_deal(const crm::deal_state& d);
status decode_deal(std::string_view bytes, crm::deal_state& out);

}  // namespace crmd::tenant
