// Tenant secrets crmd must use but never log or return: a tenant's WhatsApp
// Cloud API (Graph) token, say.
//
// A secret lives in the `meta` family under "secret/<tenant>/<name>",
// AES-256-GCM sealed with the node's secrets key (CRMD_SECRETS_KEY, else
// <data>/secrets_key, kept outside the database) and bound to that key name
// as associated data, so a copy of the database files alone reveals
// nothing and a sealed value cannot be replayed under another tenant.
//
// Writes ride along with the event that records the change (a side write in
// the same atomic batch), so a secret exists exactly when its event does.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "events/status.hpp"

namespace crmd {
class kv_store;
}

namespace crmd::secrets {

constexpr const char* whatsapp_graph_token = "whatsapp_graph_token";

// "secret/<tenant>/<name>" in cf::meta.
std::string meta_key(std::string_view tenant, std::string_view name);

// `box_key` is 32 bytes.
result<std::string> seal(std::string_view box_key, std::string_view tenant, std::string_view name,
                         std::string_view plaintext);

// The secret, std::nullopt when none is set; errc::corruption when it does
// not open (a different secrets key, altered bytes).
result<std::optional<std::string>> read(kv_store& kv, std::string_view box_key, std::string_view tenant,
                                        std::string_view name);

// What a person may see of a secret: its last four characters.
std::string hint(std::string_view secret);

}  // namespace crmd::secrets
