// The state behind history_generator: what exists so far in each tenant,
// so every event refers to things that exist and moves them plausibly.
// Internal to history_generator*.cpp.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "events/codec.hpp"
#include "tests/projections/history_generator.hpp"

namespace crmd::test {

struct contact_m {
  std::string phone;
  bool customer = false, deleted = false, erased = false;
  uint64_t first_position = 0;  // of its lead_created
};
struct task_m {
  std::string about;
  bool open = true;
  uint32_t generation = 1;
};
struct prompt_m {
  uint32_t version = 1;
  bool deleted = false;
};
struct contract_m {
  std::string customer, status = "draft";
};
struct invoice_m {
  std::string customer, currency, status = "pending";
  int64_t total = 0;
};
struct deal_m {
  bool closed = false;
};
struct call_m {
  std::string sid, contact;
  int stage = 0;  // see history_channels.cpp
  int64_t seq = 0;
  int recordings = 0;
};
struct session_m {
  std::string status = "stopped";
  int64_t seq = 0, qr = 0, failures = 0;
};
struct message_m {
  std::string session, jid, id, contact;
  bool from_me = false;
};
struct user_m {
  std::string id, role;
  bool deleted = false, erased = false;
  uint64_t first_position = 0;
};

struct tenant_m {
  std::string id;
  std::string status = "active";  // active | suspended | deleted (then it falls silent)
  std::vector<contact_m> contacts;  // L<n> at [n-1]
  std::vector<task_m> tasks;        // T<n>
  std::vector<prompt_m> prompts;    // p<n>
  std::vector<contract_m> contracts;  // C<n>
  std::vector<invoice_m> invoices;  // I<n>
  std::vector<deal_m> deals;        // D<n>
  std::vector<std::string> pipeline{"new", "qualified", "proposal", "negotiation"};
  std::vector<std::string> timers;  // pending general-purpose timers
  std::vector<call_m> calls;        // calls that may still record something
  std::map<std::string, session_m> sessions;
  std::vector<message_m> messages;  // stored ones: statuses and redeliveries refer to them
  std::vector<message_m> overtaken; // statuses went first; the message is still to come
  std::vector<user_m> users;
  uint64_t notes = 0, signatures = 0, calls_started = 0, message_ids = 0, phones = 0;

  std::string stream(const std::string& kind, const std::string& id) const { return this->id + "/" + kind + "/" + id; }
  std::string tenant_stream() const { return stream("tenant", id); }
  std::string subject_of(const std::string& contact) const { return id + "/lead/" + contact; }
};

struct history_generator::model {
  std::mt19937_64 rng;
  std::vector<tenant_m> tenants;
  std::vector<user_m> admins;  // system admins ("system/users/system")
  uint64_t positions = 0, folded = 0, erasures = 0, redeliveries = 0, requests = 0, next_user = 1;
  std::map<std::string, uint64_t> counts;
  std::unordered_set<std::string> idempotency_keys;  // used so far: a repeat is deduplicated
  std::vector<std::pair<size_t, uint64_t>> recent_contacts;  // (tenant, n), newest last: erasure candidates
  history_step out;  // the step being built

  // Randomness: uniform below n (n > 0), and a coin with probability p.
  uint64_t below(uint64_t n) { return rng() % n; }
  bool chance(double p) { return double(rng() >> 11) * 0x1.0p-53 < p; }
  template <class T> T& pick(std::vector<T>& v) { return v[below(v.size())]; }
  const char* pick(std::initializer_list<const char*> v) { return v.begin()[below(v.size())]; }
  // An index into `weights`, drawn in proportion to them.
  int weighted(std::initializer_list<int> weights) {
    int total = 0, kind = 0;
    for (int w : weights) total += w;
    int r = int(below(uint64_t(total)));
    for (int w : weights) {
      if (r < w) break;
      r -= w, ++kind;
    }
    return kind;
  }

  // The next step's append, on `stream`, caused by `causer`.
  void begin(const std::string& stream, const std::string& causer);
  // Adds one event of `Variant` to the step's append, sealed for `subject`.
  // `stored` is false for a redelivery the log will deduplicate.
  template <class Variant>
  void add(const Variant& e, const std::string& subject = {}, bool stored = true) {
    auto enc = codec::encode(e);
    out.append.events.push_back(new_event{enc.type, enc.schema_version, std::move(enc.payload), subject});
    if (!stored) return;
    counts[enc.type] += 1;
    out.positions += 1;
  }
  uint64_t next_position() const { return positions + out.positions + 1; }

  // Live, not erased contacts of `t` (by number); empty when there is none.
  uint64_t some_contact(tenant_m& t, bool customers_only = false);
  std::string text(size_t words);
  std::string fresh_phone(tenant_m& t);
  int64_t now_ish() const { return 1'700'000'000'000'000 + int64_t(positions) * 2'000'000; }

  // One step of each area; false when the area had nothing to do now.
  bool crm_step(tenant_m& t);
  bool work_step(tenant_m& t);
  bool documents_step(tenant_m& t);
  bool call_step(tenant_m& t);
  bool session_step(tenant_m& t);
  bool message_step(tenant_m& t);
  bool registry_step(tenant_m& t);
  bool auth_step(tenant_m& t);
  bool unrouted_step();
  bool erase_step();
};

}  // namespace crmd::test
