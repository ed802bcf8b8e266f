#include "actors/crm/deals.hpp"

#include <algorithm>

#include "actors/crm/documents.hpp"

namespace crmd::crm {
namespace {

using events = std::vector<ev::tenant_event>;

status invalid(const std::string& field, const std::string& why) {
  return {errc::invalid_argument, "field '" + field + "' " + why, "invalid_field"};
}

bool valid_currency(const std::string& c) {
  return c.size() == 3 && c.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos;
}

status check_stage(const deals& d, const std::string& stage) {
  if (std::find(d.pipeline.begin(), d.pipeline.end(), stage) == d.pipeline.end()) {
    std::string list;
    for (auto& s : d.pipeline) list += (list.empty() ? "" : ", ") + s;
    return invalid("stage", "must be one of the pipeline's stages: " + list);
  }
  return status::ok();
}

}  // namespace

result<events> decide(const deals& d, const contacts& c, const create_deal& cmd) {
  if (cmd.contact_id.empty()) return invalid("customer_id", "is required");
  if (!c.live(cmd.contact_id)) return status{errc::not_found, "no contact '" + cmd.contact_id + "'", "contact_not_found"};
  if (cmd.title.empty() || cmd.title.size() > 300) return invalid("title", "must be 1..300 bytes");
  if (!valid_currency(cmd.currency)) return invalid("currency", "must be an ISO 4217 code such as ILS or USD");
  if (cmd.amount < 0) return invalid("amount", "must not be negative");
  if (cmd.expected_close_us < 0) return invalid("expected_close_at", "must be a time after 1970");
  std::string stage = cmd.stage.value_or(d.pipeline.front());
  if (auto s = check_stage(d, stage); !s) return s;
  return events{ev::deal_created{"D" + std::to_string(d.next), cmd.contact_id, cmd.title, cmd.currency, stage,
                                 cmd.amount, cmd.expected_close_us}};
}

result<events> decide(const deals& d, const update_deal& cmd) {
  auto n = parse_number(cmd.id, 'D');
  auto it = n ? d.by_number.find(*n) : d.by_number.end();
  if (it == d.by_number.end()) return status{errc::not_found, "no deal '" + cmd.id + "'", "deal_not_found"};
  if (!it->second.open) return status{errc::conflict, "deal " + cmd.id + " is closed", "deal_closed"};
  if (cmd.title && (cmd.title->empty() || cmd.title->size() > 300)) return invalid("title", "must be 1..300 bytes");
  if (cmd.currency && !valid_currency(*cmd.currency)) return invalid("currency", "must be an ISO 4217 code");
  if (cmd.amount && *cmd.amount < 0) return invalid("amount", "must not be negative");
  if (cmd.expected_close_us && *cmd.expected_close_us < 0) return invalid("expected_close_at", "must be a time after 1970");
  if (cmd.stage)
    if (auto s = check_stage(d, *cmd.stage); !s) return s;
  if (cmd.outcome && *cmd.outcome != "won" && *cmd.outcome != "lost") return invalid("status", "must be won or lost");
  events out;
  if (cmd.title || cmd.currency || cmd.stage || cmd.amount || cmd.expected_close_us)
    out.push_back(ev::deal_updated{cmd.id, cmd.title, cmd.currency, cmd.stage, cmd.amount, cmd.expected_close_us});
  if (cmd.outcome) out.push_back(ev::deal_closed{cmd.id, *cmd.outcome == "won"});
  if (out.empty()) return invalid("stage", "or another field is required");
  return out;
}

result<events> decide(const deals& d, const set_pipeline& cmd) {
  if (cmd.stages.empty() || cmd.stages.size() > 20) return invalid("pipeline", "must hold 1..20 stages");
  std::set<std::string> seen;
  for (auto& s : cmd.stages)
    if (s.empty() || s.size() > 50 || !seen.insert(s).second) return invalid("pipeline", "stages must be distinct, 1..50 bytes");
  // Open deals must keep a stage that exists.
  for (auto& [n, deal] : d.by_number)
    if (deal.open && !seen.count(deal.stage))
      return status{errc::conflict, "open deal D" + std::to_string(n) + " is in stage '" + deal.stage + "'",
                    "stage_in_use"};
  if (cmd.stages == d.pipeline) return events{};
  return events{ev::pipeline_changed{cmd.stages}};
}

void apply(deals& d, const ev::tenant_event& e) {
  if (auto* x = std::get_if<ev::deal_created>(&e)) {
    if (auto n = parse_number(x->deal_id, 'D')) {
      d.by_number[*n] = deal_state{x->contact_id, x->stage, true};
      d.dirty.insert(*n);
      if (*n >= d.next) d.next = *n + 1;
    }
  } else if (auto* x = std::get_if<ev::deal_updated>(&e)) {
    if (auto n = parse_number(x->deal_id, 'D'); n && x->stage) {
      d.by_number[*n].stage = *x->stage;
      d.dirty.insert(*n);
    }
  } else if (auto* x = std::get_if<ev::deal_closed>(&e)) {
    if (auto n = parse_number(x->deal_id, 'D')) {
      d.by_number[*n].open = false;
      d.dirty.insert(*n);
    }
  } else if (auto* x = std::get_if<ev::pipeline_changed>(&e)) {
    d.pipeline = x->stages;
  }
}

}  // namespace crmd::crm
