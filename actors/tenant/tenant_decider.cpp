#include "actors/tenant/tenant_decider.hpp"

#include <cereal/types/map.hpp>

#include "actors/crm/phone.hpp"
#include "events/codec_impl.hpp"

namespace crmd::tenant {
namespace {

constexpr size_t max_title = 200;
constexpr size_t max_body = 64 * 1024;

status invalid(const std::string& field, const std::string& why) {
  return {errc::invalid_argument, "field '" + field + "' " + why, "invalid_field"};
}

status check_text(const std::string& field, const std::string& v, size_t max, bool required) {
  if (required && v.empty()) return invalid(field, "is required");
  if (v.size() > max) return invalid(field, "is longer than " + std::to_string(max) + " bytes");
  return status::ok();
}

const prompt_state* live_prompt(const state& s, const std::string& id, uint64_t* number) {
  auto n = parse_prompt_id(id);
  if (!n) return nullptr;
  auto it = s.prompts.find(*n);
  if (it == s.prompts.end() || it->second.deleted) return nullptr;
  *number = *n;
  return &it->second;
}

status not_found(const std::string& id) {
  return {errc::not_found, "no prompt '" + id + "'", "prompt_not_found"};
}

}  // namespace

bool valid_kind(const std::string& kind) {
  return kind == "general" || kind == "call_summary" || kind == "whatsapp_reply";
}

std::optional<uint64_t> parse_prompt_id(const std::string& id) {
  if (id.size() < 2 || id.size() > 20 || id[0] != 'p') return std::nullopt;
  if (id[1] == '0' || id.find_first_not_of("0123456789", 1) != std::string::npos) return std::nullopt;
  return std::stoull(id.substr(1));
}

std::string prompt_id(uint64_t number) { return "p" + std::to_string(number); }

result<std::vector<ev::tenant_event>> decide(const state& s, const command& c) {
  using events = std::vector<ev::tenant_event>;
  if (auto* save = std::get_if<save_prompt>(&c)) {
    if (auto st = check_text("title", save->title, max_title, true); !st) return st;
    if (auto st = check_text("body", save->body, max_body, true); !st) return st;
    if (!valid_kind(save->kind)) return invalid("kind", "must be call_summary, whatsapp_reply or general");
    return events{ev::prompt_saved{prompt_id(s.next_prompt), 1, save->title, save->body, save->kind}};
  }
  if (auto* upd = std::get_if<update_prompt>(&c)) {
    uint64_t n = 0;
    auto* p = live_prompt(s, upd->prompt_id, &n);
    if (!p) return not_found(upd->prompt_id);
    if (!upd->title && !upd->body && !upd->kind) return invalid("body", "or 'title' or 'kind' is required");
    std::string title = upd->title.value_or(p->title), body = upd->body.value_or(p->body);
    std::string kind = upd->kind.value_or(p->kind);
    if (auto st = check_text("title", title, max_title, true); !st) return st;
    if (auto st = check_text("body", body, max_body, true); !st) return st;
    if (!valid_kind(kind)) return invalid("kind", "must be call_summary, whatsapp_reply or general");
    return events{ev::prompt_saved{upd->prompt_id, p->version + 1, title, body, kind}};
  }
  if (auto* set = std::get_if<set_timer>(&c)) {
    if (set->timer_id.empty() || set->timer_id.size() > 64 || set->timer_id.find('\0') != std::string::npos)
      return invalid("timer_id", "must be 1..64 bytes");
    if (s.timers.count(set->timer_id))
      return status{errc::conflict, "timer '" + set->timer_id + "' exists", "timer_exists"};
    return events{ev::timer_set{set->timer_id, set->due_us, set->purpose}};
  }
  if (auto* fire = std::get_if<fire_timer>(&c)) {
    auto it = s.timers.find(fire->timer_id);
    if (it == s.timers.end() || it->second) return events{};  // unknown or already fired: nothing to do
    events out{ev::timer_fired{fire->timer_id}};
    for (auto& e : crm::on_timer(s.work, fire->timer_id)) out.push_back(std::move(e));
    for (auto& e : crm::on_timer(s.docs, fire->timer_id)) out.push_back(std::move(e));
    return out;
  }
  if (auto* x = std::get_if<crm::create_contact>(&c)) return crm::decide(s.contacts, s.settings, *x);
  if (auto* x = std::get_if<crm::update_contact>(&c)) return crm::decide(s.contacts, s.settings, *x);
  if (auto* x = std::get_if<crm::delete_contact>(&c)) return crm::decide(s.contacts, *x);
  if (auto* x = std::get_if<crm::convert_lead>(&c)) return crm::decide(s.contacts, *x);
  if (auto* x = std::get_if<crm::erase_contact>(&c)) return crm::decide(s.contacts, *x);
  if (auto* x = std::get_if<crm::find_or_create_contact>(&c)) return crm::decide(s.contacts, s.settings, *x);
  if (auto* x = std::get_if<crm::change_settings>(&c)) return crm::decide(s.settings, *x);
  if (auto* x = std::get_if<crm::add_note>(&c)) return crm::decide(s.work, s.contacts, *x);
  if (auto* x = std::get_if<crm::create_task>(&c)) return crm::decide(s.work, s.contacts, *x);
  if (auto* x = std::get_if<crm::complete_task>(&c)) return crm::decide(s.work, *x);
  if (auto* x = std::get_if<crm::reopen_task>(&c)) return crm::decide(s.work, *x);
  if (auto* x = std::get_if<crm::reschedule_task>(&c)) return crm::decide(s.work, *x);
  if (auto* x = std::get_if<crm::create_contract>(&c)) return crm::decide(s.docs, s.contacts, *x);
  if (auto* x = std::get_if<crm::move_contract>(&c)) return crm::decide(s.docs, *x);
  if (auto* x = std::get_if<crm::record_signature>(&c)) return crm::decide(s.docs, *x);
  if (auto* x = std::get_if<crm::create_invoice>(&c)) return crm::decide(s.docs, s.contacts, *x);
  if (auto* x = std::get_if<crm::void_invoice>(&c)) return crm::decide(s.docs, *x);
  if (auto* x = std::get_if<crm::record_payment>(&c)) return crm::decide(s.docs, *x);
  if (auto* x = std::get_if<crm::record_payment_intent>(&c)) return crm::decide(s.docs, *x);
  if (auto* x = std::get_if<crm::create_deal>(&c)) return crm::decide(s.deals, s.contacts, *x);
  if (auto* x = std::get_if<crm::update_deal>(&c)) return crm::decide(s.deals, *x);
  if (auto* x = std::get_if<crm::set_pipeline>(&c)) return crm::decide(s.deals, *x);
  auto& del = std::get<delete_prompt>(c);
  uint64_t n = 0;
  if (!live_prompt(s, del.prompt_id, &n)) return not_found(del.prompt_id);
  return events{ev::prompt_deleted{del.prompt_id}};
}

std::string answer_id(const state& s, const command& c) {
  if (auto* f = std::get_if<crm::find_or_create_contact>(&c)) {
    auto phone = crm::to_e164(f->phone, s.settings.default_region);
    if (auto n = phone ? s.contacts.find(*phone) : std::nullopt) return crm::contact_id(*n);
  }
  return {};
}

std::string subject_of(const std::string& tenant, const ev::tenant_event& e) {
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ev::lead_created> || std::is_same_v<T, ev::lead_updated>)
          return crm::subject(tenant, x.lead_id);
        // A note's or task's text is about a person: sealed with them.
        if constexpr (std::is_same_v<T, ev::note_added> || std::is_same_v<T, ev::task_created>)
          return x.about_id.empty() ? std::string() : crm::subject(tenant, x.about_id);
        if constexpr (std::is_same_v<T, ev::signature_recorded>) return crm::subject(tenant, x.customer_id);
        return {};
      },
      e);
}

