// The Baileys bridge's webhook bodies and the legacy incoming body. The Cloud
// API lives in whatsapp_cloud.cpp; checked JSON access in whatsapp_json.cpp.
#include "connectors/whatsapp_parse.hpp"

#include <limits>

#include "connectors/whatsapp_json.hpp"

namespace crmd::connectors::wa {
namespace {

using namespace detail;

constexpr int max_unwrap_depth = 8;

}  // namespace

std::string phone_from_jid(std::string_view jid) {
  constexpr std::string_view person = "@s.whatsapp.net";
  if (jid.size() <= person.size() || jid.substr(jid.size() - person.size()) != person) return {};
  std::string_view user = jid.substr(0, jid.size() - person.size());
  if (auto colon = user.find(':'); colon != std::string_view::npos) user = user.substr(0, colon);
  return detail::e164(user);
}

namespace {

using namespace detail;

// Follows the wrappers Baileys nests real content in; returns the innermost
// content object (or `msg` itself).
status unwrap(const json* msg, std::string path, const json*& out, std::string& out_path) {
  static const char* const wrappers[] = {"ephemeralMessage",          "viewOnceMessage",
                                         "viewOnceMessageV2",         "viewOnceMessageV2Extension",
                                         "documentWithCaptionMessage", "editedMessage"};
  for (int depth = 0; depth < max_unwrap_depth; ++depth) {
    const json* next = nullptr;
    std::string next_path;
    for (const char* w : wrappers) {
      const json* wrap = nullptr;
      WA_TRY(get_object(*msg, w, path + "." + w, wrap));
      if (!wrap) continue;
      next_path = path + "." + w + ".message";
      WA_TRY(get_object(*wrap, "message", next_path, next));
      break;
    }
    if (!next) {  // an edit arrives as protocolMessage{type:14, key, editedMessage}
      const json* proto = nullptr;
      WA_TRY(get_object(*msg, "protocolMessage", path + ".protocolMessage", proto));
      if (proto) {
        next_path = path + ".protocolMessage.editedMessage";
        WA_TRY(get_object(*proto, "editedMessage", next_path, next));
      }
    }
    if (!next) break;
    msg = next;
    path = std::move(next_path);
  }
  out = msg;
  out_path = std::move(path);
  return status::ok();
}

status read_content(const json& message, const std::string& message_path, message_in& m) {
  const json* c = nullptr;
  std::string path;
  WA_TRY(unwrap(&message, message_path, c, path));
  WA_TRY(get_string(*c, "conversation", path + ".conversation", m.text, kind::text));
  if (m.text.empty()) {
    const json* ext = nullptr;
    WA_TRY(get_object(*c, "extendedTextMessage", path + ".extendedTextMessage", ext));
    if (ext) WA_TRY(get_string(*ext, "text", path + ".extendedTextMessage.text", m.text, kind::text));
  }
  static const char* const media_types[] = {"image", "video", "audio", "document", "sticker"};
  for (const char* type : media_types) {
    std::string key = std::string(type) + "Message";
    std::string mpath = path + "." + key;
    const json* media = nullptr;
    WA_TRY(get_object(*c, key.c_str(), mpath, media));
    if (!media) continue;
    media_info info;
    info.type = type;
    WA_TRY(get_string(*media, "mimetype", mpath + ".mimetype", info.mimetype, kind::text));
    WA_TRY(get_int(*media, "fileLength", mpath + ".fileLength", info.size));
    WA_TRY(get_string(*media, "caption", mpath + ".caption", info.caption, kind::text));
    if (m.text.empty()) m.text = info.caption;
    m.media = std::move(info);
    break;
  }
  return status::ok();
}

result<message_in> parse_message(const json& j, const std::string& path) {
  if (!j.is_object()) return bad_field(path, "is not an object");
  message_in m;
  const json* key = nullptr;
  WA_TRY(get_object(j, "key", path + ".key", key));
  if (!key) return bad_field(path + ".key", "is missing");
  WA_TRY(get_string(*key, "remoteJid", path + ".key.remoteJid", m.remote_jid, kind::identifier, true));
  WA_TRY(get_string(*key, "id", path + ".key.id", m.id, kind::identifier, true));
  WA_TRY(get_bool(*key, "fromMe", path + ".key.fromMe", m.from_me));
  WA_TRY(get_string(*key, "participant", path + ".key.participant", m.participant, kind::identifier));
  WA_TRY(get_string(j, "pushName", path + ".pushName", m.push_name, kind::text));
  WA_TRY(get_int(j, "messageTimestamp", path + ".messageTimestamp", m.timestamp));
  const json* content = nullptr;
  WA_TRY(get_object(j, "message", path + ".message", content));
  if (content) WA_TRY(read_content(*content, path + ".message", m));
  m.phone = phone_from_jid(m.remote_jid);
  return m;
}

result<upsert> parse_upsert(const json& data, const std::string& path) {
  if (!data.is_object()) return bad_field(path, "is not an object");
  upsert u;
  WA_TRY(get_string(data, "type", path + ".type", u.type, kind::identifier));
  if (u.type.empty()) u.type = "notify";
  if (u.type != "notify" && u.type != "append") return bad_field(path + ".type", "is not notify or append");
  const json* messages = member(data, "messages");
  if (!messages) return bad_field(path + ".messages", "is missing");
  if (!messages->is_array()) return bad_field(path + ".messages", "is not an array");
  if (messages->size() > max_messages)
    return bad_field(path + ".messages", "has more than " + std::to_string(max_messages) + " entries");
  u.messages.reserve(messages->size());
  for (size_t i = 0; i < messages->size(); ++i) {
    auto m = parse_message((*messages)[i], path + ".messages[" + std::to_string(i) + "]");
    if (!m) return m.error();
    u.messages.push_back(std::move(*m));
  }
  return u;
}

// Baileys' WebMessageInfo.Status number or word -> crmd's word; "" = unknown.
std::string status_word(const json& v) {
  static const char* const by_number[] = {"failed", "pending", "sent", "delivered", "read", "played"};
  if (v.is_number_unsigned()) {
    uint64_t n = v.get<uint64_t>();
    return n < std::size(by_number) ? by_number[n] : "";
  }
  if (!v.is_string()) return "";
  const auto& s = v.get_ref<const std::string&>();
  static const char* const proto[] = {"ERROR", "PENDING", "SERVER_ACK", "DELIVERY_ACK", "READ", "PLAYED"};
  for (size_t i = 0; i < std::size(by_number); ++i)
    if (s == by_number[i] || s == proto[i]) return by_number[i];
  return "";
}

result<std::vector<status_update>> parse_updates(const json& data, const std::string& path) {
  const json* list = &data;
  std::string lpath = path;
  if (data.is_object()) {
    list = member(data, "updates");
    lpath = path + ".updates";
    if (!list) return bad_field(lpath, "is missing");
  }
  if (!list->is_array()) return bad_field(lpath, "is not an array");
  if (list->size() > max_messages)
    return bad_field(lpath, "has more than " + std::to_string(max_messages) + " entries");
  std::vector<status_update> out;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& e = (*list)[i];
    std::string epath = lpath + "[" + std::to_string(i) + "]";
    if (!e.is_object()) return bad_field(epath, "is not an object");
    status_update s;
    const json* key = nullptr;
    WA_TRY(get_object(e, "key", epath + ".key", key));
    if (!key) return bad_field(epath + ".key", "is missing");
    WA_TRY(get_string(*key, "remoteJid", epath + ".key.remoteJid", s.remote_jid, kind::identifier, true));
    WA_TRY(get_string(*key, "id", epath + ".key.id", s.id, kind::identifier, true));
    WA_TRY(get_bool(*key, "fromMe", epath + ".key.fromMe", s.from_me));
    const json* update = nullptr;
    WA_TRY(get_object(e, "update", epath + ".update", update));
    const json* st = update ? member(*update, "status") : nullptr;
    if (!st) continue;  // an edit, reaction or star: not a delivery status
    if (!st->is_number() && !st->is_string()) return bad_field(epath + ".update.status", "is not a number or string");
    s.status = status_word(*st);
    if (s.status.empty()) continue;
    out.push_back(std::move(s));
  }
  return out;
}

status parse_disconnect(const json& ld, const std::string& path, disconnect& d) {
  int64_t code = 0;
  const json* error = nullptr;
  WA_TRY(get_object(ld, "error", path + ".error", error));
  const json* output = nullptr;
  const json* payload = nullptr;
  if (error) WA_TRY(get_object(*error, "output", path + ".error.output", output));
  if (output) WA_TRY(get_object(*output, "payload", path + ".error.output.payload", payload));
  // Least specific first, so the more direct spellings overwrite.
  if (payload) {
    WA_TRY(get_int(*payload, "statusCode", path + ".error.output.payload.statusCode", code));
    WA_TRY(get_string(*payload, "message", path + ".error.output.payload.message", d.message, kind::text));
  }
  if (output) WA_TRY(get_int(*output, "statusCode", path + ".error.output.statusCode", code));
  if (error) WA_TRY(get_string(*error, "message", path + ".error.message", d.message, kind::text));
  WA_TRY(get_int(ld, "statusCode", path + ".statusCode", code));
  WA_TRY(get_string(ld, "message", path + ".message", d.message, kind::text));
  WA_TRY(get_string(ld, "date", path + ".date", d.date, kind::text));
  if (code > std::numeric_limits<int>::max()) return bad_field(path + ".statusCode", "is out of range");
  d.code = static_cast<int>(code);
  return status::ok();
}

result<connection_update> parse_connection(const json& data, const std::string& path) {
  if (!data.is_object()) return bad_field(path, "is not an object");
  connection_update c;
  WA_TRY(get_string(data, "connection", path + ".connection", c.connection, kind::identifier));
  if (!c.connection.empty() && c.connection != "connecting" && c.connection != "open" && c.connection != "close")
    return bad_field(path + ".connection", "is not connecting, open or close");
  if (member(data, "qr")) {
    std::string qr;
    WA_TRY(get_string(data, "qr", path + ".qr", qr, kind::text));
    c.qr = std::move(qr);
  }
  WA_TRY(get_bool(data, "isNewLogin", path + ".isNewLogin", c.is_new_login));
  const json* ld = nullptr;
  WA_TRY(get_object(data, "lastDisconnect", path + ".lastDisconnect", ld));
  if (ld) {
    disconnect d;
    WA_TRY(parse_disconnect(*ld, path + ".lastDisconnect", d));
    c.last_disconnect = std::move(d);
  }
  const json* me = nullptr;
  WA_TRY(get_object(data, "me", path + ".me", me));
  if (me) {
    WA_TRY(get_string(*me, "id", path + ".me.id", c.me_id, kind::identifier));
    WA_TRY(get_string(*me, "name", path + ".me.name", c.me_name, kind::text));
  }
  return c;
}

}  // namespace

