// history_generator: notes and tasks, contracts, signatures, invoices,
// payments and deals of the tenant aggregate (stream "<t>/tenant/<t>").
#include "events/tenant_events.hpp"
#include "tests/projections/history_model.hpp"

namespace crmd::test {
namespace {

std::string task_timer(uint64_t n, uint32_t generation) {
  return "task:T" + std::to_string(n) + ":" + std::to_string(generation);
}

}  // namespace

bool history_generator::model::work_step(tenant_m& t) {
  enum { note, create, complete, reopen, reschedule, due };
  int kind = weighted({30, 25, 15, 5, 10, 10});
  std::string me = t.users.empty() ? "operator" : pick(t.users).id;
  if (kind == note || kind == create) {
    // A note's or task's text is about a person: sealed with them.
    uint64_t n = chance(0.75) ? some_contact(t) : 0;
    std::string about = n ? "L" + std::to_string(n) : "", subject = n ? t.subject_of(about) : "";
    begin(t.tenant_stream(), me);
    if (kind == note) {
      add(ev::tenant_event{ev::note_added{"N" + std::to_string(++t.notes), about, text(6)}}, subject);
      return true;
    }
    uint64_t task = t.tasks.size() + 1;
    int64_t due_us = chance(0.6) ? now_ish() + int64_t(below(14 * 24)) * 3'600'000'000 : 0;
    add(ev::tenant_event{ev::task_created{"T" + std::to_string(task), about, text(4), due_us}}, subject);
    if (due_us) add(ev::tenant_event{ev::timer_set{task_timer(task, 1), due_us, "task"}});
    t.tasks.push_back(task_m{about});
    return true;
  }
  if (t.tasks.empty()) return false;
  uint64_t n = below(t.tasks.size()) + 1;
  auto& task = t.tasks[n - 1];
  std::string id = "T" + std::to_string(n);
  if (kind == reopen ? task.open : !task.open) return false;
  switch (kind) {
    case complete:
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::task_completed{id}});
      task.open = false;
      return true;
    case reopen:
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::task_reopened{id}});
      task.open = true;
      return true;
    case reschedule: {
      // Moving bumps the generation: only the newest timer makes it due.
      int64_t due_us = now_ish() + int64_t(below(72) + 1) * 3'600'000'000;
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::task_rescheduled{id, due_us, chance(0.5)}});
      add(ev::tenant_event{ev::timer_set{task_timer(n, ++task.generation), due_us, "task"}});
      return true;
    }
    default:
      begin(t.tenant_stream(), "system");
      add(ev::tenant_event{ev::timer_fired{task_timer(n, task.generation)}});
      add(ev::tenant_event{ev::task_due{id, now_ish()}});
      return true;
  }
}

