// The messages view: WhatsApp messages by tenant and by contact, and the
// state of each WhatsApp session.
//
//   v/messages/<t>/a/<be64(~position)>              message JSON, every message, newest first
//   v/messages/<t>/#a                               their number (u64be)
//   v/messages/<t>/c/<contact>/<be64(~position)>    the same JSON, per contact
//   v/messages/<t>/#c/<contact>                     their number
//   v/messages/<t>/k/<session>\0<jid>\0<id>         "<position>/<contact>" of the message, for status updates
//   v/messages/<t>/e/<session>\0<jid>\0<id>         the best status that came before its message
//   v/messages/<t>/s/<session>                      {"session","status","since","position"} of a session
//                                                   (events of "<t>/wa/<session>")
//   v/messages/<t>/#connected                       sessions whose status is "connected" (u64be): admin stats
//
// Statuses only move forward (pending < sent < failed < delivered < read <
// played): a late "delivered" after "read" changes nothing. A status can
// overtake its message (the bridge retries a failed upsert while the ack
// gets through); it waits under e/ and is applied when the message comes,
// since the log will never deliver it again (it is deduplicated). An erased
// contact's messages leave both lists (their text must not outlive the key).
#include <nlohmann/json.hpp>

#include "actors/whatsapp/session_decider.hpp"
#include "events/codec.hpp"
#include "events/time_format.hpp"
#include "events/whatsapp_events.hpp"
#include "projections/messages_view.hpp"
#include "projections/json_out.hpp"
#include "projections/view_util.hpp"

namespace crmd::views {
namespace {

using json = nlohmann::json;
using util::bump;
using util::dump;

int rank(std::string_view status) {
  static const char* order[] = {"pending", "sent", "failed", "delivered", "read", "played"};
  for (int i = 0; i < 6; ++i)
    if (status == order[i]) return i;
  return -1;
}

std::string contact_of(std::string_view subject) {
  auto slash = subject.rfind('/');
  return std::string(subject.substr(slash == std::string_view::npos ? 0 : slash + 1));
}

// "sent" or "received", unless a better status overtook the message.
std::string initial_status(view_txn& t, const std::string& base, const ev::wa_message_received& m) {
  std::string st = m.from_me ? "sent" : "received";
  std::string early_key = base + "e/" + m.session + '\0' + m.remote_jid + '\0' + m.message_id;
  if (auto early = t.get(early_key)) {
    if (rank(*early) > rank(st)) st = *early;
    t.del(early_key);
  }
  return st;
}

class messages_view : public projection {
 public:
  const char* name() const override { return "messages"; }
  // Session events (of "<t>/wa/<session>") and messages are all WhatsApp events.
  bool folds(std::string_view type) const override { return codec::knows_type<ev::whatsapp_event>(type); }

