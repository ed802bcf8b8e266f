#include "http/whatsapp_ingest.hpp"

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

void ingest::resolve(const connectors::wa::message_in& m) {
  auto self = shared_from_this();
  if (contact_override) return append(m, *contact_override);
  if (m.phone.empty()) return append(m, "");  // a group or a hidden number: no contact
  if (auto known = views::contact_by_phone(c->ctx->deps.views, tenant, m.phone); known && *known)
    return append(m, **known);
  event_metadata who = c->who();
  who.causer = "bridge";
  c->ctx->deps.rt.tenant_command(tenant, crm::find_or_create_contact{m.phone, m.from_me ? "" : m.push_name, "whatsapp"},
                                 who, [self, m](result<command_ok> r) { self->append(m, r ? r->id : ""); });
}

void ingest::append(const connectors::wa::message_in& m, const std::string& contact) {
  ev::wa_message_received e{session, m.remote_jid, m.id, m.from_me, history, contact, m.push_name, m.text,
                            m.media ? m.media->type : "", m.media ? m.media->mimetype : "",
                            m.media ? m.media->caption : "", m.media ? m.media->size : -1, m.timestamp};
  write(ev::whatsapp_event{e}, contact.empty() ? "" : crm::subject(tenant, contact),
        "wa/" + tenant + "/" + session + "/" + m.remote_jid + "/" + (m.from_me ? "1" : "0") + "/" + m.id);
}

// A status names the chat (a person's number): it is bound to the same
// subject as the chat's messages, so erasing the person erases it too.
void ingest::status(const connectors::wa::status_update& u) {
  std::string contact = contact_override.value_or("");
  if (contact.empty()) {
    if (auto phone = connectors::wa::phone_from_jid(u.remote_jid); !phone.empty())
      if (auto known = views::contact_by_phone(c->ctx->deps.views, tenant, phone); known && *known) contact = **known;
  }
  write(ev::whatsapp_event{ev::wa_message_status{session, u.remote_jid, u.id, u.status}},
        contact.empty() ? "" : crm::subject(tenant, contact),
        "wa/" + tenant + "/" + session + "/" + u.remote_jid + "/" + u.id + "/status/" + u.status);
}

void ingest::write(const ev::whatsapp_event& e, const std::string& subject, std::string key) {
  auto self = shared_from_this();
  auto enc = codec::encode(e);
  append_request r;
  r.stream = tenant + "/wamsg/" + session;
  r.events.push_back(new_event{enc.type, enc.schema_version, std::move(enc.payload), subject});
  r.meta = c->who();
  r.meta.causer = "bridge";
  r.idempotency_key = std::move(key);  // stored hashed: the phone in the JID never sits in the key space
  c->ctx->deps.log.append_async(std::move(r), [self](result<append_result> res) {
    if (!res) return self->c->fail(res.error());
    (res->deduplicated ? self->duplicates : self->stored) += 1;
    self->last_position = res->last_position;
    ++self->next;
    self->step();
  });
}

}  // namespace crmd::http
