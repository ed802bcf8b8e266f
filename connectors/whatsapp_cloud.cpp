// Meta WhatsApp Cloud API: webhook signatures and entry[].changes[].value.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "connectors/whatsapp_json.hpp"
#include "connectors/whatsapp_parse.hpp"
#include "storage/crypto.hpp"

namespace crmd::connectors::wa {
namespace {

using namespace detail;

// Lowercase hex HMAC-SHA256, or empty if OpenSSL fails (never a match).
std::string hmac_hex(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), out, &len))
    len = 0;
  return crypto::to_hex(std::string_view(reinterpret_cast<const char*>(out), len));
}

status check_array(const json& obj, const char* key, const std::string& path, const json*& out) {
  out = member(obj, key);
  if (out && !out->is_array()) {
    out = nullptr;
    return bad_field(path, "is not an array");
  }
  if (out && out->size() > max_messages)
    return bad_field(path, "has more than " + std::to_string(max_messages) + " entries");
  return status::ok();
}

// The first string found at obj[a][b] (both objects), or untouched.
status nested_text(const json& obj, const char* a, const char* b, const std::string& path, std::string& out) {
  const json* o = nullptr;
  WA_TRY(get_object(obj, a, path + "." + a, o));
  if (o) WA_TRY(get_string(*o, b, path + "." + a + "." + b, out, kind::text));
  return status::ok();
}

result<message_in> parse_cloud_message(const json& j, const std::string& path, const json* contacts) {
  if (!j.is_object()) return bad_field(path, "is not an object");
  message_in m;
  std::string from, type;
  WA_TRY(get_string(j, "from", path + ".from", from, kind::identifier, true));
  WA_TRY(get_string(j, "id", path + ".id", m.id, kind::identifier, true));
  WA_TRY(get_int(j, "timestamp", path + ".timestamp", m.timestamp));
  WA_TRY(get_string(j, "type", path + ".type", type, kind::identifier));
  m.remote_jid = from + "@s.whatsapp.net";
  m.phone = e164(from);
  WA_TRY(nested_text(j, "text", "body", path, m.text));
  if (m.text.empty()) WA_TRY(nested_text(j, "button", "text", path, m.text));
  if (m.text.empty()) {
    const json* inter = nullptr;
    WA_TRY(get_object(j, "interactive", path + ".interactive", inter));
    if (inter) WA_TRY(nested_text(*inter, "button_reply", "title", path + ".interactive", m.text));
    if (inter && m.text.empty()) WA_TRY(nested_text(*inter, "list_reply", "title", path + ".interactive", m.text));
  }
  static const char* const media_types[] = {"image", "video", "audio", "document", "sticker"};
  for (const char* t : media_types) {
    const json* media = nullptr;
    std::string mpath = path + "." + t;
    WA_TRY(get_object(j, t, mpath, media));
    if (!media) continue;
    media_info info;
    info.type = t;
    WA_TRY(get_string(*media, "mime_type", mpath + ".mime_type", info.mimetype, kind::text));
    WA_TRY(get_string(*media, "caption", mpath + ".caption", info.caption, kind::text));
    if (m.text.empty()) m.text = info.caption;
    m.media = std::move(info);
    break;
  }
  // contacts[] {wa_id, profile{name}}: the sender's display name. Malformed
  // contacts are only a missing name, not a refused message.
  if (contacts) {
    for (const json& c : *contacts) {
      if (!c.is_object()) continue;
      auto wa_id = c.find("wa_id");
      auto profile = c.find("profile");
      if (wa_id == c.end() || !wa_id->is_string() || wa_id->get_ref<const std::string&>() != from) continue;
      if (profile == c.end() || !profile->is_object()) continue;
      if (!get_string(*profile, "name", "", m.push_name, kind::text)) m.push_name.clear();
      break;
    }
  }
  return m;
}

result<status_update> parse_cloud_status(const json& j, const std::string& path) {
  if (!j.is_object()) return bad_field(path, "is not an object");
  status_update s;
  std::string recipient;
  WA_TRY(get_string(j, "id", path + ".id", s.id, kind::identifier, true));
  WA_TRY(get_string(j, "status", path + ".status", s.status, kind::identifier, true));
  WA_TRY(get_string(j, "recipient_id", path + ".recipient_id", recipient, kind::identifier));
  if (!recipient.empty()) s.remote_jid = recipient + "@s.whatsapp.net";
  s.from_me = true;
  return s;
}

