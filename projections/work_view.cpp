// tasks     v/tasks/<t>/t/<be64 n>               task T<n> (JSON)
//           v/tasks/<t>/c/<contact>/<be64 n>      index: tasks about a contact
//           v/tasks/<t>/#                         tasks (u64be)
//           v/tasks/<t>/#open                     of them open, not done (u64be): admin stats
// timeline  v/timeline/<t>/<contact>/i/<be64 ~position>  one item (JSON), newest first
//           v/timeline/<t>/<contact>/#                   items (u64be)
//           v/timeline/<t>/task/<task id>                the contact a task is about
//           v/timeline/<t>/doc/<contract or invoice id>  the customer it belongs to
//           v/timeline/<t>/call/<CallSid>                the contact a call reached
//
// Items: {"type","title","ts","ref_id","position"}; types lead.created,
// lead.updated, lead.converted, lead.deleted, note, task.created, task.done,
// task.reopened, task.rescheduled, task.due, contract.created, contract.<status>,
// signature, invoice.created, invoice.<status>, payment, call, call_transcribed,
// call_summary (which also carries {"summary"}). When a contact's subject is
// erased its timeline is removed (its items quote its personal data); call
// events carry that subject too, so once erased they add nothing.
#include <nlohmann/json.hpp>

#include "actors/crm/contacts.hpp"
#include "actors/crm/work.hpp"
#include "events/call_events.hpp"
#include "events/codec.hpp"
#include "events/whatsapp_events.hpp"
#include "events/time_format.hpp"
#include "projections/json_out.hpp"
#include "projections/view_util.hpp"
#include "projections/work_view.hpp"

