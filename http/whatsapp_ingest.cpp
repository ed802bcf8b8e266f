#include "http/whatsapp_ingest.hpp"

#include <cstdio>

#include "actors/crm/contacts.hpp"
#include "events/codec.hpp"
#include "projections/contacts_view.hpp"
#include "storage/event_log.hpp"

namespace crmd::http {

void ingest::step() {
  if (next < messages.size()) return resolve(messages[next]);
  if (next - messages.size() < statuses.size()) return status(statuses[next - messages.size()]);
  if (answer) {  // moved out first: the answer may hold this job (a cycle otherwise)
    auto a = std::move(answer);
    answer = nullptr;
    return a(last_position);
  }
  // position: readers pass it as min_position to see these messages.
  c->send_json(200, {{"ok", true}, {"stored", stored}, {"duplicates", duplicates}, {"position", last_position}});
}

void ingest::contact_for(const std::string& phone, const std::string& name, bool fresh,
                         std::function<void(std::string)> then) {
  if (phone.empty()) return then("");  // a group or a hidden number: no contact
  if (!fresh)
    if (auto known = views::contact_by_phone(c->ctx->deps.views, tenant, phone); known && *known) return then(**known);
  event_metadata who = c->who();
  who.causer = "bridge";
  c->ctx->deps.rt.tenant_command(tenant, crm::find_or_create_contact{phone, name, "whatsapp"}, who,
                                 [then = std::move(then)](result<command_ok> r) { then(r ? r->id : ""); });
}

void ingest::resolve(const connectors::wa::message_in& m, bool fresh) {
  auto self = shared_from_this();
  if (contact_override) return append(m, *contact_override, true);
  contact_for(m.phone, m.from_me ? "" : m.push_name, fresh,
              [self, m, fresh](std::string contact) { self->append(m, contact, fresh); });
}

void ingest::append(const connectors::wa::message_in& m, const std::string& contact, bool fresh) {
  auto self = shared_from_this();
  ev::wa_message_received e{session, m.remote_jid, m.id, m.from_me, history, contact, m.push_name, m.text,
                            m.media ? m.media->type : "", m.media ? m.media->mimetype : "",
                            m.media ? m.media->caption : "", m.media ? m.media->size : -1, m.timestamp};
  write(ev::whatsapp_event{e}, contact.empty() ? "" : crm::subject(tenant, contact),
        "wa/" + tenant + "/" + session + "/" + m.remote_jid + "/" + (m.from_me ? "1" : "0") + "/" + m.id,
        fresh ? std::function<void()>() : [self, m] { self->resolve(m, true); });
}

// A status names the chat (a person's number): it is bound to the same
// subject as the chat's messages.
void ingest::status(const connectors::wa::status_update& u, bool fresh) {
  auto self = shared_from_this();
  if (contact_override) return append_status(u, *contact_override, true);
  contact_for(connectors::wa::phone_from_jid(u.remote_jid), "", fresh,
              [self, u, fresh](std::string contact) { self->append_status(u, contact, fresh); });
}

void ingest::append_status(const connectors::wa::status_update& u, const std::string& contact, bool fresh) {
  auto self = shared_from_this();
  write(ev::whatsapp_event{ev::wa_message_status{session, u.remote_jid, u.id, u.status}},
        contact.empty() ? "" : crm::subject(tenant, contact),
        "wa/" + tenant + "/" + session + "/" + u.remote_jid + "/" + u.id + "/status/" + u.status,
        fresh ? std::function<void()>() : [self, u] { self->status(u, true); });
}

void ingest::write(const ev::whatsapp_event& e, const std::string& subject, std::string key,
                   std::function<void()> again) {
  auto self = shared_from_this();
  auto enc = codec::encode(e);
  append_request r;
  r.stream = tenant + "/wamsg/" + session;
  r.events.push_back(new_event{enc.type, enc.schema_version, std::move(enc.payload), subject});
  r.meta = c->who();
  r.meta.causer = "bridge";
  r.idempotency_key = std::move(key);  // stored hashed: the phone in the JID never sits in the key space
  c->ctx->deps.log.append_async(std::move(r), [self, again = std::move(again)](result<append_result> res) {
    // The views still named a contact erased a moment ago (their rebuild is
    // under way): the tenant, which forgot that number, decides afresh.
    if (!res && res.error().code() == errc::subject_erased && again) {
      std::fprintf(stderr, "crmd whatsapp: %s: the views named an erased contact; asking the tenant afresh\n",
                   self->tenant.c_str());
      return again();
    }
    if (!res) return self->c->fail(res.error());
    (res->deduplicated ? self->duplicates : self->stored) += 1;
    self->last_position = res->last_position;
    ++self->next;
    self->step();
  });
}

}  // namespace crmd::http
