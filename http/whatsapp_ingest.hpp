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
// sender's lead, then is appended once for ever under its idempotency key
// "wa/<tenant>/<session>/<jid>/<fromMe>/<id>" (stored hashed: the phone in
// the JID never sits in the key space). Answers when all are durable:
// {"ok":true,"stored":N,"duplicates":D,"position":P}, unless `answer` is set.
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
  void resolve(const connectors::wa::message_in& m);
  void append(const connectors::wa::message_in& m, const std::string& contact);
  void status(const connectors::wa::status_update& u);
  void write(const ev::whatsapp_event& e, const std::string& subject, std::string key);
};

// POST /api/wa/send (http/whatsapp_send.cpp): through the tenant's provider,
// the Baileys bridge or the Cloud API, as its settings choose.
void whatsapp_send(const call_ptr& c);

}  // namespace crmd::http