bool known_status(const std::string& s) {
  return s == "sent" || s == "delivered" || s == "read" || s == "played" || s == "failed";
}

result<cloud_batch> parse_value(const json& value, const std::string& path) {
  cloud_batch b;
  const json* metadata = nullptr;
  WA_TRY(get_object(value, "metadata", path + ".metadata", metadata));
  if (!metadata) return bad_field(path + ".metadata", "is missing");
  WA_TRY(get_string(*metadata, "phone_number_id", path + ".metadata.phone_number_id", b.phone_number_id,
                    kind::identifier, true));
  const json *messages = nullptr, *statuses = nullptr, *contacts = nullptr;
  WA_TRY(check_array(value, "messages", path + ".messages", messages));
  WA_TRY(check_array(value, "statuses", path + ".statuses", statuses));
  WA_TRY(check_array(value, "contacts", path + ".contacts", contacts));
  for (size_t i = 0; messages && i < messages->size(); ++i) {
    auto m = parse_cloud_message((*messages)[i], path + ".messages[" + std::to_string(i) + "]", contacts);
    if (!m) return m.error();
    b.messages.push_back(std::move(*m));
  }
  for (size_t i = 0; statuses && i < statuses->size(); ++i) {
    auto s = parse_cloud_status((*statuses)[i], path + ".statuses[" + std::to_string(i) + "]");
    if (!s) return s.error();
    if (known_status(s->status)) b.statuses.push_back(std::move(*s));
  }
  return b;
}

}  // namespace

bool valid_meta_signature(std::string_view app_secret, std::string_view raw_body, std::string_view header) {
  constexpr std::string_view prefix = "sha256=";
  if (app_secret.empty() || header.size() != prefix.size() + 2 * crypto::sha256_size) return false;
  if (header.substr(0, prefix.size()) != prefix) return false;
  std::string given(header.substr(prefix.size()));
  for (char& c : given)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  std::string expected = hmac_hex(app_secret, raw_body);
  if (expected.size() != given.size()) return false;
  return crypto::constant_time_equal(given, expected);
}

std::string meta_signature_header(std::string_view app_secret, std::string_view raw_body) {
  return "sha256=" + hmac_hex(app_secret, raw_body);
}

result<std::vector<cloud_batch>> parse_cloud_webhook(std::string_view body) {
  auto loaded = load_object(body, "the Cloud API body");
  if (!loaded) return loaded.error();
  const json& j = *loaded;
  const json* entries = member(j, "entry");
  if (!entries) return bad_field("entry", "is missing");
  if (!entries->is_array()) return bad_field("entry", "is not an array");
  std::vector<cloud_batch> out;
  size_t total = 0;  // values across entries, so entry[] x changes[] stays bounded
  for (size_t e = 0; e < entries->size(); ++e) {
    const json& entry = (*entries)[e];
    std::string epath = "entry[" + std::to_string(e) + "]";
    if (!entry.is_object()) return bad_field(epath, "is not an object");
    const json* changes = member(entry, "changes");
    if (!changes) continue;
    if (!changes->is_array()) return bad_field(epath + ".changes", "is not an array");
    for (size_t c = 0; c < changes->size(); ++c) {
      const json& change = (*changes)[c];
      std::string cpath = epath + ".changes[" + std::to_string(c) + "]";
      if (!change.is_object()) return bad_field(cpath, "is not an object");
      std::string field;
      WA_TRY(get_string(change, "field", cpath + ".field", field, kind::identifier));
      if (!field.empty() && field != "messages") continue;
      const json* value = nullptr;
      WA_TRY(get_object(change, "value", cpath + ".value", value));
      if (!value) return bad_field(cpath + ".value", "is missing");
      if (++total > max_messages) return bad_field("entry", "has more than " + std::to_string(max_messages) + " changes");
      auto b = parse_value(*value, cpath + ".value");
      if (!b) return b.error();
      out.push_back(std::move(*b));
    }
  }
  return out;
}

}  // namespace crmd::connectors::wa
