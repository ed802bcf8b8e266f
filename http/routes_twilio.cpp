// Twilio voice webhooks (/webhook/...) and the admin routes that route
// numbers to tenants and set how they answer.
//
// Twilio never sees JSON from here: TwiML (text/xml) for the voice
// webhooks, text/plain "OK" for status callbacks, text/plain for a refused
// signature (403). Every webhook answers once its events are durable and
// before any download or transcription starts (the pipeline runs after).
#include <cstdio>

#include "actors/crm/phone.hpp"
#include "connectors/twilio_signature.hpp"
#include "events/call_events.hpp"
#include "events/codec.hpp"
#include "http/api_internal.hpp"
#include "http/call_pipeline.hpp"
#include "projections/contacts_view.hpp"
#include "storage/event_log.hpp"

namespace crmd::http {
namespace {

namespace tw = connectors::twilio;

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += ch;
    }
  }
  return out;
}

void twiml(const call_ptr& c, const std::string& inner) {
  c->send_body(200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>" + inner + "</Response>\n",
            "text/xml; charset=utf-8");
}

void apology(const call_ptr& c, const std::string& why) {
  std::fprintf(stderr, "crmd twilio: %s %s: %s\n", c->req.method.c_str(), c->req.path.c_str(), why.c_str());
  twiml(c, "<Say language=\"en-US\">We are sorry, this call cannot be handled right now. Please try again later.</Say>"
           "<Hangup/>");
}

void ok_text(const call_ptr& c) { c->send_body(200, "OK", "text/plain; charset=utf-8"); }

// "scheme://host" Twilio called: PUBLIC_HOST, else the proxy's headers when
// trusted, else the request's own Host.
std::string public_base(const call_ptr& c) {
  auto& o = c->ctx->opts;
  if (!o.public_host.empty()) {
    std::string base = o.public_host;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base;
  }
  std::string proto = "http", host = c->req.header("Host");
  if (o.trust_proxy) {
    auto fp = c->req.header("X-Forwarded-Proto"), fh = c->req.header("X-Forwarded-Host");
    if (!fp.empty()) proto = fp.substr(0, fp.find(','));
    if (!fh.empty()) host = fh.substr(0, fh.find(','));
  }
  return proto + "://" + host;
}

std::string public_url(const call_ptr& c) {
  return public_base(c) + c->req.path + (c->req.query.empty() ? "" : "?" + c->req.query);
}

// The parameters of a webhook whose signature holds, or nullopt after
// answering 403 (or 400 for a body that is not a form).
std::optional<std::map<std::string, std::string>> verified(const call_ptr& c) {
  auto form = tw::parse_form(c->req.body);
  if (!form) {
    std::fprintf(stderr, "crmd twilio: %s: %s\n", c->req.path.c_str(), form.error().message().c_str());
    c->send_body(400, "malformed form body", "text/plain; charset=utf-8");
    return std::nullopt;
  }
  auto& o = c->ctx->opts;
  if (o.validate_twilio) {
    std::string url = public_url(c);
    std::string sig = c->req.header("X-Twilio-Signature");
    if (o.twilio_auth_token.empty() || !tw::valid_signature(o.twilio_auth_token, url, *form, sig)) {
      std::fprintf(stderr, "crmd twilio: %s X-Twilio-Signature for URL %s (request %s)\n",
                   sig.empty() ? "missing" : "wrong", url.c_str(), c->request_id.c_str());
      c->reject_signature(403, "invalid signature", "text/plain; charset=utf-8");
      return std::nullopt;
    }
  } else {
    std::fprintf(stderr, "crmd twilio: WARNING signature NOT checked (VALIDATE_TWILIO_SIGNATURE=false): %s\n",
                 c->req.path.c_str());
  }
  std::map<std::string, std::string> p;
  for (auto& [k, v] : *form) {
    // An unencoded '+' (curl -d "From=+1555") arrives as a space.
    std::string value = v;
    if ((k == "From" || k == "To" || k == "Caller" || k == "Called") && value.size() > 1 && value[0] == ' ' &&
        std::isdigit(static_cast<unsigned char>(value[1])))
      value[0] = '+';
    p.emplace(k, std::move(value));
  }
  return p;
}

std::string param(const std::map<std::string, std::string>& p, const char* name) {
  auto it = p.find(name);
  return it == p.end() ? std::string() : it->second;
}

