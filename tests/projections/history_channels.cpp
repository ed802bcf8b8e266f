// history_generator: phone calls ("<t>/call/<CallSid>", "system/twilio/unrouted"),
// WhatsApp sessions ("<t>/wa/<session>") and messages ("<t>/wamsg/<session>"),
// the registry ("system/registry/tenants", "<t>/users/<t>") and sign-ins
// ("<t>/auth/<t>").
#include "events/call_events.hpp"
#include "events/identity_events.hpp"
#include "events/whatsapp_events.hpp"
#include "tests/projections/history_model.hpp"

namespace crmd::test {
namespace {

std::string digits_of(const std::string& phone) { return phone.empty() ? "0" : phone.substr(1); }

}  // namespace

// A call walks ringing -> in-progress -> completed -> recording ->
// download -> transcript -> summary, one callback or pipeline outcome per
// step; failures end it early or loop back, as the call decider allows.
bool history_generator::model::call_step(tenant_m& t) {
  if (t.calls.empty() || chance(0.3)) {
    call_m c;
    c.sid = "CA" + t.id + "x" + std::to_string(++t.calls_started);
    uint64_t n = chance(0.85) ? some_contact(t) : 0;
    if (n) c.contact = "L" + std::to_string(n);
    std::string caller = n && !t.contacts[n - 1].phone.empty() ? t.contacts[n - 1].phone : "+15550001111";
    bool inbound = chance(0.7);
    begin(t.stream("call", c.sid), "twilio");
    add(ev::call_event{ev::call_started{c.sid, inbound ? caller : "+97230000000", inbound ? "+97230000000" : caller,
                                        inbound ? "inbound" : "outbound-api", c.contact,
                                        pick({"ringing", "queued", "in-progress"})}},
        n ? t.subject_of(c.contact) : "");
    c.stage = 1;
    t.calls.push_back(c);
    return true;
  }
  size_t at = below(t.calls.size());
  auto& c = t.calls[at];
  auto drop = [&] {
    std::swap(t.calls[at], t.calls.back());
    t.calls.pop_back();
  };
  // The contact's erasure ends what can be recorded about the call.
  if (!c.contact.empty() && t.contacts[std::stoull(c.contact.substr(1)) - 1].erased) {
    drop();
    return false;
  }
  std::string subject = c.contact.empty() ? "" : t.subject_of(c.contact);
  std::string rec = "RE" + c.sid.substr(2) + "r" + std::to_string(c.recordings);
  begin(t.stream("call", c.sid), c.stage >= 4 ? "system" : "twilio");
  auto call = [&](auto e) { add(ev::call_event{e}, subject); };
  switch (c.stage) {
    case 1:
      if (chance(0.15)) {
        call(ev::call_status_changed{c.sid, pick({"busy", "no-answer", "failed", "canceled"}), ++c.seq, -1});
        drop();
        return true;
      }
      call(ev::call_status_changed{c.sid, "in-progress", ++c.seq, -1});
      c.stage = 2;
      return true;
    case 2:
      call(ev::call_status_changed{c.sid, "completed", ++c.seq, int64_t(below(900) + 1)});
      c.stage = 3;
      return true;
    case 3:
      ++c.recordings;
      rec = "RE" + c.sid.substr(2) + "r" + std::to_string(c.recordings);
      if (chance(0.15)) {
        call(ev::recording_failed{c.sid, rec, pick({"failed", "absent"})});
        if (chance(0.5)) drop();
        return true;
      }
      call(ev::recording_available{c.sid, rec, "https://api.twilio.com/rec/" + rec, int64_t(below(600))});
      c.stage = 4;
      return true;
    case 4:
      if (chance(0.2)) {
        call(ev::recording_download_failed{c.sid, rec, "unavailable (HTTP 503)"});
        if (chance(0.3)) c.stage = 3;  // another recording comes
        return true;
      }
      call(ev::recording_downloaded{c.sid, rec, "recordings/" + t.id + "/" + c.sid + "-" + rec + ".mp3",
                                    std::string(64, 'f'), int64_t(below(1'000'000)), int64_t(below(3) + 1)});
      c.stage = 5;
      return true;
    case 5:
      if (chance(0.2)) {
        call(ev::call_transcription_failed{c.sid, {"primary: unavailable (HTTP 500)", "fallback: timeout"}});
        c.stage = 7;
        return true;
      }
      call(ev::call_transcribed{c.sid, text(20), pick({"he", "en"}), pick({"whisper", "deepgram"}),
                                chance(0.3) ? std::vector<std::string>{"primary: unavailable (HTTP 500)"}
                                            : std::vector<std::string>{}});
      c.stage = 6;
      return true;
    case 6:
      if (chance(0.2)) call(ev::call_summary_failed{c.sid, "model overloaded"});
      else call(ev::call_summarized{c.sid, text(10)});
      c.stage = 7;
      return true;
    default:
      if (chance(0.6)) {
        drop();
        return false;
      }
      out.append.meta.causer = t.users.empty() ? "operator" : pick(t.users).id;
      call(ev::transcription_retry_requested{c.sid});
      c.stage = 5;
      return true;
  }
}

bool history_generator::model::unrouted_step() {
  begin("system/twilio/unrouted", "twilio");
  add(ev::call_event{ev::call_unrouted{"CAunrouted" + std::to_string(requests), "+1555" + std::to_string(below(1000))}});
  return true;
}

// The session aggregate's moves (actors/whatsapp/session_decider.cpp).
bool history_generator::model::session_step(tenant_m& t) {
  std::string name = pick({"main", "sales"});
  auto& s = t.sessions[name];
  begin(t.stream("wa", name), "bridge");
  auto wa = [&](auto e) { add(ev::whatsapp_event{e}); };
  const std::string& st = s.status;
  if (st == "stopped" || st == "logged_out" || st == "failed") {
    out.append.meta.causer = t.users.empty() ? "operator" : pick(t.users).id;
    wa(ev::wa_start_requested{name, pick({"user", "restart", "reconcile"})});
    s.status = "starting", s.qr = 0;
  } else if (st == "starting" || (st == "qr" && chance(0.5))) {
    if (st == "starting" && chance(0.3)) {
      wa(ev::wa_connected{name, "97250" + std::to_string(below(1'000'000)) + "@s.whatsapp.net", "Shop", ++s.seq});
      s.status = "connected";
    } else if (s.qr >= 3 && chance(0.3)) {
      wa(ev::wa_stopped{name, "qr_attempts_exhausted"});
      s.status = "stopped";
    } else {
      wa(ev::wa_qr_shown{name, ++s.qr, ++s.seq});
      s.status = "qr";
    }
  } else if (st == "qr") {
    wa(ev::wa_scanned{name, ++s.seq});
    s.status = "scanned";
  } else if (st == "scanned") {
    wa(ev::wa_connected{name, "97250" + std::to_string(below(1'000'000)) + "@s.whatsapp.net", "Shop", ++s.seq});
    s.status = "connected", s.failures = 0;
  } else if (st == "connected") {
    int r = int(below(100));
    if (r < 60) {
      wa(ev::wa_disconnected{name, 428, "connectionClosed", "open", "reconnecting", ++s.seq});
      int64_t delay = 1000LL << std::min<int64_t>(s.failures, 6);
      wa(ev::wa_retry_scheduled{name, ++s.failures, delay, now_ish() + delay * 1000});
      s.status = "reconnecting";
    } else if (r < 75) {
      wa(ev::wa_disconnected{name, 401, "loggedOut", "open", "logged_out", ++s.seq});
      wa(ev::wa_logged_out{name, "whatsapp"});
      s.status = "logged_out";
    } else if (r < 85) {
      out.append.meta.causer = t.users.empty() ? "operator" : pick(t.users).id;
      wa(ev::wa_logged_out{name, "user"});
      s.status = "logged_out";
    } else {
      wa(ev::wa_disconnected{name, 440, "connectionReplaced", "open", "stopped", ++s.seq});
      wa(ev::wa_stopped{name, "connection_replaced"});
      s.status = "stopped";
    }
  } else {  // reconnecting
    int r = int(below(100));
    if (r < 40) {
      wa(ev::wa_start_requested{name, "reconnect"});
      s.status = "starting", s.qr = 0;
    } else if (r < 60) {
      wa(ev::wa_failed{name, s.failures});
      s.status = "failed";
    } else {
      wa(ev::wa_connected{name, "97250" + std::to_string(below(1'000'000)) + "@s.whatsapp.net", "Shop", ++s.seq});
      s.status = "connected", s.failures = 0;
    }
  }
  return true;
}

// Messages as the webhook appends them: once per idempotency key, statuses
// that only move forward in the view, some that overtake their message.
bool history_generator::model::message_step(tenant_m& t) {
  enum { fresh, status_update, redeliver, overtake, catch_up };
  int kind = weighted({55, 30, 5, 5, 5});
  auto message_key = [&](const message_m& m) {
    return "wa/" + t.id + "/" + m.session + "/" + m.jid + "/" + (m.from_me ? "1" : "0") + "/" + m.id;
  };
  auto contact_gone = [&](const message_m& m) {
    return !m.contact.empty() && t.contacts[std::stoull(m.contact.substr(1)) - 1].erased;
  };
  auto append_message = [&](const message_m& m, bool stored) {
    begin(t.stream("wamsg", m.session), "bridge");
    ev::wa_message_received e;
    e.session = m.session, e.remote_jid = m.jid, e.message_id = m.id, e.from_me = m.from_me;
    e.history = chance(0.1), e.contact_id = m.contact, e.push_name = text(1), e.text = text(5);
    if (chance(0.15)) e.media_type = "image", e.mimetype = "image/jpeg", e.caption = text(2), e.size = 20480;
    e.sent_at = now_ish() / 1'000'000;
    add(ev::whatsapp_event{e}, m.contact.empty() ? "" : t.subject_of(m.contact), stored);
    out.append.idempotency_key = message_key(m);
    idempotency_keys.insert(out.append.idempotency_key);
  };
  auto new_message = [&] {
    message_m m;
    m.session = pick({"main", "sales", "cloud"});
    m.id = "3EB0" + std::to_string(++t.message_ids) + "A";
    m.from_me = chance(0.3);
    if (uint64_t n = chance(0.85) ? some_contact(t) : 0) {
      m.contact = "L" + std::to_string(n);
      m.jid = digits_of(t.contacts[n - 1].phone) + "@s.whatsapp.net";
    } else {
      m.jid = "120363" + std::to_string(below(100)) + "@g.us";  // a group: no contact
    }
    return m;
  };
  auto append_status = [&](const message_m& m) {
    std::string st = pick({"pending", "sent", "delivered", "read", "played", "failed"});
    begin(t.stream("wamsg", m.session), "bridge");
    std::string key = message_key(m) + "/status/" + st;
    bool stored = idempotency_keys.insert(key).second;
    add(ev::whatsapp_event{ev::wa_message_status{m.session, m.jid, m.id, st}}, "", stored);
    out.append.idempotency_key = key;
    if (!stored) ++redeliveries;
  };
  switch (kind) {
    case fresh: {
      auto m = new_message();
      append_message(m, true);
      t.messages.push_back(m);
      return true;
    }
    case status_update:
      if (t.messages.empty()) return false;
      append_status(pick(t.messages));
      return true;
    case redeliver: {
      if (t.messages.empty()) return false;
      auto& m = pick(t.messages);
      if (contact_gone(m)) return false;
      append_message(m, false);
      ++redeliveries;
      return true;
    }
    case overtake: {
      auto m = new_message();
      append_status(m);
      t.overtaken.push_back(m);
      return true;
    }
    default: {
      if (t.overtaken.empty()) return false;
      auto m = t.overtaken.back();
      t.overtaken.pop_back();
      if (contact_gone(m)) return false;
      append_message(m, true);
      t.messages.push_back(m);
      return true;
    }
  }
}

bool history_generator::model::registry_step(tenant_m& t) {
  enum { suspend, modules, name, phones, voice, cloud, user, role, user_delete, remove };
  int kind = weighted({3, 3, 3, 3, 3, 3, 8, 4, 2, 1});
  std::string admin = admins[0].id, tenants_stream = "system/registry/tenants";
  auto live_user = [&]() -> user_m* {
    if (t.users.empty()) return nullptr;
    auto& u = pick(t.users);
    return u.deleted ? nullptr : &u;
  };
  switch (kind) {
    case suspend:
      begin(tenants_stream, admin);
      if (t.status == "active") {
        add(ev::registry_event{ev::tenant_suspended{t.id}});
        t.status = "suspended";
      } else {
        add(ev::registry_event{ev::tenant_reactivated{t.id}});
        t.status = "active";
      }
      return true;
    case modules: {
      std::vector<std::string> on;
      for (const char* m : {"calls", "crm", "whatsapp"})
        if (chance(0.7)) on.push_back(m);
      begin(tenants_stream, admin);
      add(ev::registry_event{ev::tenant_modules_changed{t.id, on}});
      return true;
    }
    case name:
      begin(tenants_stream, t.users.empty() ? admin : t.users[0].id);
      add(ev::registry_event{ev::tenant_name_changed{t.id, "Business " + text(1)}});
      return true;
    case phones:
      begin(tenants_stream, admin);
      add(ev::registry_event{ev::phone_numbers_assigned{t.id, {"+9723" + std::to_string(1'000'000 + below(9'000'000))}}});
      return true;
    case voice:
      begin(tenants_stream, admin);
      add(ev::registry_event{ev::voice_configured{t.id, text(4), "he-IL", chance(0.3) ? "https://x.example/g.mp3" : "",
                                                  int64_t(below(300) + 30)}});
      return true;
    case cloud:
      begin(tenants_stream, admin);
      add(ev::registry_event{ev::whatsapp_cloud_assigned{t.id, {"10" + std::to_string(below(1'000'000'000))}}});
      return true;
    case user: {
      user_m u{"u" + std::to_string(next_user++), pick({"owner", "manager", "agent"})};
      u.first_position = next_position();
      begin(t.stream("users", t.id), t.users.empty() ? admin : t.users[0].id);
      add(ev::registry_event{ev::user_created{u.id, t.id, u.id + "@" + t.id + ".example", u.role, "pbkdf2$1$s$h"}},
          t.id + "/user/" + u.id);
      t.users.push_back(u);
      return true;
    }
    case role:
    case user_delete: {
      auto* u = live_user();
      if (!u) return false;
      begin(t.stream("users", t.id), admin);
      if (kind == role) {
        u->role = pick({"manager", "agent"});
        add(ev::registry_event{ev::user_role_changed{u->id, u->role}});
      } else {
        add(ev::registry_event{ev::user_deleted{u->id}});
        u->deleted = true;
      }
      return true;
    }
    default: {
      // Soft: the tenant falls silent. Rarely, and at most a fifth of them,
      // so the history stays spread over many tenants.
      size_t deleted = 0;
      for (auto& x : tenants) deleted += x.status == "deleted";
      if ((deleted + 1) * 5 > tenants.size() || !chance(0.25)) return false;
      begin(tenants_stream, admin);
      add(ev::registry_event{ev::tenant_deleted{t.id}});
      t.status = "deleted";
      return true;
    }
  }
}

bool history_generator::model::auth_step(tenant_m& t) {
  if (t.users.empty()) return false;
  auto& u = pick(t.users);
  begin(t.stream("auth", t.id), u.id);
  std::string session = "f" + std::to_string(below(100'000));
  switch (below(5)) {
    case 0: add(ev::auth_event{ev::user_logged_in{u.id, session}}); break;
    case 1: add(ev::auth_event{ev::user_logged_out{u.id, session}}); break;
    case 2: add(ev::auth_event{ev::login_failed{u.id, pick({"bad_password", "rate_limited", "tenant_suspended"})}}); break;
    case 3: add(ev::auth_event{ev::session_revoked{u.id, session, pick({"refresh_reused", "user_deleted"})}}); break;
    default:
      out.append.meta.impersonator = admins[0].id;
      add(ev::auth_event{ev::impersonation_started{u.id, session}});
      break;
  }
  return true;
}

}  // namespace crmd::test
