#include "actors/crm/contacts.hpp"

#include "actors/crm/phone.hpp"

namespace crmd::crm {
namespace {

using events = std::vector<ev::tenant_event>;

status invalid(const std::string& field, const std::string& why) {
  return {errc::invalid_argument, "field '" + field + "' " + why, "invalid_field"};
}
status not_found(const std::string& id) { return {errc::not_found, "no contact '" + id + "'", "contact_not_found"}; }

status check_len(const char* field, const std::string& v, size_t max) {
  if (v.size() > max) return invalid(field, "is longer than " + std::to_string(max) + " bytes");
  return status::ok();
}

// Normalises a typed phone number; an empty one stays empty.
result<std::string> normalise(const std::string& raw, const settings& st) {
  if (raw.empty()) return std::string();
  auto e164 = to_e164(raw, st.default_region);
  if (!e164) return invalid("phone", "is not a phone number (region " + st.default_region + ")");
  return *e164;
}

status taken(const contacts& c, const std::string& e164, uint64_t except = 0) {
  if (e164.empty()) return status::ok();
  auto other = c.find(e164);
  if (other && *other != except)
    return {errc::conflict, "phone " + e164 + " already belongs to " + contact_id(*other), "phone_taken"};
  return status::ok();
}

}  // namespace

std::optional<uint64_t> contacts::find(const std::string& e164) const {
  auto it = by_phone.find(e164);
  if (it == by_phone.end()) return std::nullopt;
  return it->second;
}

const contact_state* contacts::live(const std::string& id, uint64_t* number) const {
  auto n = parse_contact_id(id);
  if (!n) return nullptr;
  auto it = by_number.find(*n);
  if (it == by_number.end() || it->second.deleted) return nullptr;
  if (number) *number = *n;
  return &it->second;
}

void contacts::reindex() {
  by_phone.clear();
  for (auto& [n, c] : by_number)
    if (!c.deleted && !c.phone.empty()) by_phone[c.phone] = n;
}

bool valid_status(const std::string& s) {
  return s == "new" || s == "contacted" || s == "qualified" || s == "won" || s == "lost";
}

std::string contact_id(uint64_t n) { return "L" + std::to_string(n); }

std::optional<uint64_t> parse_contact_id(const std::string& id) {
  if (id.size() < 2 || id.size() > 20 || id[0] != 'L' || id[1] == '0') return std::nullopt;
  if (id.find_first_not_of("0123456789", 1) != std::string::npos) return std::nullopt;
  return std::stoull(id.substr(1));
}

std::string subject(const std::string& tenant, const std::string& id) { return tenant + "/lead/" + id; }

result<events> decide(const contacts& c, const settings& st, const create_contact& cmd) {
  if (cmd.name.empty() && cmd.phone.empty() && cmd.email.empty())
    return invalid("name", "or 'phone' or 'email' is required");
  for (auto [f, v, max] : {std::tuple{"name", &cmd.name, 200}, std::tuple{"email", &cmd.email, 254},
                           std::tuple{"source", &cmd.source, 32}})
    if (auto s = check_len(f, *v, size_t(max)); !s) return s;
  if (cmd.status && !valid_status(*cmd.status)) return invalid("status", "must be new, contacted, qualified, won or lost");
  auto phone = normalise(cmd.phone, st);
  if (!phone) return phone.error();
  if (auto s = taken(c, *phone); !s) return s;
  std::string id = contact_id(c.next);
  events out{ev::lead_created{id, cmd.name, *phone, cmd.email, cmd.source}};
  if (cmd.status && *cmd.status != "new") out.push_back(ev::lead_updated{id, {}, {}, {}, *cmd.status});
  if (cmd.as_customer) out.push_back(ev::lead_converted{id});
  return out;
}

result<events> decide(const contacts& c, const settings& st, const update_contact& cmd) {
  uint64_t n = 0;
  auto* cur = c.live(cmd.id, &n);
  if (!cur || (cmd.customers_only && !cur->customer)) return not_found(cmd.id);
  if (!cmd.name && !cmd.phone && !cmd.email && !cmd.status)
    return invalid("name", "or 'phone', 'email' or 'status' is required");
  ev::lead_updated u{cmd.id, cmd.name, {}, cmd.email, cmd.status};
  if (cmd.name)
    if (auto s = check_len("name", *cmd.name, 200); !s) return s;
  if (cmd.email)
    if (auto s = check_len("email", *cmd.email, 254); !s) return s;
  if (cmd.status && !valid_status(*cmd.status)) return invalid("status", "must be new, contacted, qualified, won or lost");
  if (cmd.phone) {
    auto phone = normalise(*cmd.phone, st);
    if (!phone) return phone.error();
    if (auto s = taken(c, *phone, n); !s) return s;
    u.phone = *phone;
  }
  return events{u};
}

result<events> decide(const contacts& c, const delete_contact& cmd) {
  auto* cur = c.live(cmd.id);
  if (!cur || (cmd.customers_only && !cur->customer)) return not_found(cmd.id);
  return events{ev::lead_deleted{cmd.id}};
}

result<events> decide(const contacts& c, const convert_lead& cmd) {
  auto* cur = c.live(cmd.id);
  if (!cur) return not_found(cmd.id);
  if (cur->customer) return status{errc::conflict, cmd.id + " is already a customer", "already_customer"};
  return events{ev::lead_converted{cmd.id}};
}

result<events> decide(const contacts& c, const erase_contact& cmd) {
  auto n = parse_contact_id(cmd.id);
  auto it = n ? c.by_number.find(*n) : c.by_number.end();
  if (it == c.by_number.end()) return not_found(cmd.id);
  return events{ev::contact_erased{cmd.id}};  // again is harmless: the key is already gone
}

result<events> decide(const contacts& c, const settings& st, const find_or_create_contact& cmd) {
  auto phone = normalise(cmd.phone, st);
  if (!phone) return phone.error();
  if (phone->empty()) return invalid("phone", "is required");
  if (c.find(*phone)) return events{};
  return events{ev::lead_created{contact_id(c.next), cmd.name, *phone, "", cmd.source}};
}

result<events> decide(const settings& st, const change_settings& cmd) {
  ev::settings_changed s{st.default_region, st.language, st.time_zone, st.whatsapp_provider};
  if (cmd.default_region) {
    if (!known_region(*cmd.default_region))
      return invalid("default_region", "must be an ISO 3166 region code such as IL or US");
    s.default_region = *cmd.default_region;
  }
  if (cmd.language) {
    if (cmd.language->empty() || cmd.language->size() > 35) return invalid("language", "must be a language tag such as he or en");
    s.language = *cmd.language;
  }
  if (cmd.time_zone) {
    // IANA names: Area/Location, letters, digits, '/', '_', '-', '+'.
    if (cmd.time_zone->empty() || cmd.time_zone->size() > 64 ||
        cmd.time_zone->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_-+") !=
            std::string::npos)
      return invalid("time_zone", "must be an IANA time zone such as Asia/Jerusalem");
    s.time_zone = *cmd.time_zone;
  }
  if (cmd.whatsapp_provider) {
    if (*cmd.whatsapp_provider != "baileys" && *cmd.whatsapp_provider != "cloud")
      return invalid("whatsapp_provider", "must be baileys or cloud");
    s.whatsapp_provider = *cmd.whatsapp_provider;
  }
  events out;
  if (s.default_region != st.default_region || s.language != st.language || s.time_zone != st.time_zone ||
      s.whatsapp_provider != st.whatsapp_provider)
    out.push_back(s);
  // Setting a token is always recorded (a rotation is worth an audit line,
  // and comparing would need the old secret here).
  if (cmd.sealed_whatsapp_token) out.push_back(ev::whatsapp_token_changed{cmd.sealed_whatsapp_token->empty()});
  return out;
}

void apply(contacts& c, settings& st, const ev::tenant_event& e) {
  auto touch = [&](const std::string& id) -> contact_state* {
    auto n = parse_contact_id(id);
    if (!n) return nullptr;
    c.dirty.insert(*n);
    return &c.by_number[*n];
  };
  if (auto* x = std::get_if<ev::lead_created>(&e)) {
    auto n = parse_contact_id(x->lead_id);
    if (!n) return;
    auto* k = touch(x->lead_id);
    k->phone = x->phone;
    if (!x->phone.empty()) c.by_phone[x->phone] = *n;
    if (*n >= c.next) c.next = *n + 1;
  } else if (auto* x = std::get_if<ev::lead_updated>(&e)) {
    auto* k = touch(x->lead_id);
    if (!k) return;
    if (x->phone) {
      if (auto it = c.by_phone.find(k->phone); it != c.by_phone.end() && contact_id(it->second) == x->lead_id)
        c.by_phone.erase(it);
      k->phone = *x->phone;
      if (!k->phone.empty()) c.by_phone[k->phone] = *parse_contact_id(x->lead_id);
    }
    if (x->status) k->status = *x->status;
  } else if (auto* x = std::get_if<ev::lead_deleted>(&e)) {
    auto* k = touch(x->lead_id);
    if (!k) return;
    k->deleted = true;
    if (auto it = c.by_phone.find(k->phone); it != c.by_phone.end() && contact_id(it->second) == x->lead_id)
      c.by_phone.erase(it);
  } else if (auto* x = std::get_if<ev::contact_erased>(&e)) {
    auto* k = touch(x->lead_id);
    if (!k) return;
    if (auto it = c.by_phone.find(k->phone); it != c.by_phone.end() && contact_id(it->second) == x->lead_id)
      c.by_phone.erase(it);
    k->phone.clear();  // the snapshot rows must not keep it either
    k->deleted = true;
  } else if (auto* x = std::get_if<ev::lead_converted>(&e)) {
    if (auto* k = touch(x->lead_id)) k->customer = true;
  } else if (auto* x = std::get_if<ev::settings_changed>(&e)) {
    st = settings{x->default_region, x->language, x->time_zone, x->whatsapp_provider};
  }
}

}  // namespace crmd::crm
