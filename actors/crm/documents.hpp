// Contracts (with signatures) and invoices of one tenant, as its aggregate
// keeps them: statuses and what payments need, not the documents' content.
//   contracts: draft -> sent -> signed; draft|sent -> cancelled; else 409.
//   invoices:  pending -> paid | overdue (timer at the due date) | void;
//              overdue -> paid | void. A paid invoice records no second
//              payment, so a redelivered provider event changes nothing.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "actors/crm/contacts.hpp"
#include "events/status.hpp"
#include "events/tenant_events.hpp"

namespace crmd::crm {

struct contract_state {
  static constexpr const char* type_name = "tenant_contract_state";
  std::string customer, status = "draft";
  template <class F> void fields(F&& f) {
    f("customer", customer);
    f("status", status);
  }
};

struct invoice_state {
  static constexpr const char* type_name = "tenant_invoice_state";
  std::string customer, status = "pending", currency;
  int64_t total = 0;
  template <class F> void fields(F&& f) {
    f("customer", customer);
    f("status", status);
    f("currency", currency);
    f("total", total);
  }
};

struct documents {
  std::map<uint64_t, contract_state> contracts;
  std::map<uint64_t, invoice_state> invoices;
  uint64_t next_contract = 1, next_invoice = 1, next_signature = 1;
  std::set<uint64_t> dirty_contracts, dirty_invoices;
};

std::optional<uint64_t> parse_number(const std::string& id, char prefix);
std::string invoice_timer_id(const std::string& invoice);

struct create_contract {
  std::string customer_id, title, document_url;
};
struct move_contract {
  std::string id, to;  // sent | signed | cancelled
};
struct record_signature {
  std::string contract_id, signer_name, signer_email, document_sha256, client_address, user_agent;
};
struct invoice_line {
  std::string description;
  int64_t quantity = 1;
  int64_t unit_amount = 0;  // minor units
};
struct create_invoice {
  std::string customer_id, currency, pdf_url;
  std::vector<invoice_line> lines;
  int64_t due_us = 0;
};
struct void_invoice {
  std::string id;
};
// The outcome of a payment-intent call, to be recorded (success or failure).
struct record_payment_intent {
  std::string invoice_id, provider, payment_id, error, currency;
  int64_t amount = 0;
};
struct record_payment {
  std::string invoice_id, provider, payment_id, provider_event_id, currency;
  int64_t amount = 0;
};

// Rejections: invalid_field, contact_not_found, contract_not_found,
// invoice_not_found, invalid_transition (409), amount_mismatch (409).
result<std::vector<ev::tenant_event>> decide(const documents& d, const contacts& c, const create_contract& cmd);
result<std::vector<ev::tenant_event>> decide(const documents& d, const move_contract& cmd);
result<std::vector<ev::tenant_event>> decide(const documents& d, const record_signature& cmd);
result<std::vector<ev::tenant_event>> decide(const documents& d, const contacts& c, const create_invoice& cmd);
result<std::vector<ev::tenant_event>> decide(const documents& d, const void_invoice& cmd);
result<std::vector<ev::tenant_event>> decide(const documents& d, const record_payment_intent& cmd);
// Empty when the invoice is paid already (a redelivered webhook).
result<std::vector<ev::tenant_event>> decide(const documents& d, const record_payment& cmd);
std::vector<ev::tenant_event> on_timer(const documents& d, const std::string& timer_id);

void apply(documents& d, const ev::tenant_event& e);

}  // namespace crmd::crm
