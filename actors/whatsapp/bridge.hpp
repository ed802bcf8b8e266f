// What a WhatsApp session actor needs from the bridge (docs/bridge-protocol.md).
// Calls block (HTTP); the actor makes them on a worker thread, never on its
// own. The app plugs in the libcurl client; tests plug in fakes.
#pragma once

#include <string>

#include "actors/whatsapp/session_decider.hpp"
#include "events/status.hpp"

namespace crmd::wa {

class bridge {
 public:
  virtual ~bridge() = default;
  // Start one of the tenant's sessions: the bridge then reports QR codes
  // and connection changes to crmd's webhook. `restart`: replace the socket
  // the bridge may still have (a plain start leaves a live one alone);
  // `max_qr`: QR codes to show before giving up (the policy's, so the bridge
  // and the decider agree).
  virtual status start(const std::string& tenant, const std::string& session, bool restart, int64_t max_qr) = 0;
  // Log out and drop the stored credentials (a new QR is needed).
  virtual status logout(const std::string& tenant, const std::string& session) = 0;
  // The bridge's own view, for reconciling: state open | qr | connecting | close.
  virtual result<bridge_status> status_of(const std::string& tenant, const std::string& session) = 0;
};

}  // namespace crmd::wa
