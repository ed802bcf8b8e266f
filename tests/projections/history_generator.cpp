// history_generator: the driver, erasures, and the tenant aggregate's
// contacts, settings, prompts and timers. Work and documents are in
// history_documents.cpp; calls, WhatsApp, registry and sign-ins in
// history_channels.cpp.
#include "tests/projections/history_generator.hpp"

#include <iterator>

#include "events/identity_events.hpp"
#include "events/tenant_events.hpp"
#include "tests/projections/history_model.hpp"

namespace crmd::test {
namespace {

uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Words with Hebrew, accents and an emoji: the views keep UTF-8 as it is.
const char* words[] = {"call",  "back",  "price", "quote", "Monday", "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",
                       "rooms", "three", "caf\xc3\xa9", "\xf0\x9f\x99\x82", "urgent", "\xd7\x9e\xd7\x97\xd7\x99\xd7\xa8"};

}  // namespace

stepping_clock::stepping_clock(uint64_t seed, int64_t start_us) : state_(seed), now_(start_us) {}

int64_t stepping_clock::now_us() const {
  uint64_t s = state_.load();
  int64_t step = int64_t(splitmix(s) % 4'000'001);
  state_.store(s);
  return now_.fetch_add(step) + step;
}

history_generator::history_generator(uint64_t seed, size_t tenants) : m_(std::make_unique<model>()) {
  m_->rng.seed(seed);
  for (size_t i = 0; i < tenants; ++i) {
    tenant_m t;
    t.id = "t" + std::to_string(i) + (i % 3 == 0 ? "-shop" : "");
    m_->tenants.push_back(std::move(t));
  }
}

history_generator::~history_generator() = default;

void history_generator::folded(uint64_t position) { m_->folded = position; }
uint64_t history_generator::positions() const { return m_->positions; }
uint64_t history_generator::erasures() const { return m_->erasures; }
uint64_t history_generator::redeliveries() const { return m_->redeliveries; }
const std::map<std::string, uint64_t>& history_generator::type_counts() const { return m_->counts; }

history_step history_generator::next() {
  auto& m = *m_;
  m.out = history_step{};
  // First the registry learns every tenant (and a system admin), as a fresh
  // installation would; from then on everything is random.
  if (m.positions == 0) {
    m.begin("system/users/system", "operator");
    user_m admin{"u" + std::to_string(m.next_user++), "system_admin"};
    admin.first_position = m.next_position();
    m.add(ev::registry_event{ev::user_created{admin.id, "", "root@example.com", admin.role, "pbkdf2$1$x$y"}},
          "system/user/" + admin.id);
    m.admins.push_back(admin);
  } else if (m.positions <= m.tenants.size()) {
    auto& t = m.tenants[m.positions - 1];
    m.begin("system/registry/tenants", m.admins[0].id);
    m.add(ev::registry_event{ev::tenant_created{t.id, "Business " + t.id, {t.id + "-alias"}}});
  } else {
    for (;;) {
      if (m.chance(1.0 / 1500) && m.erase_step()) break;
      // Some tenants are much busier than others.
      auto& t = m.tenants[m.below(m.below(m.tenants.size()) + 1)];
      if (t.status == "deleted") continue;
      bool done = false;
      switch (m.weighted({22, 16, 14, 14, 4, 20, 2, 6, 1})) {
        case 0: done = m.crm_step(t); break;
        case 1: done = m.work_step(t); break;
        case 2: done = m.documents_step(t); break;
        case 3: done = m.call_step(t); break;
        case 4: done = m.session_step(t); break;
        case 5: done = m.message_step(t); break;
        case 6: done = m.registry_step(t); break;
        case 7: done = m.auth_step(t); break;
        default: done = m.unrouted_step(); break;
      }
      if (done) break;
      m.out = history_step{};
    }
  }
  m.positions += m.out.positions;
  return std::move(m.out);
}

void history_generator::model::begin(const std::string& stream, const std::string& causer) {
  out.append.stream = stream;
  out.append.expected_version = any_version;
  auto& meta = out.append.meta;
  meta.causer = causer;
  ++requests;
  // Requests over HTTP carry more of the envelope; the audit view shows it.
  if (chance(0.7)) meta.request_id = "req-" + std::to_string(requests);
  if (chance(0.5)) meta.client = "192.0.2." + std::to_string(below(254) + 1);
  if (chance(0.3)) meta.correlation_id = "corr-" + std::to_string(below(1000));
  if (chance(0.03)) meta.impersonator = admins.empty() ? "operator" : admins[0].id;
}

uint64_t history_generator::model::some_contact(tenant_m& t, bool customers_only) {
  for (int tries = 0; tries < 8 && !t.contacts.empty(); ++tries) {
    uint64_t n = below(t.contacts.size()) + 1;
    auto& c = t.contacts[n - 1];
    if (!c.deleted && !c.erased && (!customers_only || c.customer)) return n;
  }
  return 0;
}

std::string history_generator::model::text(size_t n) {
  // Now and then long enough to be cut for a title, rarely with a byte that
  // is not UTF-8 (the views replace it, the same way every time).
  if (chance(0.02)) n += 60;
  std::string s;
  for (size_t i = 0; i < n; ++i) s += std::string(i ? " " : "") + words[below(std::size(words))];
  if (chance(0.005)) s += "\xff";
  return s;
}

std::string history_generator::model::fresh_phone(tenant_m& t) {
  std::string digits = std::to_string(10'000'000 + t.phones++ * 7 + below(7));
  return "+9725" + digits.substr(digits.size() - 8);
}

bool history_generator::model::erase_step() {
  // The newest contact that no folded event names yet (see folded()).
  while (!recent_contacts.empty()) {
    auto [ti, n] = recent_contacts.back();
    auto& c = tenants[ti].contacts[n - 1];
    if (c.erased || c.first_position <= folded) {
      recent_contacts.pop_back();
      continue;
    }
    c.erased = true;
    recent_contacts.pop_back();
    out.erase = tenants[ti].subject_of("L" + std::to_string(n));
    ++erasures;
    return true;
  }
  // Or a user's e-mail and password hash.
  auto& t = tenants[below(tenants.size())];
  if (t.users.empty()) return false;
  auto& u = t.users.back();
  if (u.erased || u.first_position <= folded) return false;
  u.erased = true;
  out.erase = t.id + "/user/" + u.id;
  ++erasures;
  return true;
}

bool history_generator::model::crm_step(tenant_m& t) {
  enum { create, update, convert, remove, settings, pipeline, token, prompt_new, prompt_edit, prompt_delete,
         timer, fire, rename };
  int kind = weighted({30, 25, 8, 3, 2, 1, 1, 3, 3, 1, 2, 2, 1});
  std::string me = t.users.empty() ? "operator" : pick(t.users).id;
  switch (kind) {
    case create: {
      uint64_t n = t.contacts.size() + 1;
      std::string id = "L" + std::to_string(n);
      contact_m c;
      c.phone = chance(0.9) ? fresh_phone(t) : "";
      c.first_position = next_position();
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::lead_created{id, text(2), c.phone, chance(0.6) ? id + "@example.com" : "",
                                            pick({"manual", "phone", "whatsapp", "import"})}},
          t.subject_of(id));
      t.contacts.push_back(c);
      recent_contacts.emplace_back(size_t(&t - tenants.data()), n);
      return true;
    }
    case update: {
      uint64_t n = some_contact(t);
      if (!n) return false;
      auto& c = t.contacts[n - 1];
      ev::lead_updated u;
      u.lead_id = "L" + std::to_string(n);
      if (chance(0.4)) u.name = text(2);
      if (chance(0.2)) u.phone = c.phone = chance(0.9) ? fresh_phone(t) : "";
      if (chance(0.2)) u.email = u.lead_id + "@example.org";
      if (chance(0.5) || (!u.name && !u.phone && !u.email))
        u.status = pick({"new", "contacted", "qualified", "won", "lost"});
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{u}, t.subject_of(u.lead_id));
      return true;
    }
    case convert:
    case remove: {
      // Neither names the subject, so an erased contact may still be
      // converted or deleted: the views must skip what they no longer have.
      if (t.contacts.empty()) return false;
      uint64_t n = below(t.contacts.size()) + 1;
      auto& c = t.contacts[n - 1];
      if (c.deleted || (kind == convert && c.customer)) return false;
      std::string id = "L" + std::to_string(n);
      begin(t.tenant_stream(), me);
      if (kind == convert) {
        add(ev::tenant_event{ev::lead_converted{id}});
        c.customer = true;
      } else if (below(4) == 0) {
        // The record of an erasure on request (the key itself is destroyed
        // by erase_step(), which only picks contacts nothing has folded).
        add(ev::tenant_event{ev::contact_erased{id}});
        c.deleted = true;
      } else {
        add(ev::tenant_event{ev::lead_deleted{id}});
        c.deleted = true;
      }
      return true;
    }
    case settings:
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::settings_changed{pick({"IL", "US", "DE"}), pick({"he", "en", "de"}),
                                               pick({"Asia/Jerusalem", "America/New_York", "Europe/Berlin"}),
                                               pick({"baileys", "cloud"})}});
      return true;
    case pipeline: {
      t.pipeline = {"new", "qualified"};
      if (chance(0.5)) t.pipeline.push_back("demo");
      t.pipeline.push_back(chance(0.5) ? "proposal" : "negotiation");
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::pipeline_changed{t.pipeline}});
      return true;
    }
    case token:
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::whatsapp_token_changed{chance(0.2)}});
      return true;
    case prompt_new:
    case prompt_edit: {
      if (kind == prompt_edit && t.prompts.empty()) return false;
      uint64_t n = kind == prompt_new ? t.prompts.size() + 1 : below(t.prompts.size()) + 1;
      if (kind == prompt_new) t.prompts.emplace_back();
      auto& p = t.prompts[n - 1];
      if (kind == prompt_edit) {
        if (p.deleted) return false;
        ++p.version;
      }
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::prompt_saved{"p" + std::to_string(n), p.version, text(2), text(12),
                                            pick({"call_summary", "whatsapp_reply", "general"})}});
      return true;
    }
    case prompt_delete: {
      if (t.prompts.empty()) return false;
      uint64_t n = below(t.prompts.size()) + 1;
      if (t.prompts[n - 1].deleted) return false;
      t.prompts[n - 1].deleted = true;
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::prompt_deleted{"p" + std::to_string(n)}});
      return true;
    }
    case timer: {
      std::string id = "reminder:" + std::to_string(t.timers.size() + below(1000) * 1000);
      t.timers.push_back(id);
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::timer_set{id, now_ish() + 3'600'000'000, "reminder"}});
      return true;
    }
    case fire: {
      if (t.timers.empty()) return false;
      std::swap(pick(t.timers), t.timers.back());
      begin(t.tenant_stream(), "system");
      add(ev::tenant_event{ev::timer_fired{t.timers.back()}});
      t.timers.pop_back();
      return true;
    }
    default:
      begin(t.tenant_stream(), me);
      add(ev::tenant_event{ev::tenant_renamed{"Renamed " + text(1)}});
      return true;
  }
}

}  // namespace crmd::test
