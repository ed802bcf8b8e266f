#include "actors/crm/documents.hpp"

#include <limits>

namespace crmd::crm {
namespace {

using events = std::vector<ev::tenant_event>;

status invalid(const std::string& field, const std::string& why) {
  return {errc::invalid_argument, "field '" + field + "' " + why, "invalid_field"};
}
status transition(const std::string& what, const std::string& from, const std::string& to) {
  return {errc::conflict, what + " is " + from + ": it cannot become " + to, "invalid_transition"};
}

template <class Map>
auto* find(const Map& m, const std::string& id, char prefix) {
  auto n = parse_number(id, prefix);
  using value = const typename Map::mapped_type;
  if (!n) return static_cast<value*>(nullptr);
  auto it = m.find(*n);
  return it == m.end() ? static_cast<value*>(nullptr) : &it->second;
}

status customer_ok(const contacts& c, const std::string& id) {
  if (id.empty()) return invalid("customer_id", "is required");
  if (!c.live(id)) return {errc::not_found, "no contact '" + id + "'", "contact_not_found"};
  return status::ok();
}

bool hex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::optional<uint64_t> parse_number(const std::string& id, char prefix) {
  if (id.size() < 2 || id.size() > 20 || id[0] != prefix || id[1] == '0') return std::nullopt;
  if (id.find_first_not_of("0123456789", 1) != std::string::npos) return std::nullopt;
  return std::stoull(id.substr(1));
}

std::string invoice_timer_id(const std::string& invoice) { return "invoice:" + invoice; }

result<events> decide(const documents& d, const contacts& c, const create_contract& cmd) {
  if (auto s = customer_ok(c, cmd.customer_id); !s) return s;
  if (cmd.title.empty() || cmd.title.size() > 300) return invalid("title", "must be 1..300 bytes");
  if (cmd.document_url.size() > 2000) return invalid("document_url", "is longer than 2000 bytes");
  return events{ev::contract_created{"C" + std::to_string(d.next_contract), cmd.customer_id, cmd.title,
                                     cmd.document_url}};
}

result<events> decide(const documents& d, const move_contract& cmd) {
  auto* k = find(d.contracts, cmd.id, 'C');
  if (!k) return status{errc::not_found, "no contract '" + cmd.id + "'", "contract_not_found"};
  bool ok = (cmd.to == "sent" && k->status == "draft") || (cmd.to == "signed" && k->status == "sent") ||
            (cmd.to == "cancelled" && (k->status == "draft" || k->status == "sent"));
  if (!ok) return transition("contract " + cmd.id, k->status, cmd.to);
  return events{ev::contract_status_changed{cmd.id, cmd.to}};
}

result<events> decide(const documents& d, const record_signature& cmd) {
  auto* k = find(d.contracts, cmd.contract_id, 'C');
  if (!k) return status{errc::not_found, "no contract '" + cmd.contract_id + "'", "contract_not_found"};
  if (k->status != "sent" && k->status != "signed")
    return status{errc::conflict, "contract " + cmd.contract_id + " is " + k->status + ": nothing to sign",
                  "invalid_transition"};
  if (cmd.signer_name.empty() || cmd.signer_name.size() > 200) return invalid("signer_name", "must be 1..200 bytes");
  if (cmd.signer_email.size() > 254 || cmd.signer_email.find('@') == std::string::npos)
    return invalid("signer_email", "must be an e-mail address");
  if (!hex64(cmd.document_sha256)) return invalid("document_sha256", "must be 64 lower-case hex digits");
  return events{ev::signature_recorded{"S" + std::to_string(d.next_signature), cmd.contract_id, k->customer,
                                       cmd.signer_name, cmd.signer_email, cmd.document_sha256,
                                       cmd.client_address.substr(0, 64), cmd.user_agent.substr(0, 500)}};
}

result<events> decide(const documents& d, const contacts& c, const create_invoice& cmd) {
  if (auto s = customer_ok(c, cmd.customer_id); !s) return s;
  if (cmd.currency.size() != 3 || cmd.currency.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos)
    return invalid("currency", "must be an ISO 4217 code such as ILS or USD");
  if (cmd.lines.empty() || cmd.lines.size() > 500) return invalid("lines", "must hold 1..500 lines");
  if (cmd.due_us < 0) return invalid("due_at", "must be a time");
  if (cmd.pdf_url.size() > 2000) return invalid("pdf_url", "is longer than 2000 bytes");
  ev::invoice_created e{"I" + std::to_string(d.next_invoice), cmd.customer_id, cmd.currency, cmd.pdf_url,
                        {}, {}, {}, 0, cmd.due_us};
  // Totals are computed here, never taken from the client; overflow is refused.
  constexpr int64_t cap = std::numeric_limits<int64_t>::max() / 4;
  for (auto& l : cmd.lines) {
    if (l.description.empty() || l.description.size() > 500) return invalid("lines.description", "must be 1..500 bytes");
    if (l.quantity <= 0 || l.quantity > 1'000'000) return invalid("lines.quantity", "must be 1..1000000");
    if (l.unit_amount < 0 || l.unit_amount > cap / l.quantity) return invalid("lines.unit_amount", "is out of range");
    int64_t line = l.quantity * l.unit_amount;
    if (e.total > cap - line) return invalid("lines", "add up to more than crmd can hold");
    e.total += line;
    e.line_descriptions.push_back(l.description);
    e.line_quantities.push_back(l.quantity);
    e.line_unit_amounts.push_back(l.unit_amount);
  }
  events out{e};
  if (cmd.due_us > 0) out.push_back(ev::timer_set{invoice_timer_id(e.invoice_id), cmd.due_us, "invoice_overdue"});
  return out;
}

result<events> decide(const documents& d, const void_invoice& cmd) {
  auto* i = find(d.invoices, cmd.id, 'I');
  if (!i) return status{errc::not_found, "no invoice '" + cmd.id + "'", "invoice_not_found"};
  if (i->status == "paid" || i->status == "void") return transition("invoice " + cmd.id, i->status, "void");
  return events{ev::invoice_status_changed{cmd.id, "void"}};
}

result<events> decide(const documents& d, const record_payment_intent& cmd) {
  if (!find(d.invoices, cmd.invoice_id, 'I'))
    return status{errc::not_found, "no invoice '" + cmd.invoice_id + "'", "invoice_not_found"};
  return events{ev::payment_intent_recorded{cmd.invoice_id, cmd.provider, cmd.payment_id, cmd.error.substr(0, 500),
                                            cmd.amount, cmd.currency}};
}

result<events> decide(const documents& d, const record_payment& cmd) {
  auto* i = find(d.invoices, cmd.invoice_id, 'I');
  if (!i) return status{errc::not_found, "no invoice '" + cmd.invoice_id + "'", "invoice_not_found"};
  if (i->status == "paid") return events{};  // paid already, by another event of the same payment
  if (i->status == "void") return transition("invoice " + cmd.invoice_id, i->status, "paid");
  if (cmd.amount != i->total || cmd.currency != i->currency)
    return status{errc::conflict, "the payment does not match the invoice's total", "amount_mismatch"};
  return events{ev::invoice_paid{cmd.invoice_id, cmd.provider, cmd.payment_id, cmd.provider_event_id, cmd.amount,
                                 cmd.currency}};
}

std::vector<ev::tenant_event> on_timer(const documents& d, const std::string& timer_id) {
  if (timer_id.rfind("invoice:", 0) != 0) return {};
  std::string id = timer_id.substr(8);
  auto* i = find(d.invoices, id, 'I');
  if (!i || i->status != "pending") return {};
  return {ev::invoice_status_changed{id, "overdue"}};
}

void apply(documents& d, const ev::tenant_event& e) {
  if (auto* x = std::get_if<ev::contract_created>(&e)) {
    if (auto n = parse_number(x->contract_id, 'C')) {
      d.contracts[*n] = contract_state{x->customer_id, "draft"};
      d.dirty_contracts.insert(*n);
      if (*n >= d.next_contract) d.next_contract = *n + 1;
    }
  } else if (auto* x = std::get_if<ev::contract_status_changed>(&e)) {
    if (auto n = parse_number(x->contract_id, 'C')) {
      d.contracts[*n].status = x->status;
      d.dirty_contracts.insert(*n);
    }
  } else if (auto* x = std::get_if<ev::signature_recorded>(&e)) {
    if (auto n = parse_number(x->signature_id, 'S'); n && *n >= d.next_signature) d.next_signature = *n + 1;
  } else if (auto* x = std::get_if<ev::invoice_created>(&e)) {
    if (auto n = parse_number(x->invoice_id, 'I')) {
      d.invoices[*n] = invoice_state{x->customer_id, "pending", x->currency, x->total};
      d.dirty_invoices.insert(*n);
      if (*n >= d.next_invoice) d.next_invoice = *n + 1;
    }
  } else if (auto* x = std::get_if<ev::invoice_status_changed>(&e)) {
    if (auto n = parse_number(x->invoice_id, 'I')) {
      d.invoices[*n].status = x->status;
      d.dirty_invoices.insert(*n);
    }
  } else if (auto* x = std::get_if<ev::invoice_paid>(&e)) {
    if (auto n = parse_number(x->invoice_id, 'I')) {
      d.invoices[*n].status = "paid";
      d.dirty_invoices.insert(*n);
    }
  }
}

}  // namespace crmd::crm