namespace crmd::views {
namespace {

using json = nlohmann::json;
using util::bump;
using util::dump;
using util::scan_page;
using util::upper_of;

// Titles quote the user's text: cut long ones on a UTF-8 boundary.
std::string excerpt(const std::string& s, size_t max = 200) {
  if (s.size() <= max) return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "\xE2\x80\xA6";
}

class tasks_view : public projection {
 public:
  const char* name() const override { return "tasks"; }
  bool folds(std::string_view type) const override { return type.rfind("task_", 0) == 0; }
  status apply(const log_entry& e, view_txn& t) override {
    const auto& r = e.record;
    if (!folds(r.type)) return status::ok();
    std::string base = std::string(r.tenant) + "/";
    if (e.erased) return status::ok();  // the task's title is gone with its contact; the entry stays as it was
    auto ev = codec::decode<ev::tenant_event>(r.type, r.schema_version, e.payload);
    if (!ev) return ev.error();
    std::string when = rfc3339(r.recorded_at_us);
    if (auto* c = std::get_if<ev::task_created>(&*ev)) {
      auto n = crm::parse_task_id(c->task_id);
      if (!n) return {errc::corruption, "malformed task id"};
      json j = {{"id", c->task_id}, {"customer_id", c->about_id.empty() ? json(nullptr) : json(c->about_id)},
                {"title", c->title}, {"due_at", c->due_us > 0 ? json(rfc3339(c->due_us)) : json(nullptr)},
                {"status", "open"}, {"due", false}, {"created_at", when}, {"updated_at", when},
                {"position", r.position}};
      t.put(base + "t/" + be64(*n), dump(j));
      if (!c->about_id.empty()) t.put(base + "c/" + c->about_id + "/" + be64(*n), "");
      bump(t, base + "#", 1);
      bump(t, base + "#open", 1);
      return status::ok();
    }
    std::string id;
    if (auto* x = std::get_if<ev::task_completed>(&*ev)) id = x->task_id;
    if (auto* x = std::get_if<ev::task_reopened>(&*ev)) id = x->task_id;
    if (auto* x = std::get_if<ev::task_rescheduled>(&*ev)) id = x->task_id;
    if (auto* x = std::get_if<ev::task_due>(&*ev)) id = x->task_id;
    auto n = crm::parse_task_id(id);
    if (!n) return status::ok();
    auto cur = t.get(base + "t/" + be64(*n));
    if (!cur) return status::ok();
    auto j = json::parse(*cur, nullptr, false);
    if (!j.is_object()) return {errc::corruption, "malformed task view entry"};
    j["updated_at"] = when;
    j["position"] = r.position;
    // The counter moves with the entry's status, so it always equals the
    // number of entries that say "open" (also for a repeated event).
    bool was_open = j.value("status", "") == "open";
    if (std::holds_alternative<ev::task_completed>(*ev)) j["status"] = "done";
    if (std::holds_alternative<ev::task_reopened>(*ev)) j["status"] = "open";
    bool is_open = j.value("status", "") == "open";
    if (was_open != is_open) bump(t, base + "#open", is_open ? 1 : -1);
    if (auto* x = std::get_if<ev::task_rescheduled>(&*ev)) {
      j["due_at"] = rfc3339(x->due_us);
      j["due"] = false;
      if (x->snoozed) j["snoozed_until"] = rfc3339(x->due_us);
    }
    if (std::holds_alternative<ev::task_due>(*ev)) j["due"] = true;
    t.put(base + "t/" + be64(*n), dump(j));
    return status::ok();
  }
};

class timeline_view : public projection {
 public:
  const char* name() const override { return "timeline"; }
  bool folds(std::string_view type) const override {
    return codec::knows_type<ev::call_event>(type) || type == ev::wa_message_received::type_name ||
           type.rfind("lead_", 0) == 0 || type.rfind("task_", 0) == 0 || type == "note_added" ||
           type.rfind("contract_", 0) == 0 || type.rfind("invoice_", 0) == 0 || type == "signature_recorded";
  }
  status apply(const log_entry& e, view_txn& t) override {
    const auto& r = e.record;
    if (!folds(r.type)) return status::ok();
    if (codec::knows_type<ev::call_event>(r.type)) return apply_call(e, t);
    if (r.type == ev::wa_message_received::type_name) return apply_message(e, t);
    bool lead = r.type.rfind("lead_", 0) == 0, task = r.type.rfind("task_", 0) == 0, note = r.type == "note_added";
    bool doc = r.type.rfind("contract_", 0) == 0 || r.type.rfind("invoice_", 0) == 0 || r.type == "signature_recorded";
    if (!lead && !task && !note && !doc) return status::ok();
    std::string base = std::string(r.tenant) + "/";
    if (e.erased) {
      if (r.type == "lead_created") return forget(base, r.subject, t);
      return status::ok();
    }
    auto ev = codec::decode<ev::tenant_event>(r.type, r.schema_version, e.payload);
    if (!ev) return ev.error();
    std::string contact, type, title, ref;
    std::visit([&](const auto& x) {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, ev::lead_created>) {
        contact = x.lead_id, type = "lead.created", title = "Lead created: " + x.name, ref = x.lead_id;
      } else if constexpr (std::is_same_v<T, ev::lead_updated>) {
        contact = x.lead_id, type = "lead.updated", ref = x.lead_id;
        title = x.status ? "Status: " + *x.status : "Details updated";
      } else if constexpr (std::is_same_v<T, ev::lead_converted>) {
        contact = x.lead_id, type = "lead.converted", title = "Became a customer", ref = x.lead_id;
      } else if constexpr (std::is_same_v<T, ev::lead_deleted>) {
        contact = x.lead_id, type = "lead.deleted", title = "Deleted", ref = x.lead_id;
      } else if constexpr (std::is_same_v<T, ev::note_added>) {
        contact = x.about_id, type = "note", title = excerpt(x.text), ref = x.note_id;
      } else if constexpr (std::is_same_v<T, ev::task_created>) {
        contact = x.about_id, type = "task.created", title = excerpt(x.title), ref = x.task_id;
        if (!x.about_id.empty()) t.put(base + "task/" + x.task_id, x.about_id);
      } else if constexpr (std::is_same_v<T, ev::task_completed>) {
        type = "task.done", title = "Task done", ref = x.task_id;
      } else if constexpr (std::is_same_v<T, ev::task_reopened>) {
        type = "task.reopened", title = "Task reopened", ref = x.task_id;
      } else if constexpr (std::is_same_v<T, ev::task_rescheduled>) {
        type = "task.rescheduled", ref = x.task_id;
        title = (x.snoozed ? "Task snoozed until " : "Task moved to ") + rfc3339(x.due_us);
      } else if constexpr (std::is_same_v<T, ev::task_due>) {
        type = "task.due", title = "Task due", ref = x.task_id;
      } else if constexpr (std::is_same_v<T, ev::contract_created>) {
        contact = x.customer_id, type = "contract.created", title = excerpt(x.title), ref = x.contract_id;
        t.put(base + "doc/" + x.contract_id, x.customer_id);
      } else if constexpr (std::is_same_v<T, ev::contract_status_changed>) {
        type = "contract." + x.status, title = "Contract " + x.status, ref = x.contract_id;
      } else if constexpr (std::is_same_v<T, ev::signature_recorded>) {
        contact = x.customer_id, type = "signature", title = "Signed by " + x.signer_name, ref = x.signature_id;
      } else if constexpr (std::is_same_v<T, ev::invoice_created>) {
        contact = x.customer_id, type = "invoice.created", ref = x.invoice_id;
        title = "Invoice " + x.invoice_id + ": " + std::to_string(x.total) + " " + x.currency;
        t.put(base + "doc/" + x.invoice_id, x.customer_id);
      } else if constexpr (std::is_same_v<T, ev::invoice_status_changed>) {
        type = "invoice." + x.status, title = "Invoice " + x.status, ref = x.invoice_id;
      } else if constexpr (std::is_same_v<T, ev::invoice_paid>) {
        type = "payment", ref = x.invoice_id;
        title = "Paid " + std::to_string(x.amount) + " " + x.currency;
      }
    }, *ev);
    if (contact.empty() && task && !ref.empty())
      if (auto about = t.get(base + "task/" + ref)) contact = *about;
    if (contact.empty() && doc && !ref.empty())
      if (auto owner = t.get(base + "doc/" + ref)) contact = *owner;
    if (contact.empty() || type.empty()) return status::ok();
    put_item(t, base + contact + "/", r, {type, title, ref});
    return status::ok();
  }

