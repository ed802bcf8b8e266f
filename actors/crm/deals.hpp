// Deals of one tenant: a contact, an amount in minor units, a stage of the
// tenant's pipeline (default new, qualified, proposal, negotiation), an
// expected close date, and finally won or lost. Closed deals do not change.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actors/crm/contacts.hpp"
#include "events/status.hpp"
#include "events/tenant_events.hpp"

namespace crmd::crm {

struct deal_state {
  static constexpr const char* type_name = "tenant_deal_state";
  std::string contact, stage;
  bool open = true;
  template <class F> void fields(F&& f) {
    f("contact", contact);
    f("stage", stage);
    f("open", open);
  }
};

struct deals {
  std::map<uint64_t, deal_state> by_number;
  std::vector<std::string> pipeline{"new", "qualified", "proposal", "negotiation"};
  uint64_t next = 1;
  std::set<uint64_t> dirty;
};

struct create_deal {
  std::string contact_id, title, currency;
  std::optional<std::string> stage;  // default: the first stage
  int64_t amount = 0;
  int64_t expected_close_us = 0;
};
struct update_deal {
  std::string id;
  std::optional<std::string> title, currency, stage, outcome;  // outcome: won | lost
  std::optional<int64_t> amount, expected_close_us;
};
struct set_pipeline {
  std::vector<std::string> stages;
};

// Rejections: invalid_field, contact_not_found, deal_not_found, deal_closed (409).
result<std::vector<ev::tenant_event>> decide(const deals& d, const contacts& c, const create_deal& cmd);
result<std::vector<ev::tenant_event>> decide(const deals& d, const update_deal& cmd);
result<std::vector<ev::tenant_event>> decide(const deals& d, const set_pipeline& cmd);
void apply(deals& d, const ev::tenant_event& e);

}  // namespace crmd::crm
