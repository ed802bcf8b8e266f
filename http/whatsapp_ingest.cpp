#include "http/whatsapp_ingest.hpp"

#include <cstdio>

#include "actors/crm/contacts.hpp"
#include "events/codec.hpp"
#include "projections/contacts_view.hpp"
#include "storage/event_log.hpp"

namespace crmd::http {

void ingest::step() {
  if (next < messages.size() + statuses.size()) return resolve(false);
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

// A status names the chat (a person's number) as a message does: both are
// bound to the chat's contact.
void ingest::resolve(bool fresh) {
  auto self = shared_from_this();
  if (contact_override) return append(*contact_override, true);
  auto then = [self, fresh](std::string contact) { self->append(contact, fresh); };
  if (next < messages.size()) {
    const auto& m = messages[next];
    return contact_for(m.phone, m.from_me ? "" : m.push_name, fresh, std::move(then));
  }
  contact_for(connectors::wa::phone_from_jid(statuses[next - messages.size()].remote_jid), "", fresh, std::move(then));
}

void ingest::append(const std::string& contact, bool fresh) {
  std::string subject = contact.empty() ? "" : crm::subject(tenant, contact);
  if (next < messages.size()) {
    const auto& m = messages[next];
    ev::wa_message_received e{session, m.remote_jid, m.id, m.from_me, history, contact, m.push_name, m.text,
                              m.media ? m.media->type : "", m.media ? m.media->mimetype : "",
                              m.media ? m.media->caption : "", m.media ? m.media->size : -1, m.timestamp};
    return write(ev::whatsapp_event{e}, subject,
                 "wa/" + tenant + "/" + session + "/" + m.remote_jid + "/" + (m.from_me ? "1" : "0") + "/" + m.id, fresh);
  }
  const auto& u = statuses[next - messages.size()];
  write(ev::whatsapp_event{ev::wa_message_status{session, u.remote_jid, u.id, u.status}}, subject,
        "wa/" + tenant + "/" + session + "/" + u.remote_jid + "/" + u.id + "/status/" + u.status, fresh);
}

void ingest::write(const ev::whatsapp_event& e, const std::string& subject, std::string key, bool fresh) {
  auto self = shared_from_this();
  auto enc = codec::encode(e);
  append_request r;
  r.stream = tenant + "/wamsg/" + session;
  r.events.push_back(new_event{enc.type, enc.schema_version, std::move(enc.payload), subject});
  r.meta = c->who();
  r.meta.causer = "bridge";
  r.idempotency_key = std::move(key);  // stored hashed: the phone in the JID never sits in the key space
  c->ctx->deps.log.append_async(std::move(r), [self, fresh](result<append_result> res) {
    // The views still named a contact erased a moment ago (their rebuild is
    // under way): the tenant, which forgot that number, decides afresh.
    if (!res && res.error().code() == errc::subject_erased && !fresh) {
      std::fprintf(stderr, "crmd whatsapp: %s: the views named an erased contact; asking the tenant afresh\n",
                   self->tenant.c_str());
      return self->resolve(true);
    }
    if (!res) return self->c->fail(res.error());
    (res->deduplicated ? self->duplicates : self->stored) += 1;
    self->last_position = res->last_position;
    ++self->next;
    self->step();
  });
}

}  // namespace crmd::http