int64_t int_param(const std::map<std::string, std::string>& p, const char* name) {
  auto v = param(p, name);
  if (v.empty() || v.size() > 12) return -1;
  for (char ch : v)
    if (!std::isdigit(static_cast<unsigned char>(ch))) return -1;
  return std::stoll(v);
}

std::string normalized(const std::string& number) {
  auto e = crm::to_e164(number, "ZZ");
  return e ? *e : number;
}

struct route_target {
  std::string tenant;
  ev::voice_configured voice;
};

// The active tenant owning `number`, if any.
std::optional<route_target> tenant_for(const call_ptr& c, const std::string& number) {
  std::optional<route_target> out;
  std::string n = normalized(number);
  c->ctx->deps.rt.read_registry([&](const registry::state& s) {
    auto it = s.numbers.find(n);
    if (it == s.numbers.end()) return;
    auto t = s.tenants.find(it->second);
    if (t == s.tenants.end() || t->second.status != "active" || !t->second.modules.count("calls")) return;
    out = route_target{t->first, t->second.voice};
  });
  return out;
}

event_metadata twilio_who(const call_ptr& c, const std::string& call_sid) {
  event_metadata who = c->who();
  who.causer = "twilio";
  who.correlation_id = call_sid;
  return who;
}

void record_unrouted(const call_ptr& c, const std::string& call_sid, const std::string& to) {
  auto enc = codec::encode(ev::call_event{ev::call_unrouted{call_sid, to}});
  append_request r;
  r.stream = "system/twilio/unrouted";
  r.events.push_back(new_event{enc.type, enc.schema_version, std::move(enc.payload), {}});
  r.meta = twilio_who(c, call_sid);
  r.idempotency_key = "twilio/unrouted/" + call_sid;
  c->ctx->deps.log.append_async(std::move(r), [c, call_sid, to](result<append_result> res) {
    if (!res) std::fprintf(stderr, "crmd twilio: unrouted call %s not recorded: %s\n", call_sid.c_str(),
                           res.error().message().c_str());
    std::fprintf(stderr, "crmd twilio: call %s to %s: no tenant owns this number\n", call_sid.c_str(), to.c_str());
    twiml(c, "<Say language=\"en-US\">Sorry, this number is not connected to a business. Goodbye.</Say><Hangup/>");
  });
}

std::string greeting_twiml(const call_ptr& c, const route_target& t) {
  const auto& v = t.voice;
  std::string base = public_base(c), tenant_q = "?tenant=" + t.tenant;
  std::string lang = v.language.empty() ? "he-IL" : v.language;
  std::string out;
  if (!v.greeting_url.empty()) out += "<Play>" + xml_escape(v.greeting_url) + "</Play>";
  else if (!v.greeting_text.empty()) out += "<Say language=\"" + xml_escape(lang) + "\">" + xml_escape(v.greeting_text) + "</Say>";
  else  // "Hello, please leave a message after the tone" in Hebrew
    out += "<Say language=\"he-IL\">\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d, \xd7\x90\xd7\xa0\xd7\x90 \xd7\x94\xd7\xa9\xd7\x90\xd7\x99\xd7\xa8\xd7\x95 "
           "\xd7\x94\xd7\x95\xd7\x93\xd7\xa2\xd7\x94 \xd7\x90\xd7\x97\xd7\xa8\xd7\x99 \xd7\x94\xd7\xa6\xd7\x99\xd7\xa4\xd7\xa6\xd7\x95\xd7\xa3.</Say>";
  int64_t max_s = v.tenant_id.empty() ? 120 : v.max_recording_s;
  // The tenant rides in the callback URLs: Twilio signs them whole, so it
  // cannot be altered, and recording callbacks carry no To to route by.
  out += "<Record action=\"" + xml_escape(base + "/webhook/handle_recording" + tenant_q) +
         "\" method=\"POST\" maxLength=\"" + std::to_string(max_s) + "\" playBeep=\"true\" recordingStatusCallback=\"" +
         xml_escape(base + "/webhook/recording_status" + tenant_q) +
         "\" recordingStatusCallbackMethod=\"POST\" recordingStatusCallbackEvent=\"completed absent\"/>";
  return out;
}