bool history_generator::model::documents_step(tenant_m& t) {
  enum { contract, contract_move, signature, invoice, invoice_move, intent, paid, deal, deal_edit, deal_close };
  int kind = weighted({15, 12, 8, 15, 8, 6, 8, 10, 10, 5});
  std::string me = t.users.empty() ? "operator" : pick(t.users).id;
  // Contracts and invoices are not sealed: they outlive an erased customer.
  auto customer = [&]() -> std::string {
    for (int tries = 0; tries < 8 && !t.contacts.empty(); ++tries) {
      uint64_t n = below(t.contacts.size()) + 1;
      if (t.contacts[n - 1].customer && !t.contacts[n - 1].deleted) return "L" + std::to_string(n);
    }
    return {};
  };
  switch (kind) {
    case contract: {
      auto c = customer();
      if (c.empty()) return false;
      std::string id = "C" + std::to_string(t.contracts.size() + 1);
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::contract_created{id, c, text(3), "https://docs.example.com/" + id + ".pdf"}});
      t.contracts.push_back(contract_m{c});
      return true;
    }
    case contract_move:
    case signature: {
      if (t.contracts.empty()) return false;
      uint64_t n = below(t.contracts.size()) + 1;
      auto& c = t.contracts[n - 1];
      std::string id = "C" + std::to_string(n);
      if (kind == signature) {
        uint64_t who = std::stoull(c.customer.substr(1));
        if (c.status != "sent" || t.contacts[who - 1].erased) return false;
        std::string sig = "S" + std::to_string(++t.signatures);
        begin(t.tenant_stream(), me);
        add(ev::tenant_event{ev::signature_recorded{sig, id, c.customer, text(2), c.customer + "@example.com",
                                                    std::string(64, 'a' + char(below(6))), "198.51.100.7",
                                                    "Mozilla/5.0"}},
            t.subject_of(c.customer));
        add(ev::tenant_event{ev::contract_status_changed{id, "signed"}});
        c.status = "signed";
        return true;
      }
      if (c.status == "signed" || c.status == "cancelled") return false;
      c.status = c.status == "draft" && chance(0.8) ? "sent" : "cancelled";
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::contract_status_changed{id, c.status}});
      return true;
    }
    case invoice: {
      auto c = customer();
      if (c.empty()) return false;
      std::string id = "I" + std::to_string(t.invoices.size() + 1);
      invoice_m inv{c, pick({"ILS", "EUR", "USD"})};
      ev::invoice_created e;
      e.invoice_id = id, e.customer_id = c, e.currency = inv.currency;
      if (chance(0.5)) e.pdf_url = "https://docs.example.com/" + id + ".pdf";
      for (uint64_t i = 0, lines = below(3) + 1; i < lines; ++i) {
        e.line_descriptions.push_back(text(2));
        e.line_quantities.push_back(int64_t(below(5) + 1));
        e.line_unit_amounts.push_back(int64_t(below(100'000) + 100));
        e.total += e.line_quantities.back() * e.line_unit_amounts.back();
      }
      e.due_us = chance(0.7) ? now_ish() + 30LL * 24 * 3'600'000'000 : 0;
      inv.total = e.total;
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{e});
      if (e.due_us) add(ev::tenant_event{ev::timer_set{"invoice:" + id, e.due_us, "invoice"}});
      t.invoices.push_back(inv);
      return true;
    }
    case invoice_move:
    case intent:
    case paid: {
      if (t.invoices.empty()) return false;
      uint64_t n = below(t.invoices.size()) + 1;
      auto& inv = t.invoices[n - 1];
      std::string id = "I" + std::to_string(n);
      if (inv.status != "pending" && inv.status != "overdue") return false;
      if (kind == intent) {
        bool ok = chance(0.8);
        begin(t.tenant_stream(), me);
        add(ev::tenant_event{ev::payment_intent_recorded{id, "stripe", ok ? "pi_" + id + t.id : "",
                                                         ok ? "" : "card_declined", inv.total, inv.currency}});
      } else if (kind == paid) {
        begin(t.tenant_stream(), "stripe");
        add(ev::tenant_event{ev::invoice_paid{id, "stripe", "pi_" + id + t.id, "evt_" + std::to_string(requests),
                                              inv.total, inv.currency}});
        inv.status = "paid";
      } else if (inv.status == "pending" && chance(0.6)) {
        begin(t.tenant_stream(), "system");
        add(ev::tenant_event{ev::timer_fired{"invoice:" + id}});
        add(ev::tenant_event{ev::invoice_status_changed{id, inv.status = "overdue"}});
      } else {
        begin(t.tenant_stream(), me);
        add(ev::tenant_event{ev::invoice_status_changed{id, inv.status = "void"}});
      }
      return true;
    }
    case deal: {
      uint64_t who = some_contact(t);
      if (!who) return false;
      std::string id = "D" + std::to_string(t.deals.size() + 1);
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::deal_created{id, "L" + std::to_string(who), text(3), pick({"ILS", "USD"}),
                                            pick(t.pipeline), int64_t(below(1'000'000)),
                                            chance(0.5) ? now_ish() + 90LL * 24 * 3'600'000'000 : 0}});
      t.deals.emplace_back();
      return true;
    }
    default: {
      if (t.deals.empty()) return false;
      uint64_t n = below(t.deals.size()) + 1;
      if (t.deals[n - 1].closed) return false;
      std::string id = "D" + std::to_string(n);
      begin(t.tenant_stream(), me);
      if (kind == deal_close) {
        add(ev::tenant_event{ev::deal_closed{id, chance(0.5)}});
        t.deals[n - 1].closed = true;
        return true;
      }
      ev::deal_updated u;
      u.deal_id = id;
      if (chance(0.6)) u.stage = pick(t.pipeline);
      if (chance(0.4)) u.amount = int64_t(below(1'000'000));
      if (chance(0.2)) u.title = text(3);
      if (chance(0.1)) u.currency = "EUR";
      if (chance(0.2)) u.expected_close_us = now_ish() + 60LL * 24 * 3'600'000'000;
      add(ev::tenant_event{u});
      return true;
    }
  }
}

}  // namespace crmd::test
