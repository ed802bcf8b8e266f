#include "actors/registry/registry_decider.hpp"

#include <cctype>

#include "actors/crm/phone.hpp"

#include "events/envelope.hpp"

namespace crmd::registry {

std::string users_stream(const std::string& tenant) {
  return tenant.empty() ? "system/users/system" : tenant + "/users/" + tenant;
}

std::string user_subject(const std::string& tenant, const std::string& user_id) {
  return (tenant.empty() ? std::string("system") : tenant) + "/user/" + user_id;
}

std::optional<std::string> state::resolve(std::string_view id_or_alias) const {
  std::string k(id_or_alias);
  if (tenants.count(k)) return k;
  if (auto it = aliases.find(k); it != aliases.end()) return it->second;
  return std::nullopt;
}

const user_info* state::live_user(const std::string& id) const {
  auto it = users.find(id);
  return it == users.end() || it->second.deleted ? nullptr : &it->second;
}

const user_info* state::user_by_email(const std::string& email) const {
  auto it = emails.find(email);
  return it == emails.end() ? nullptr : live_user(it->second);
}

size_t state::live_owners(const std::string& tenant) const {
  size_t n = 0;
  for (auto& [id, u] : users) n += !u.deleted && u.tenant == tenant && u.role == "owner";
  return n;
}

namespace {

result<decision> decide_create(const state& s, const create_tenant& c) {
  if (!is_valid_tenant_id(c.id))
    return status{errc::invalid_argument, "field 'id' must match [a-z0-9][a-z0-9_-]{0,63}",
                  "invalid_tenant_id"};
  if (is_reserved_tenant_id(c.id))
    return status{errc::invalid_argument, "tenant id '" + c.id + "' is reserved", "reserved_tenant_id"};
  if (c.name.empty() || c.name.size() > 200)
    return status{errc::invalid_argument, "field 'name' must be 1..200 bytes", "invalid_name"};
  if (s.resolve(c.id))
    return status{errc::conflict, "tenant id '" + c.id + "' is already taken", "tenant_exists"};
  std::set<std::string> seen;
  for (auto& a : c.aliases) {
    if (!is_valid_tenant_id(a) || is_reserved_tenant_id(a) || a == c.id || !seen.insert(a).second)
      return status{errc::invalid_argument, "alias '" + a + "' is not a valid, distinct tenant id",
                    "invalid_alias"};
    if (s.resolve(a))
      return status{errc::conflict, "alias '" + a + "' is already taken", "alias_taken"};
  }
  return decision{stream, "", {ev::tenant_created{c.id, c.name, c.aliases}}, c.id};
}

result<const tenant_info*> existing_tenant(const state& s, const std::string& id) {
  auto it = s.tenants.find(id);
  if (it == s.tenants.end()) return status{errc::not_found, "no tenant '" + id + "'", "tenant_not_found"};
  if (it->second.status == "deleted")
    return status{errc::conflict, "tenant '" + id + "' is deleted", "tenant_deleted"};
  return &it->second;
}

result<decision> decide_update(const state& s, const update_tenant& c) {
  auto t = existing_tenant(s, c.id);
  if (!t) return t.error();
  decision d{stream, "", {}, c.id};
  if (c.name) {
    if (c.name->empty() || c.name->size() > 200)
      return status{errc::invalid_argument, "field 'name' must be 1..200 bytes", "invalid_name"};
    if (*c.name != (*t)->name) d.events.push_back(ev::tenant_name_changed{c.id, *c.name});
  }
  if (c.status) {
    if (*c.status != "active" && *c.status != "suspended")
      return status{errc::invalid_argument, "field 'status' must be active or suspended", "invalid_field"};
    if (*c.status == "suspended" && (*t)->status == "active") d.events.push_back(ev::tenant_suspended{c.id});
    if (*c.status == "active" && (*t)->status == "suspended") d.events.push_back(ev::tenant_reactivated{c.id});
  }
  if (c.modules) {
    std::set<std::string> enabled;
    for (auto& m : *c.modules) {
      if (m != "crm" && m != "calls" && m != "whatsapp")
        return status{errc::invalid_argument, "field 'modules' knows crm, calls and whatsapp, not '" + m + "'",
                      "invalid_field"};
      enabled.insert(m);
    }
    if (enabled != (*t)->modules)
      d.events.push_back(ev::tenant_modules_changed{c.id, {enabled.begin(), enabled.end()}});
  }
  return d;
}

result<decision> decide_delete(const state& s, const delete_tenant& c) {
  auto t = existing_tenant(s, c.id);
  if (!t) return t.error();
  return decision{stream, "", {ev::tenant_deleted{c.id}}, c.id};
}

result<decision> decide_numbers(const state& s, const assign_numbers& c) {
  auto t = existing_tenant(s, c.id);
  if (!t) return t.error();
  if (c.numbers.size() > 100)
    return status{errc::invalid_argument, "field 'phone_numbers' holds at most 100 numbers", "invalid_field"};
  std::set<std::string> wanted;
  for (auto& raw : c.numbers) {
    auto e164 = raw.empty() || raw[0] != '+' ? std::nullopt : crm::to_e164(raw, "ZZ");
    if (!e164)
      return status{errc::invalid_argument, "'" + raw.substr(0, 40) + "' is not a phone number in E.164 form (+...)",
                    "invalid_field"};
    if (auto it = s.numbers.find(*e164); it != s.numbers.end() && it->second != c.id)
      return status{errc::conflict, *e164 + " belongs to another tenant", "number_taken"};
    wanted.insert(*e164);
  }
  decision d{stream, "", {}, c.id};
  std::vector<std::string> sorted(wanted.begin(), wanted.end());
  if (sorted != (*t)->phone_numbers) d.events.push_back(ev::phone_numbers_assigned{c.id, sorted});
  return d;
}

result<decision> decide_voice(const state& s, const configure_voice& c) {
  auto t = existing_tenant(s, c.id);
  if (!t) return t.error();
  const auto& v = c.voice;
  auto bad = [](const std::string& why) { return status{errc::invalid_argument, why, "invalid_field"}; };
  if (v.greeting_text.size() > 2000) return bad("field 'greeting_text' is longer than 2000 bytes");
  if (v.language.empty() || v.language.size() > 20) return bad("field 'language' must be a language tag such as he-IL");
  for (char ch : v.language)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-') return bad("field 'language' must be a language tag such as he-IL");
  if (!v.greeting_url.empty() && v.greeting_url.rfind("https://", 0) != 0 && v.greeting_url.rfind("http://", 0) != 0)
    return bad("field 'greeting_url' must be an http(s) URL");
  if (v.greeting_url.size() > 2000) return bad("field 'greeting_url' is longer than 2000 bytes");
  if (v.max_recording_s < 1 || v.max_recording_s > 14400) return bad("field 'max_recording_s' must be 1..14400");
  ev::voice_configured e = v;
  e.tenant_id = c.id;
  return decision{stream, "", {e}, c.id};
}

result<decision> decide_cloud(const state& s, const assign_cloud_ids& c) {
  auto t = existing_tenant(s, c.id);
  if (!t) return t.error();
  std::set<std::string> wanted;
  for (auto& id : c.phone_number_ids) {
    bool digits = !id.empty() && id.size() <= 32;
    for (char ch : id) digits = digits && std::isdigit(static_cast<unsigned char>(ch));
    if (!digits)
      return status{errc::invalid_argument, "phone_number_ids are Meta's numeric ids (1..32 digits)", "invalid_field"};
    if (auto it = s.cloud_ids.find(id); it != s.cloud_ids.end() && it->second != c.id)
      return status{errc::conflict, "phone_number_id " + id + " belongs to another tenant", "number_taken"};
    wanted.insert(id);
  }
  decision d{stream, "", {}, c.id};
  std::vector<std::string> sorted(wanted.begin(), wanted.end());
  if (sorted != (*t)->cloud_ids) d.events.push_back(ev::whatsapp_cloud_assigned{c.id, sorted});
  return d;
}

}  // namespace

// In users_decider.cpp.
result<decision> decide_user(const state& s, const command& c);

result<decision> decide(const state& s, const command& c) {
  if (auto* x = std::get_if<create_tenant>(&c)) return decide_create(s, *x);
  if (auto* x = std::get_if<update_tenant>(&c)) return decide_update(s, *x);
  if (auto* x = std::get_if<delete_tenant>(&c)) return decide_delete(s, *x);
  if (auto* x = std::get_if<assign_numbers>(&c)) return decide_numbers(s, *x);
  if (auto* x = std::get_if<configure_voice>(&c)) return decide_voice(s, *x);
  if (auto* x = std::get_if<assign_cloud_ids>(&c)) return decide_cloud(s, *x);
  return decide_user(s, c);
}

void apply(state& s, const std::string& from, const ev::registry_event& e) {
  auto tenant = [&](const std::string& id) -> tenant_info* {
    auto it = s.tenants.find(id);
    return it == s.tenants.end() ? nullptr : &it->second;
  };
  auto user = [&](const std::string& id) -> user_info* {
    auto it = s.users.find(id);
    return it == s.users.end() ? nullptr : &it->second;
  };
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ev::tenant_created>) {
          tenant_info t;
          t.id = x.tenant_id;
          t.name = x.name;
          t.aliases = x.aliases;
          s.tenants[x.tenant_id] = std::move(t);
          for (auto& a : x.aliases) s.aliases[a] = x.tenant_id;
        } else if constexpr (std::is_same_v<T, ev::tenant_suspended>) {
          if (auto* t = tenant(x.tenant_id)) t->status = "suspended";
        } else if constexpr (std::is_same_v<T, ev::tenant_reactivated>) {
          if (auto* t = tenant(x.tenant_id)) t->status = "active";
        } else if constexpr (std::is_same_v<T, ev::tenant_deleted>) {
          if (auto* t = tenant(x.tenant_id)) t->status = "deleted";
        } else if constexpr (std::is_same_v<T, ev::tenant_modules_changed>) {
          if (auto* t = tenant(x.tenant_id)) t->modules = {x.enabled.begin(), x.enabled.end()};
        } else if constexpr (std::is_same_v<T, ev::tenant_name_changed>) {
          if (auto* t = tenant(x.tenant_id)) t->name = x.name;
        } else if constexpr (std::is_same_v<T, ev::phone_numbers_assigned>) {
          if (auto* t = tenant(x.tenant_id)) {
            for (auto& n : t->phone_numbers) s.numbers.erase(n);
            t->phone_numbers = x.numbers;
            for (auto& n : x.numbers) s.numbers[n] = x.tenant_id;
          }
        } else if constexpr (std::is_same_v<T, ev::voice_configured>) {
          if (auto* t = tenant(x.tenant_id)) t->voice = x;
        } else if constexpr (std::is_same_v<T, ev::whatsapp_cloud_assigned>) {
          if (auto* t = tenant(x.tenant_id)) {
            for (auto& id : t->cloud_ids) s.cloud_ids.erase(id);
            t->cloud_ids = x.phone_number_ids;
            for (auto& id : x.phone_number_ids) s.cloud_ids[id] = x.tenant_id;
          }
        } else if constexpr (std::is_same_v<T, ev::user_created>) {
          s.users[x.user_id] = user_info{x.user_id, x.tenant_id, x.email, x.role, x.password_hash, false, 0};
          s.emails[x.email] = x.user_id;
          if (x.user_id.size() > 1 && x.user_id[0] == 'u') {
            uint64_t n = std::strtoull(x.user_id.c_str() + 1, nullptr, 10);
            if (n >= s.next_user) s.next_user = n + 1;
          }
        } else if constexpr (std::is_same_v<T, ev::user_role_changed>) {
          if (auto* u = user(x.user_id)) {
            u->role = x.role;
            ++u->generation;
          }
        } else if constexpr (std::is_same_v<T, ev::user_deleted>) {
          if (auto* u = user(x.user_id)) {
            u->deleted = true;
            if (auto it = s.emails.find(u->email); it != s.emails.end() && it->second == u->id) s.emails.erase(it);
          }
        }
      },
      e);
  ++s.versions[from];
  if (from == stream) ++s.version;
}

}  // namespace crmd::registry