void apply(state& s, const ev::tenant_event& e) {
  crm::apply(s.contacts, s.settings, e);
  crm::apply(s.work, e);
  crm::apply(s.docs, e);
  crm::apply(s.deals, e);
  if (auto* saved = std::get_if<ev::prompt_saved>(&e)) {
    auto n = parse_prompt_id(saved->prompt_id);
    if (!n) return;  // decide() only emits well-formed ids
    auto& p = s.prompts[*n];
    p.version = saved->version;
    p.deleted = false;
    p.title = saved->title;
    p.body = saved->body;
    p.kind = saved->kind;
    if (*n >= s.next_prompt) s.next_prompt = *n + 1;
    s.dirty.insert(*n);
  } else if (auto* del = std::get_if<ev::prompt_deleted>(&e)) {
    if (auto n = parse_prompt_id(del->prompt_id)) {
      s.prompts[*n].deleted = true;
      s.dirty.insert(*n);
    }
  } else if (auto* set = std::get_if<ev::timer_set>(&e)) {
    s.timers[set->timer_id] = false;
  } else if (auto* fired = std::get_if<ev::timer_fired>(&e)) {
    // Only pending timers are kept (the header stays small); a fired one is
    // unknown to a second fire_timer, which then records nothing.
    s.timers.erase(fired->timer_id);
  }
}