  status apply(const log_entry& e, view_txn& t) override {
    const auto& r = e.record;
    if (!folds(r.type)) return status::ok();
    if (r.stream.find("/wa/") != std::string_view::npos && codec::knows_type<ev::whatsapp_event>(r.type))
      return apply_session(e, t);
    bool received = r.type == ev::wa_message_received::type_name, st = r.type == ev::wa_message_status::type_name;
    if (!received && !st) return status::ok();
    std::string base = std::string(r.tenant) + "/";
    std::string at = be64(~r.position);
    if (e.erased) {  // only messages carry a subject
      // Usually never stored (a rebuild, or a view behind the erasure): then
      // there is nothing to count down.
      if (t.get(base + "a/" + at)) {
        t.del(base + "a/" + at);
        bump(t, base + "#a", -1);
      }
      std::string contact = contact_of(r.subject);
      if (!contact.empty() && t.get(base + "c/" + contact + "/" + at)) {
        t.del(base + "c/" + contact + "/" + at);
        bump(t, base + "#c/" + contact, -1);
      }
      return status::ok();
    }
    auto ev = codec::decode<ev::whatsapp_event>(r.type, r.schema_version, e.payload);
    if (!ev) return ev.error();
    if (auto* m = std::get_if<ev::wa_message_received>(&*ev)) {
      std::string media, entry;
      if (!m->media_type.empty())
        json_out(media)
            .str("caption", m->caption)
            .str("mimetype", m->mimetype)
            .num("size", m->size)
            .str("type", m->media_type)
            .close();
      json_out o(entry);
      o.str_or_null("contact_id", m->contact_id)
          .str("direction", m->from_me ? "out" : "in")
          .boolean("history", m->history)
          .str("id", m->message_id);
      if (!media.empty()) o.raw("media", media);
      o.num("position", r.position)
          .str("push_name", m->push_name)
          .str("received_at", rfc3339(r.recorded_at_us))
          .str("remote_jid", m->remote_jid)
          .str("sent_at", rfc3339(m->sent_at * 1'000'000))
          .str("session", m->session)
          .str("status", initial_status(t, base, *m))
          .str("text", m->text)
          .close();
      t.put(base + "a/" + at, entry);
      bump(t, base + "#a", 1);
      if (!m->contact_id.empty()) {
        t.put(base + "c/" + m->contact_id + "/" + at, entry);
        bump(t, base + "#c/" + m->contact_id, 1);
      }
      t.put(base + "k/" + m->session + '\0' + m->remote_jid + '\0' + m->message_id,
            std::to_string(r.position) + "/" + m->contact_id);
      return status::ok();
    }
    auto& s = std::get<ev::wa_message_status>(*ev);
    std::string id = s.session + '\0' + s.remote_jid + '\0' + s.message_id;
    auto ref = t.get(base + "k/" + id);
    if (!ref) {  // not stored yet (or never): keep the best status for when it comes
      auto early = t.get(base + "e/" + id);
      if (!early || rank(s.status) > rank(*early)) t.put(base + "e/" + id, s.status);
      return status::ok();
    }
    auto slash = ref->find('/');
    std::string where = be64(~std::stoull(ref->substr(0, slash))), contact = ref->substr(slash + 1);
    auto cur = t.get(base + "a/" + where);
    if (!cur) return status::ok();  // erased since
    // Most often only the status changes in place; parsing the entry is
    // left for shapes the quick path does not know.
    if (auto old = plain_string_field(*cur, "status")) {
      if (rank(s.status) <= rank(*old)) return status::ok();
      if (auto updated = with_plain_string_field(*cur, "status", s.status)) {
        t.put(base + "a/" + where, *updated);
        if (!contact.empty()) t.put(base + "c/" + contact + "/" + where, *updated);
        return status::ok();
      }
    }
    auto j = json::parse(*cur, nullptr, false);
    if (!j.is_object() || rank(s.status) <= rank(j.value("status", ""))) return status::ok();
    j["status"] = s.status;
    t.put(base + "a/" + where, dump(j));
    if (!contact.empty()) t.put(base + "c/" + contact + "/" + where, dump(j));
    return status::ok();
  }

 private:
  // A session's status, by the session aggregate's own apply() (the status
  // follows from the event types alone), so view and actor cannot disagree.
  static status apply_session(const log_entry& e, view_txn& t) {
    const auto& r = e.record;
    auto ev = codec::decode<ev::whatsapp_event>(r.type, r.schema_version, e.payload);
    if (!ev) return ev.error();
    wa::state s;
    std::string base = std::string(r.tenant) + "/";
    std::string session(r.stream.substr(r.stream.find("/wa/") + 4));
    auto cur = t.get(base + "s/" + session);
    auto j = cur ? json::parse(*cur, nullptr, false) : json::object();
    if (!j.is_object()) return {errc::corruption, "malformed session view entry"};
    s.status = j.value("status", s.status);
    std::string before = s.status;
    wa::apply(s, *ev, r.recorded_at_us);
    if (s.status == before && cur) return status::ok();
    if (before == "connected" && s.status != "connected") bump(t, base + "#connected", -1);
    if (before != "connected" && s.status == "connected") bump(t, base + "#connected", 1);
    t.put(base + "s/" + session, dump(json{{"session", session}, {"status", s.status},
                                          {"since", rfc3339(r.recorded_at_us)}, {"position", r.position}}));
    return status::ok();
  }
};

std::string key(const std::string& rest) { return view_prefix("messages") + rest; }

}  // namespace

std::unique_ptr<projection> make_messages_view() { return std::make_unique<messages_view>(); }

result<uint64_t> count_messages(kv_store& kv, const std::string& tenant) {
  return util::get_count(kv, key(tenant + "/#a"));
}

result<uint64_t> count_connected_sessions(kv_store& kv, const std::string& tenant) {
  return util::get_count(kv, key(tenant + "/#connected"));
}

result<page> list_messages(kv_store& kv, const std::string& tenant, const std::string& contact_id, uint64_t page_no,
                           uint64_t limit) {
  if (contact_id.empty()) return util::scan_page(kv, key(tenant + "/a/"), key(tenant + "/#a"), page_no, limit);
  return util::scan_page(kv, key(tenant + "/c/" + contact_id + "/"), key(tenant + "/#c/" + contact_id), page_no, limit);
}

}  // namespace crmd::views