 private:
  struct item {
    std::string_view type, title, ref_id;
    std::optional<std::string_view> direction = {}, summary = {};
  };

  // The item gains its time and position.
  static void put_item(view_txn& t, const std::string& prefix, const record_view& r, const item& i) {
    std::string v;
    json_out o(v);
    if (i.direction) o.str("direction", *i.direction);
    o.num("position", r.position).str("ref_id", i.ref_id);
    if (i.summary) o.str("summary", *i.summary);
    o.str("title", i.title).str("ts", rfc3339(r.recorded_at_us)).str("type", i.type).close();
    t.put(prefix + "i/" + be64(~r.position), v);
    bump(t, prefix + "#", 1);
  }

  // Calls (streams "<t>/call/<CallSid>"): only call_started names the
  // contact, so later events find it through call/<CallSid>.
  static status apply_call(const log_entry& e, view_txn& t) {
    const auto& r = e.record;
    bool started = r.type == ev::call_started::type_name, transcribed = r.type == ev::call_transcribed::type_name,
         summarized = r.type == ev::call_summarized::type_name;
    if ((!started && !transcribed && !summarized) || e.erased) return status::ok();
    auto at = r.stream.find("/call/");
    if (at == std::string_view::npos) return status::ok();
    std::string base = std::string(r.tenant) + "/", sid(r.stream.substr(at + 6));
    auto ev = codec::decode<ev::call_event>(r.type, r.schema_version, e.payload);
    if (!ev) return ev.error();
    if (auto* s = std::get_if<ev::call_started>(&*ev)) {
      if (s->contact_id.empty()) return status::ok();
      t.put(base + "call/" + sid, s->contact_id);
      std::string title = s->direction == "inbound" ? "Incoming call from " + s->from : "Outgoing call to " + s->to;
      put_item(t, base + s->contact_id + "/", r, {"call", title, sid});
      return status::ok();
    }
    auto contact = t.get(base + "call/" + sid);
    if (!contact) return status::ok();
    if (auto* s = std::get_if<ev::call_summarized>(&*ev)) {
      std::string title = excerpt(s->summary);
      put_item(t, base + *contact + "/", r, {"call_summary", title, sid, std::nullopt, s->summary});
    } else {
      put_item(t, base + *contact + "/", r, {"call_transcribed", "Call transcribed", sid});
    }
    return status::ok();
  }