std::string encode_state(const state& s) { return codec::encode_payload(s); }
status decode_state(std::string_view bytes, state& out) { return codec::decode_payload(bytes, out); }

std::string encode_header(const state& s) {
  return codec::encode_payload(
      state_header{s.next_prompt, s.timers, s.contacts.next, s.settings, s.work.next_task, s.work.next_note,
                   s.docs.next_contract, s.docs.next_invoice, s.docs.next_signature, s.deals.next,
                   s.deals.pipeline});
}

status decode_header(std::string_view bytes, state& out) {
  state_header h;
  if (auto st = codec::decode_payload(bytes, h); !st) return st;
  out.next_prompt = h.next_prompt;
  out.timers = std::move(h.timers);
  out.contacts.next = h.next_contact;
  out.settings = std::move(h.settings);
  out.work.next_task = h.next_task;
  out.work.next_note = h.next_note;
  out.docs.next_contract = h.next_contract;
  out.docs.next_invoice = h.next_invoice;
  out.docs.next_signature = h.next_signature;
  out.deals.next = h.next_deal;
  if (!h.pipeline.empty()) out.deals.pipeline = std::move(h.pipeline);
  return status::ok();
}

std::string encode_contact(const crm::contact_state& c) { return codec::encode_payload(c); }
status decode_contact(std::string_view bytes, crm::contact_state& out) { return codec::decode_payload(bytes, out); }
std::string encode_task(const crm::task_state& t) { return codec::encode_payload(t); }
status decode_task(std::string_view bytes, crm::task_state& out) { return codec::decode_payload(bytes, out); }
std::string encode_contract(const crm::contract_state& c) { return codec::encode_payload(c); }
status decode_contract(std::string_view bytes, crm::contract_state& out) { return codec::decode_payload(bytes, out); }
std::string encode_invoice(const crm::invoice_state& i) { return codec::encode_payload(i); }
status decode_invoice(std::string_view bytes, crm::invoice_state& out) { return codec::decode_payload(bytes, out); }
std::string encode_deal(const crm::deal_state& d) { return codec::encode_payload(d); }
status decode_deal(std::string_view bytes, crm::deal_state& out) { return codec::decode_payload(bytes, out); }

std::string encode_prompt(const prompt_state& p) { return codec::encode_payload(p); }
status decode_prompt(std::string_view bytes, prompt_state& out) { return codec::decode_payload(bytes, out); }

}  // namespace crmd::tenant

CRMD_CODEC_INSTANTIATE(crmd::tenant::state)
CRMD_CODEC_INSTANTIATE(crmd::tenant::state_header)
CRMD_CODEC_INSTANTIATE(crmd::tenant::prompt_state)
CRMD_CODEC_INSTANTIATE(crmd::crm::contact_state)
CRMD_CODEC_INSTANTIATE(crmd::crm::task_state)
CRMD_CODEC_INSTANTIATE(crmd::crm::contract_state)
CRMD_CODEC_INSTANTIATE(crmd::crm::invoice_state)
CRMD_CODEC_INSTANTIATE(crmd::crm::deal_state)