result<bridge_event> parse_bridge_event(std::string_view body) {
  auto loaded = load_object(body, "the bridge body");
  if (!loaded) return loaded.error();
  const json& j = *loaded;
  bridge_event ev;
  if (const json* seq = member(j, "seq")) {
    if (seq->is_number_unsigned()) ev.seq = seq->get<uint64_t>();
    else if (seq->is_number_integer()) return bad_field("seq", "is negative");
    else return bad_field("seq", "is not an integer");
  }
  WA_TRY(get_string(j, "session", "session", ev.session, kind::identifier));
  WA_TRY(get_string(j, "event", "event", ev.event, kind::identifier, true));
  const json* data = member(j, "data");
  if (!data) return bad_field("data", "is missing");
  if (ev.event == "connection.update") {
    auto c = parse_connection(*data, "data");
    if (!c) return c.error();
    ev.data = std::move(*c);
  } else if (ev.event == "messages.upsert") {
    auto u = parse_upsert(*data, "data");
    if (!u) return u.error();
    ev.data = std::move(*u);
  } else if (ev.event == "messages.update") {
    auto s = parse_updates(*data, "data");
    if (!s) return s.error();
    ev.data = std::move(*s);
  } else {
    return bad_field("event", "is not connection.update, messages.upsert or messages.update");
  }
  return ev;
}

result<std::pair<std::string, upsert>> parse_legacy_incoming(std::string_view body) {
  auto loaded = load_object(body, "the incoming body");
  if (!loaded) return loaded.error();
  const json& j = *loaded;
  std::string tenant;
  WA_TRY(get_string(j, "tenantId", "tenantId", tenant, kind::identifier, true));
  const json* payload = member(j, "payload");
  if (!payload) return bad_field("payload", "is missing");
  auto u = parse_upsert(*payload, "payload");
  if (!u) return u.error();
  return std::make_pair(std::move(tenant), std::move(*u));
}

}  // namespace crmd::connectors::wa