  // WhatsApp messages: live ones join the contact's timeline; history
  // (upsert "append") is stored but not on it.
  static status apply_message(const log_entry& e, view_txn& t) {
    if (e.erased) return status::ok();  // the contact's erasure clears its timeline
    const auto& r = e.record;
    auto ev = codec::decode<ev::whatsapp_event>(r.type, r.schema_version, e.payload);
    if (!ev) return ev.error();
    auto& m = std::get<ev::wa_message_received>(*ev);
    if (m.contact_id.empty() || m.history) return status::ok();
    std::string what = !m.text.empty() ? m.text : "[" + m.media_type + "]";
    std::string title = excerpt(what);
    put_item(t, std::string(r.tenant) + "/" + m.contact_id + "/", r,
             {"whatsapp", title, m.message_id, m.from_me ? "out" : "in"});
    return status::ok();
  }

  static status forget(const std::string& base, std::string_view subject, view_txn& t) {
    auto slash = subject.rfind('/');
    std::string contact(subject.substr(slash == std::string_view::npos ? 0 : slash + 1));
    if (contact.empty()) return status::ok();
    std::string lo = base + contact + "/i/";
    while (auto last = t.last(lo, upper_of(lo))) t.del(last->first);
    t.del(base + contact + "/#");
    return status::ok();
  }
};

std::string key(const char* view, const std::string& rest) { return view_prefix(view) + rest; }


}  // namespace

std::unique_ptr<projection> make_tasks_view() { return std::make_unique<tasks_view>(); }
std::unique_ptr<projection> make_timeline_view() { return std::make_unique<timeline_view>(); }

result<page> list_tasks(kv_store& kv, const std::string& tenant, const std::string& about, uint64_t page_no,
                        uint64_t limit) {
  if (about.empty()) return scan_page(kv, key("tasks", tenant + "/t/"), key("tasks", tenant + "/#"), page_no, limit);
  // Tasks about one contact: walk its index (a contact has few tasks).
  page out;
  std::string prefix = key("tasks", tenant + "/c/" + about + "/");
  uint64_t skip = (page_no - 1) * limit;
  auto it = kv.scan(cf::projections, prefix, upper_of(prefix));
  for (; it->valid(); it->next()) {
    ++out.total;
    if (skip > 0) {
      --skip;
      continue;
    }
    if (out.items.size() >= limit) continue;
    std::string v;
    auto k = it->key();
    if (kv.get(cf::projections, key("tasks", tenant + "/t/") + std::string(k.substr(k.size() - 8)), &v).is_ok())
      out.items.push_back(std::move(v));
  }
  if (auto e = it->error(); !e) return e;
  return out;
}

result<uint64_t> count_open_tasks(kv_store& kv, const std::string& tenant) {
  return util::get_count(kv, key("tasks", tenant + "/#open"));
}

result<std::optional<std::string>> get_task(kv_store& kv, const std::string& tenant, const std::string& id) {
  auto n = crm::parse_task_id(id);
  if (!n) return std::optional<std::string>{};
  std::string v;
  auto s = kv.get(cf::projections, key("tasks", tenant + "/t/" + be64(*n)), &v);
  if (s.code() == errc::not_found) return std::optional<std::string>{};
  if (!s) return s;
  return std::optional<std::string>{std::move(v)};
}

result<page> timeline(kv_store& kv, const std::string& tenant, const std::string& contact, uint64_t page_no,
                      uint64_t limit) {
  return scan_page(kv, key("timeline", tenant + "/" + contact + "/i/"), key("timeline", tenant + "/" + contact + "/#"),
                   page_no, limit);
}

}  // namespace crmd::views