void incoming_call(const call_ptr& c) {
  auto p = verified(c);
  if (!p) return;
  std::string sid = param(*p, "CallSid"), from = param(*p, "From"), to = param(*p, "To");
  if (!crmd::call::valid_sid(sid) || from.empty() || to.empty()) return apology(c, "CallSid, From or To missing");
  auto target = tenant_for(c, to);
  if (!target) return record_unrouted(c, sid, normalized(to));
  std::string direction = param(*p, "Direction").empty() ? "inbound" : param(*p, "Direction");
  std::string status = param(*p, "CallStatus");
  if (!status.empty() && !crmd::call::known_status(status)) status.clear();
  auto start = [c, t = *target, sid, from, to, direction, status](std::string contact) {
    crmd::call::start_call cmd{sid, normalized(from), normalized(to), direction, std::move(contact), status};
    c->ctx->deps.rt.call_command(t.tenant, sid, std::move(cmd), twilio_who(c, sid), [c, t](result<command_ok> r) {
      if (!r) return r.error().code() == errc::invalid_argument ? apology(c, r.error().message()) : c->fail(r.error());
      twiml(c, greeting_twiml(c, t));
    });
  };
  // A known caller is found in the contacts view without asking the tenant's
  // actor; an unknown one becomes a lead (source phone) through it, so two
  // first calls from one number make one lead. A withheld or non-phone caller
  // ("anonymous", "client:x") stays unmatched.
  if (auto known = views::contact_by_phone(c->ctx->deps.views, target->tenant, normalized(from)); known && *known)
    return start(**known);
  c->ctx->deps.rt.tenant_command(target->tenant, crm::find_or_create_contact{from, "", "phone"},
                                 twilio_who(c, sid), [start](result<command_ok> r) {
                                   start(r ? r->id : std::string());
                                 });
}

void call_status(const call_ptr& c) {
  auto p = verified(c);
  if (!p) return;
  std::string sid = param(*p, "CallSid"), st = param(*p, "CallStatus");
  if (!crmd::call::valid_sid(sid) || st.empty()) return apology(c, "CallSid or CallStatus missing");
  std::string direction = param(*p, "Direction");
  bool outbound = direction.rfind("outbound", 0) == 0;
  std::string from = param(*p, "From"), to = param(*p, "To");
  auto target = tenant_for(c, outbound ? from : to);
  if (!target) {
    std::fprintf(stderr, "crmd twilio: status %s of call %s: no tenant owns %s\n", st.c_str(), sid.c_str(),
                 (outbound ? from : to).c_str());
    return ok_text(c);
  }
  crmd::call::record_status cmd{{sid, normalized(from), normalized(to), direction, "", ""}, st, int_param(*p, "SequenceNumber"),
                          int_param(*p, "CallDuration")};
  c->ctx->deps.rt.call_command(target->tenant, sid, std::move(cmd), twilio_who(c, sid), [c](result<command_ok> r) {
    if (!r) return r.error().code() == errc::invalid_argument ? apology(c, r.error().message()) : c->fail(r.error());
    ok_text(c);
  });
}

void handle_recording(const call_ptr& c) {
  auto p = verified(c);
  if (!p) return;
  // The recording status callback is the reliable signal; this one only
  // ends the call politely ("Thank you, goodbye" in Hebrew).
  twiml(c, "<Say language=\"he-IL\">\xd7\xaa\xd7\x95\xd7\x93\xd7\x94, \xd7\x9c\xd7\x94\xd7\xaa\xd7\xa8\xd7\x90\xd7\x95\xd7\xaa.</Say><Hangup/>");
}

void recording_status(const call_ptr& c) {
  auto p = verified(c);
  if (!p) return;
  std::string sid = param(*p, "CallSid"), rec = param(*p, "RecordingSid"), st = param(*p, "RecordingStatus");
  if (!crmd::call::valid_sid(sid) || rec.empty() || st.empty()) return apology(c, "CallSid, RecordingSid or RecordingStatus missing");
  auto tenant = c->ctx->deps.rt.resolve_tenant(c->query.count("tenant") ? c->query["tenant"] : "");
  if (!tenant) {
    std::fprintf(stderr, "crmd twilio: recording %s of call %s: no tenant in the callback URL\n", rec.c_str(), sid.c_str());
    return ok_text(c);
  }
  crmd::call::note_recording cmd{rec, param(*p, "RecordingUrl"), st, int_param(*p, "RecordingDuration")};
  c->ctx->deps.rt.call_command(*tenant, sid, std::move(cmd), twilio_who(c, sid), [c, t = *tenant, sid](result<command_ok> r) {
    if (!r && r.error().code() == errc::not_found) {
      std::fprintf(stderr, "crmd twilio: recording for unknown call %s\n", sid.c_str());
      return ok_text(c);
    }
    if (!r) return r.error().code() == errc::invalid_argument ? apology(c, r.error().message()) : c->fail(r.error());
    ok_text(c);
    if (r->position && c->ctx->calls) c->ctx->calls->kick(t, sid);  // after the answer: off the request path
  });
}

}  // namespace

