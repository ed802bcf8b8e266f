// Internal to http/: storing WhatsApp messages and statuses that arrived by
// webhook (bridge, older routes, Cloud API) or were sent by crmd.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/whatsapp_parse.hpp"
#include "events/whatsapp_events.hpp"
#include "http/api_internal.hpp"

namespace crmd::http {

// Stores a batch one message after another: each finds (or creates) the
// chat's lead, then is appended once for ever under its idempotency key
// "wa/<tenant>/<session>/<jid>/<fromMe>/<id>" (stored hashed: the phone in
// the JID never sits in the key space). Statuses are bound to the chat's
// contact the same way, so erasing the person erases them too. Answers when
// all are durable: {"ok":true,"stored":N,"duplicates":D,"position":P},
// unless `answer` is set.
struct ingest : std::enable_shared_from_this<ingest> {
  call_ptr c;
  std::string tenant, session;
  bool history = false;
  std::vector<connectors::wa::message_in> messages;
  std::vector<connectors::wa::status_update> statuses;
  size_t next = 0, stored = 0, duplicates = 0;
  uint64_t last_position = 0;
  std::optional<std::string> contact_override;  // sending: the contact is known
  std::function<void(uint64_t)> answer;         // sending (and Cloud batches) answer differently

  void step();

 private:
  // The contact of a person's number (empty for groups and hidden numbers):
  // the views first, else the tenant, which creates a lead for a new number.
  // `fresh` skips the views, which may still hold a contact erased a moment
  // ago (the tenant has forgotten its number already).
  void contact_for(const std::string& phone, const std::string& name, bool fresh,
                   std::function<void(std::string)> then);
  // The item at `next` (messages, then statuses): its chat's contact, then
  // its event. A write refused for an erased subject resolves afresh, once
  // (`fresh` set means it was).
  void resolve(bool fresh);
  void append(const std::string& contact, bool fresh);
  void write(const ev::whatsapp_event& e, const std::string& subject, std::string key, bool fresh);
};

// POST /api/wa/send (http/whatsapp_send.cpp): through the tenant's provider,
// the Baileys bridge or the Cloud API, as its settings choose.
void whatsapp_send(const call_ptr& c);

}  // namespace crmd::http