void add_twilio_routes(route_list& r) {
  for (const char* path : {"/webhook/incoming_call", "/webhook/twilio/voice"})
    r.push_back({"POST", path, scope::open, {}, {}, incoming_call});
  r.push_back({"POST", "/webhook/call_status", scope::open, {}, {}, call_status});
  r.push_back({"POST", "/webhook/handle_recording", scope::open, {}, {}, handle_recording});
  r.push_back({"POST", "/webhook/recording_status", scope::open, {}, {}, recording_status});

  // Owners and admins: transcribe (and summarise) the call's recording again,
  // e.g. after a provider was fixed; a failed download is fetched again too.
  r.push_back({"POST", "/api/calls/:sid/retry_transcription", scope::tenant, identity::perm::tenant_settings,
               identity::module::calls, [](const call_ptr& c) {
    std::string sid = c->params["sid"];
    if (!crmd::call::valid_sid(sid)) return c->error(404, "call_not_found", "no such call");
    c->ctx->deps.rt.call_command(c->tenant, sid, crmd::call::retry_transcription{}, c->who(), [c, sid](result<command_ok> r) {
      if (!r) return c->fail(r.error());
      c->ctx->note_position(c->principal_key(), r->position);
      if (c->ctx->calls) c->ctx->calls->kick(c->tenant, sid);
      c->send_json(202, {{"ok", true}, {"call_sid", sid}, {"position", r->position}});
    });
  }});

  // {"phone_numbers":["+97233763805"]}: the full set, each number one tenant's.
  r.push_back({"PUT", "/api/admin/tenants/:id/phone_numbers", scope::system, {}, {}, [](const call_ptr& c) {
    auto id = c->tenant_param("id");
    if (!id) return;
    auto body = c->json_body();
    if (!body) return;
    auto it = body->find("phone_numbers");
    if (it == body->end()) return c->error(400, "invalid_field", "field 'phone_numbers' is required");
    auto list = string_array(c, *it, "phone_numbers");
    if (!list) return;
    c->ctx->deps.rt.registry_command(registry::assign_numbers{*id, *list}, c->who(), c->answer(200, [c, id = *id](const command_ok& ok) {
      std::vector<std::string> numbers;
      c->ctx->deps.rt.read_registry([&](const registry::state& s) {
        if (auto t = s.tenants.find(id); t != s.tenants.end()) numbers = t->second.phone_numbers;
      });
      return json{{"ok", true}, {"tenant_id", id}, {"phone_numbers", numbers}, {"position", ok.position}};
    }));
  }});
  // {"greeting_text","language","greeting_url","max_recording_s"}: the full setting.
  r.push_back({"PUT", "/api/admin/tenants/:id/voice", scope::system, {}, {}, [](const call_ptr& c) {
    auto id = c->tenant_param("id");
    if (!id) return;
    auto body = c->json_body();
    if (!body) return;
    ev::voice_configured v;
    v.language = "he-IL";
    for (auto [name, field] : {std::pair{"greeting_text", &v.greeting_text}, std::pair{"language", &v.language},
                               std::pair{"greeting_url", &v.greeting_url}}) {
      if (!body->contains(name) || (*body)[name].is_null()) continue;
      auto s = string_field(c, *body, name, false);
      if (!s) return;
      *field = *s;
    }
    if (auto m = body->find("max_recording_s"); m != body->end() && !m->is_null()) {
      if (!m->is_number_integer()) return c->error(400, "invalid_field", "field 'max_recording_s' must be an integer");
      v.max_recording_s = m->get<int64_t>();
    }
    c->ctx->deps.rt.registry_command(registry::configure_voice{*id, v}, c->who(), c->answer(200, [id = *id](const command_ok& ok) {
      return json{{"ok", true}, {"tenant_id", id}, {"position", ok.position}};
    }));
  }});
}

}  // namespace crmd::http
