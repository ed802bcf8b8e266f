// Specifications of WhatsApp input parsing: Baileys bridge events shaped like
// the real ones, the legacy incoming body, Meta Cloud API webhooks and their
// signatures, and hostile bodies that must come back as error values.
#include <gtest/gtest.h>

#include <string>

#include "connectors/whatsapp_parse.hpp"

namespace crmd::connectors::wa {
namespace {

bridge_event parsed(std::string_view body) {
  auto r = parse_bridge_event(body);
  EXPECT_TRUE(r) << r.error().to_string();
  return r ? *r : bridge_event{};
}

connection_update conn(std::string_view body) {
  auto ev = parsed(body);
  EXPECT_EQ(ev.event, "connection.update");
  auto* c = std::get_if<connection_update>(&ev.data);
  return c ? *c : connection_update{};
}

upsert ups(std::string_view body) {
  auto ev = parsed(body);
  auto* u = std::get_if<upsert>(&ev.data);
  EXPECT_NE(u, nullptr);
  return u ? *u : upsert{};
}

message_in one(std::string_view message_json) {
  auto u = ups(R"({"seq":7,"event":"messages.upsert","data":{"type":"notify","messages":[)" +
               std::string(message_json) + "]}}");
  EXPECT_EQ(u.messages.size(), 1u);
  return u.messages.empty() ? message_in{} : u.messages[0];
}

void expect_refused(std::string_view body, const std::string& reason, const std::string& field = "") {
  auto r = parse_bridge_event(body);
  ASSERT_FALSE(r) << "accepted: " << body.substr(0, 200);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_EQ(r.error().reason(), reason) << r.error().message();
  if (!field.empty()) {
    EXPECT_NE(r.error().message().find(field), std::string::npos) << r.error().message();
  }
}

// --- connection.update ----------------------------------------------------------

TEST(whatsapp_bridge, a_qr_update_carries_the_new_qr_string) {
  auto c = conn(R"({"seq":1,"event":"connection.update","data":{"qr":"2@abc+def/ghi==,xyz=,AAA=,1"}})");
  ASSERT_TRUE(c.qr);
  EXPECT_EQ(*c.qr, "2@abc+def/ghi==,xyz=,AAA=,1");
  EXPECT_EQ(c.connection, "");
  EXPECT_FALSE(c.last_disconnect);
}

TEST(whatsapp_bridge, a_scan_reports_is_new_login) {
  auto c = conn(R"({"seq":2,"event":"connection.update","data":{"isNewLogin":true}})");
  EXPECT_TRUE(c.is_new_login);
  EXPECT_FALSE(c.qr);
}

TEST(whatsapp_bridge, close_with_restart_required_in_the_written_out_form) {
  auto c = conn(R"J({"seq":3,"event":"connection.update","data":{"connection":"close",
    "lastDisconnect":{"statusCode":515,"message":"Stream Errored (restart required)","date":"2024-05-01T10:00:00.000Z"}}})J");
  EXPECT_EQ(c.connection, "close");
  ASSERT_TRUE(c.last_disconnect);
  EXPECT_EQ(c.last_disconnect->code, 515);
  EXPECT_EQ(c.last_disconnect->message, "Stream Errored (restart required)");
  EXPECT_EQ(c.last_disconnect->date, "2024-05-01T10:00:00.000Z");
}

TEST(whatsapp_bridge, close_with_logged_out_in_baileys_nested_boom_form) {
  auto c = conn(R"({"seq":4,"event":"connection.update","data":{"connection":"close","lastDisconnect":{
    "error":{"data":{"tag":"conflict"},"isBoom":true,"isServer":false,
      "output":{"statusCode":401,"payload":{"statusCode":401,"error":"Unauthorized","message":"Connection Failure"},"headers":{}},
      "message":"Connection Failure"},
    "date":"2024-05-01T10:05:00.000Z"}}})");
  ASSERT_TRUE(c.last_disconnect);
  EXPECT_EQ(c.last_disconnect->code, 401);
  EXPECT_EQ(c.last_disconnect->message, "Connection Failure");
  EXPECT_EQ(c.last_disconnect->date, "2024-05-01T10:05:00.000Z");
}

TEST(whatsapp_bridge, a_serialised_error_that_lost_its_fields_gives_code_zero) {
  auto c = conn(R"({"event":"connection.update","data":{"connection":"close",
    "lastDisconnect":{"error":{},"date":"2024-05-01T10:06:00.000Z"}}})");
  ASSERT_TRUE(c.last_disconnect);
  EXPECT_EQ(c.last_disconnect->code, 0);
  EXPECT_EQ(c.last_disconnect->message, "");
  EXPECT_EQ(c.last_disconnect->date, "2024-05-01T10:06:00.000Z");
}

TEST(whatsapp_bridge, open_carries_who_we_are) {
  auto c = conn(R"({"seq":5,"event":"connection.update","data":{"connection":"open",
    "receivedPendingNotifications":false,"me":{"id":"972501234567:12@s.whatsapp.net","name":"Dana"}}})");
  EXPECT_EQ(c.connection, "open");
  EXPECT_EQ(c.me_id, "972501234567:12@s.whatsapp.net");
  EXPECT_EQ(c.me_name, "Dana");
}

TEST(whatsapp_bridge, an_unknown_connection_state_is_refused) {
  expect_refused(R"({"event":"connection.update","data":{"connection":"half-open"}})", "invalid_field",
                 "data.connection");
}

// --- messages.upsert ---------------------------------------------------------------

TEST(whatsapp_bridge, a_live_conversation_text_in_hebrew) {
  auto m = one(R"({"key":{"remoteJid":"972501234567@s.whatsapp.net","fromMe":false,"id":"3EB0C767D82B6A3F1C2E"},
    "messageTimestamp":1714557600,"pushName":"יוסי","broadcast":false,
    "message":{"conversation":"שלום, אפשר לקבוע פגישה?","messageContextInfo":{"deviceListMetadataVersion":2}}})");
  EXPECT_EQ(m.remote_jid, "972501234567@s.whatsapp.net");
  EXPECT_EQ(m.id, "3EB0C767D82B6A3F1C2E");
  EXPECT_FALSE(m.from_me);
  EXPECT_EQ(m.timestamp, 1714557600);
  EXPECT_EQ(m.push_name, "יוסי");
  EXPECT_EQ(m.text, "שלום, אפשר לקבוע פגישה?");
  EXPECT_EQ(m.phone, "+972501234567");
  EXPECT_FALSE(m.media);
}

TEST(whatsapp_bridge, extended_text_with_a_link_preview) {
  auto m = one(R"({"key":{"remoteJid":"14155550100@s.whatsapp.net","fromMe":true,"id":"BAE5F1"},
    "messageTimestamp":"1714557601",
    "message":{"extendedTextMessage":{"text":"see https://example.com","matchedText":"https://example.com"}}})");
  EXPECT_EQ(m.text, "see https://example.com");
  EXPECT_TRUE(m.from_me);
  EXPECT_EQ(m.timestamp, 1714557601);
}

TEST(whatsapp_bridge, disappearing_messages_are_unwrapped) {
  auto m = one(R"({"key":{"remoteJid":"14155550100@s.whatsapp.net","id":"E1"},
    "messageTimestamp":{"low":1714557602,"high":0,"unsigned":true},
    "message":{"ephemeralMessage":{"message":{"extendedTextMessage":{"text":"gone in 7 days"}}}}})");
  EXPECT_EQ(m.text, "gone in 7 days");
  EXPECT_EQ(m.timestamp, 1714557602);  // a protobufjs Long
}

TEST(whatsapp_bridge, a_view_once_image_with_caption_and_string_file_length) {
  auto m = one(R"({"key":{"remoteJid":"14155550100@s.whatsapp.net","id":"V1"},"messageTimestamp":1714557603,
    "message":{"viewOnceMessageV2":{"message":{"imageMessage":{"url":"https://mmg.whatsapp.net/x",
      "mimetype":"image/jpeg","caption":"the contract","fileLength":"48213","height":1280,"width":960,
      "mediaKey":"abc=","viewOnce":true}}}}})");
  ASSERT_TRUE(m.media);
  EXPECT_EQ(m.media->type, "image");
  EXPECT_EQ(m.media->mimetype, "image/jpeg");
  EXPECT_EQ(m.media->size, 48213);
  EXPECT_EQ(m.media->caption, "the contract");
  EXPECT_EQ(m.text, "the contract");
}

TEST(whatsapp_bridge, the_plain_view_once_wrapper_and_the_v2_extension_are_unwrapped) {
  auto m = one(R"({"key":{"remoteJid":"14155550100@s.whatsapp.net","id":"V0"},
    "message":{"viewOnceMessage":{"message":{"videoMessage":{"mimetype":"video/mp4","fileLength":{"low":905213,"high":0},
      "seconds":7,"caption":"site visit","viewOnce":true}}}}})");
  ASSERT_TRUE(m.media);
  EXPECT_EQ(m.media->type, "video");
  EXPECT_EQ(m.media->size, 905213);
  EXPECT_EQ(m.text, "site visit");
  auto a = one(R"({"key":{"remoteJid":"14155550100@s.whatsapp.net","id":"V2X"},
    "message":{"viewOnceMessageV2Extension":{"message":{"audioMessage":{"mimetype":"audio/ogg; codecs=opus",
      "fileLength":"5120","ptt":true,"viewOnce":true}}}}})");
  ASSERT_TRUE(a.media);
  EXPECT_EQ(a.media->type, "audio");
  EXPECT_EQ(a.media->mimetype, "audio/ogg; codecs=opus");
  EXPECT_EQ(a.text, "");
  // Wrappers nest (a disappearing view-once text).
  auto n = one(R"({"key":{"remoteJid":"14155550100@s.whatsapp.net","id":"V3"},
    "message":{"ephemeralMessage":{"message":{"viewOnceMessage":{"message":{"conversation":"once"}}}}}})");
  EXPECT_EQ(n.text, "once");
}

TEST(whatsapp_bridge, a_document_with_caption_and_an_edit_are_unwrapped) {
  auto d = one(R"({"key":{"remoteJid":"14155550100@s.whatsapp.net","id":"D1"},"message":{"documentWithCaptionMessage":
    {"message":{"documentMessage":{"mimetype":"application/pdf","fileLength":1024,"caption":"quote"}}}}})");
  ASSERT_TRUE(d.media);
  EXPECT_EQ(d.media->type, "document");
  EXPECT_EQ(d.media->size, 1024);
  EXPECT_EQ(d.text, "quote");
  auto e = one(R"({"key":{"remoteJid":"14155550100@s.whatsapp.net","id":"ED1"},"message":{"editedMessage":{"message":
    {"protocolMessage":{"key":{"id":"ORIG"},"type":14,"editedMessage":{"conversation":"fixed typo"}}}}}})");
  EXPECT_EQ(e.text, "fixed typo");
}

TEST(whatsapp_bridge, a_group_message_has_a_participant_and_no_phone) {
  auto m = one(R"({"key":{"remoteJid":"120363025246125486@g.us","fromMe":false,"id":"G1",
    "participant":"972501234567@s.whatsapp.net"},"pushName":"Avi","message":{"conversation":"hi all"}})");
  EXPECT_EQ(m.remote_jid, "120363025246125486@g.us");
  EXPECT_EQ(m.participant, "972501234567@s.whatsapp.net");
  EXPECT_EQ(m.phone, "");
  EXPECT_EQ(m.text, "hi all");
}

TEST(whatsapp_bridge, a_hidden_number_lid_sender_has_no_phone) {
  auto m = one(R"({"key":{"remoteJid":"123456789012345@lid","id":"L1"},"message":{"conversation":"hello"}})");
  EXPECT_EQ(m.phone, "");
  EXPECT_EQ(m.remote_jid, "123456789012345@lid");
}

TEST(whatsapp_bridge, a_stub_without_content_is_kept_with_empty_text) {
  auto m = one(R"({"key":{"remoteJid":"14155550100@s.whatsapp.net","id":"S1","participant":null},
    "message":null,"messageStubType":2})");
  EXPECT_EQ(m.text, "");
  EXPECT_EQ(m.participant, "");
}

TEST(whatsapp_bridge, append_is_history) {
  auto u = ups(R"({"seq":9,"event":"messages.upsert","data":{"type":"append","messages":[
    {"key":{"remoteJid":"14155550100@s.whatsapp.net","fromMe":true,"id":"H1"},"messageTimestamp":1700000000,"message":{"conversation":"old 1"}},
    {"key":{"remoteJid":"14155550100@s.whatsapp.net","fromMe":false,"id":"H2"},"messageTimestamp":1700000060,"message":{"conversation":"old 2"}}]}})");
  EXPECT_EQ(u.type, "append");
  ASSERT_EQ(u.messages.size(), 2u);
  EXPECT_EQ(u.messages[1].id, "H2");
  EXPECT_EQ(u.messages[1].text, "old 2");
}

TEST(whatsapp_bridge, older_bridges_send_no_seq) {
  auto ev = parsed(R"({"event":"messages.upsert","data":{"messages":[]}})");
  EXPECT_FALSE(ev.seq);
  EXPECT_EQ(std::get<upsert>(ev.data).type, "notify");
  EXPECT_EQ(*parsed(R"({"seq":0,"event":"messages.upsert","data":{"messages":[]}})").seq, 0u);
  EXPECT_EQ(ev.session, "main") << "no session named: main";
  EXPECT_EQ(parsed(R"({"session":"sales","event":"messages.upsert","data":{"messages":[]}})").session, "sales");
}

// --- messages.update ------------------------------------------------------------------

TEST(whatsapp_bridge, delivery_statuses_as_baileys_numbers_and_as_words) {
  auto ev = parsed(R"({"seq":11,"event":"messages.update","data":[
    {"key":{"remoteJid":"14155550100@s.whatsapp.net","fromMe":true,"id":"M1"},"update":{"status":0}},
    {"key":{"remoteJid":"14155550100@s.whatsapp.net","fromMe":true,"id":"M2"},"update":{"status":2}},
    {"key":{"remoteJid":"14155550100@s.whatsapp.net","fromMe":true,"id":"M3"},"update":{"status":3}},
    {"key":{"remoteJid":"14155550100@s.whatsapp.net","fromMe":true,"id":"M4"},"update":{"status":4}},
    {"key":{"remoteJid":"14155550100@s.whatsapp.net","fromMe":true,"id":"M5"},"update":{"status":5}},
    {"key":{"remoteJid":"14155550100@s.whatsapp.net","fromMe":true,"id":"M6"},"update":{"status":1}},
    {"key":{"remoteJid":"14155550100@s.whatsapp.net","fromMe":true,"id":"M7"},"update":{"status":"read"}},
    {"key":{"remoteJid":"14155550100@s.whatsapp.net","fromMe":true,"id":"M8"},"update":{"status":"DELIVERY_ACK"}},
    {"key":{"remoteJid":"14155550100@s.whatsapp.net","fromMe":true,"id":"M9"},"update":{"starred":true}},
    {"key":{"remoteJid":"14155550100@s.whatsapp.net","fromMe":true,"id":"M10"},"update":{"status":9}}]})");
  const auto& s = std::get<std::vector<status_update>>(ev.data);
  ASSERT_EQ(s.size(), 8u);  // the star and the unknown 9 are skipped
  const char* want[] = {"failed", "sent", "delivered", "read", "played", "pending", "read", "delivered"};
  for (size_t i = 0; i < s.size(); ++i) EXPECT_EQ(s[i].status, want[i]) << s[i].id;
  EXPECT_EQ(s[0].id, "M1");
  EXPECT_TRUE(s[0].from_me);
  EXPECT_EQ(s[0].remote_jid, "14155550100@s.whatsapp.net");
}

// --- hostile bodies --------------------------------------------------------------------

TEST(whatsapp_bridge, malformed_bodies_are_error_values) {
  expect_refused("", "malformed_body");
  expect_refused("not json", "malformed_body");
  expect_refused(R"({"event":"messages.upsert","data":{"messages":[]})", "malformed_body");  // truncated
  expect_refused("[1,2,3]", "malformed_body");
  expect_refused(std::string(100000, '['), "malformed_body");
  expect_refused(R"({"event":"messages.upsert","data":"oops"})", "invalid_field", "data");
  expect_refused(R"({"event":"messages.upsert","data":{"messages":{}}})", "invalid_field", "data.messages");
  expect_refused(R"({"event":"connection.update","data":[]})", "invalid_field", "data");
  expect_refused(R"({"event":"messages.upsert"})", "invalid_field", "data");
  expect_refused(R"({"data":{}})", "invalid_field", "event");
  expect_refused(R"({"event":"chats.set","data":{}})", "invalid_field", "event");
  expect_refused(R"({"seq":-1,"event":"messages.upsert","data":{"messages":[]}})", "invalid_field", "seq");
  expect_refused(R"({"seq":"5","event":"messages.upsert","data":{"messages":[]}})", "invalid_field", "seq");
  expect_refused(R"({"seq":1.5,"event":"messages.upsert","data":{"messages":[]}})", "invalid_field", "seq");
  expect_refused(R"({"event":"messages.upsert","data":{"type":"prepend","messages":[]}})", "invalid_field",
                 "data.type");
  expect_refused(R"({"session":7,"event":"messages.upsert","data":{"messages":[]}})", "invalid_field", "session");
  expect_refused(R"({"session":["sales"],"event":"messages.upsert","data":{"messages":[]}})", "invalid_field",
                 "session");
}

TEST(whatsapp_bridge, a_message_without_key_id_names_the_field) {
  expect_refused(R"({"event":"messages.upsert","data":{"messages":[
    {"key":{"remoteJid":"1@s.whatsapp.net","id":"OK"}},{"key":{"remoteJid":"1@s.whatsapp.net"}}]}})",
                 "invalid_field", "data.messages[1].key.id");
  expect_refused(R"({"event":"messages.upsert","data":{"messages":[{"key":{"remoteJid":"1@s.whatsapp.net","id":7}}]}})",
                 "invalid_field", "data.messages[0].key.id");
  expect_refused(R"({"event":"messages.upsert","data":{"messages":[{"message":{"conversation":"x"}}]}})",
                 "invalid_field", "data.messages[0].key");
  expect_refused(R"({"event":"messages.upsert","data":{"messages":[{"key":{"remoteJid":"1@s.whatsapp.net","id":"A"},
    "message":{"imageMessage":{"fileLength":12.5}}}]}})", "invalid_field", "imageMessage.fileLength");
  expect_refused(R"({"event":"messages.update","data":[{"key":{"remoteJid":"1@s.whatsapp.net","id":"A"},
    "update":{"status":true}}]})", "invalid_field", "data[0].update.status");
}

TEST(whatsapp_bridge, size_limits_are_enforced) {
  std::string msg = R"({"key":{"remoteJid":"1@s.whatsapp.net","id":"A"}})";
  std::string many = R"({"event":"messages.upsert","data":{"messages":[)";
  for (size_t i = 0; i < max_messages + 1; ++i) many += (i ? "," : "") + msg;
  expect_refused(many + "]}}", "invalid_field", "data.messages");

  std::string big = R"({"event":"messages.upsert","data":{"messages":[]},"pad":")" +
                    std::string(max_body_bytes, 'x') + "\"}";
  expect_refused(big, "malformed_body");

  // Long text is truncated at a UTF-8 boundary (2-byte Hebrew letters, odd limit offset).
  std::string text = "a" + std::string();
  for (size_t i = 0; i < max_string_bytes; ++i) text += "ש";
  auto m = one(R"({"key":{"remoteJid":"1@s.whatsapp.net","id":"T"},"message":{"conversation":")" + text + "\"}}");
  EXPECT_LE(m.text.size(), max_string_bytes);
  EXPECT_GE(m.text.size(), max_string_bytes - 3);
  EXPECT_EQ(m.text.size() % 2, 1u);  // "a" plus whole letters
  // An identifier that long is refused.
  expect_refused(R"({"event":"messages.upsert","data":{"messages":[{"key":{"remoteJid":"1@s.whatsapp.net","id":")" +
                     std::string(max_string_bytes + 1, 'I') + "\"}}]}}",
                 "invalid_field", "data.messages[0].key.id");
}

// --- legacy incoming ---------------------------------------------------------------------

TEST(whatsapp_legacy, tenant_and_upsert_payload) {
  auto r = parse_legacy_incoming(R"({"tenantId":"acme","payload":{"type":"notify","messages":[
    {"key":{"remoteJid":"972501234567@s.whatsapp.net","id":"X1"},"messageTimestamp":1714557600,"message":{"conversation":"hi"}}]}})");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->first, "acme");
  ASSERT_EQ(r->second.messages.size(), 1u);
  EXPECT_EQ(r->second.messages[0].phone, "+972501234567");
  EXPECT_EQ(r->second.messages[0].text, "hi");

  for (const char* bad : {R"({"payload":{"messages":[]}})", R"({"tenantId":"","payload":{"messages":[]}})",
                          R"({"tenantId":5,"payload":{"messages":[]}})", R"({"tenantId":"acme"})",
                          R"({"tenantId":"acme","payload":[]})"}) {
    auto b = parse_legacy_incoming(bad);
    ASSERT_FALSE(b) << bad;
    EXPECT_EQ(b.error().reason(), "invalid_field") << bad;
  }
  EXPECT_EQ(parse_legacy_incoming("{").error().reason(), "malformed_body");
}

// --- Cloud API ------------------------------------------------------------------------------

const std::string cloud_body = R"({"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[
  {"field":"messages","value":{"messaging_product":"whatsapp",
    "metadata":{"display_phone_number":"15550001111","phone_number_id":"106540352242922"},
    "contacts":[{"profile":{"name":"Kerry Fisher"},"wa_id":"16315551234"}],
    "messages":[{"from":"16315551234","id":"wamid.ABGGFlCGg0cvAgo-sJQh43L5Pe4W","timestamp":"1603059201",
                 "text":{"body":"Hello \u05e9\u05dc\u05d5\u05dd"},"type":"text"}]}},
  {"field":"messages","value":{"messaging_product":"whatsapp",
    "metadata":{"display_phone_number":"15550001111","phone_number_id":"106540352242922"},
    "statuses":[{"id":"wamid.OUT1","status":"read","timestamp":"1603086313","recipient_id":"16315551234"}]}},
  {"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]})";

TEST(whatsapp_cloud, signatures_over_the_raw_body) {
  const std::string secret = "app-secret";
  std::string header = meta_signature_header(secret, cloud_body);
  ASSERT_EQ(header.size(), 7u + 64u);
  EXPECT_TRUE(valid_meta_signature(secret, cloud_body, header));
  std::string upper = header;
  for (size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(toupper(upper[i]));
  EXPECT_TRUE(valid_meta_signature(secret, cloud_body, upper));

  EXPECT_FALSE(valid_meta_signature(secret, cloud_body + " ", header));     // other bytes
  EXPECT_FALSE(valid_meta_signature("other", cloud_body, header));          // other secret
  EXPECT_FALSE(valid_meta_signature(secret, cloud_body, ""));               // missing
  EXPECT_FALSE(valid_meta_signature(secret, cloud_body, header.substr(7)));  // no prefix
  EXPECT_FALSE(valid_meta_signature(secret, cloud_body, "sha1=" + header.substr(7)));
  EXPECT_FALSE(valid_meta_signature(secret, cloud_body, header.substr(0, header.size() - 1)));
  EXPECT_FALSE(valid_meta_signature("", cloud_body, meta_signature_header("", cloud_body)));
}

TEST(whatsapp_cloud, a_text_message_and_a_read_without_delivered) {
  auto r = parse_cloud_webhook(cloud_body);
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->size(), 2u);  // the template status change is skipped
  const auto& b = (*r)[0];
  EXPECT_EQ(b.phone_number_id, "106540352242922");
  ASSERT_EQ(b.messages.size(), 1u);
  const auto& m = b.messages[0];
  EXPECT_EQ(m.phone, "+16315551234");
  EXPECT_EQ(m.remote_jid, "16315551234@s.whatsapp.net");
  EXPECT_EQ(m.id, "wamid.ABGGFlCGg0cvAgo-sJQh43L5Pe4W");
  EXPECT_EQ(m.timestamp, 1603059201);
  EXPECT_EQ(m.text, "Hello שלום");
  EXPECT_EQ(m.push_name, "Kerry Fisher");
  const auto& s = (*r)[1].statuses;
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].status, "read");
  EXPECT_EQ(s[0].id, "wamid.OUT1");
  EXPECT_EQ(s[0].remote_jid, "16315551234@s.whatsapp.net");
  EXPECT_TRUE(s[0].from_me);
}

TEST(whatsapp_cloud, media_and_refusals) {
  auto r = parse_cloud_webhook(R"({"entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"P"},
    "messages":[{"from":"4915112345678","id":"wamid.I","timestamp":"1","type":"image",
      "image":{"mime_type":"image/jpeg","sha256":"x","id":"MEDIA1","caption":"receipt"}}]}}]}]})");
  ASSERT_TRUE(r) << r.error().to_string();
  const auto& m = (*r)[0].messages[0];
  ASSERT_TRUE(m.media);
  EXPECT_EQ(m.media->type, "image");
  EXPECT_EQ(m.media->mimetype, "image/jpeg");
  EXPECT_EQ(m.media->size, -1);
  EXPECT_EQ(m.text, "receipt");

  for (const char* bad : {R"({"object":"x"})", R"({"entry":{}})", R"({"entry":[{"changes":[{"value":{}}]}]})",
                          R"({"entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"P"},"messages":[{"id":"w"}]}}]}]})",
                          R"({"entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"P"},
                               "messages":[{"from":"1","id":"w","timestamp":"soon"}]}}]}]})"}) {
    auto b = parse_cloud_webhook(bad);
    ASSERT_FALSE(b) << bad;
    EXPECT_EQ(b.error().reason(), "invalid_field") << bad;
  }
  EXPECT_EQ(parse_cloud_webhook("<xml/>").error().reason(), "malformed_body");
}

// Every prefix of a real body, and the body with each byte replaced by a
// structural character, parses or is refused: never a throw or a crash.
TEST(whatsapp_cloud, cut_and_corrupted_bodies_never_throw) {
  const std::string bridge = R"({"seq":3,"event":"messages.upsert","data":{"type":"notify","messages":[
    {"key":{"remoteJid":"972501234567@s.whatsapp.net","id":"A","fromMe":false},"messageTimestamp":{"low":5,"high":0},
     "message":{"ephemeralMessage":{"message":{"imageMessage":{"fileLength":"12","caption":"שלום"}}}}}]}})";
  for (const std::string* body : {&bridge, &cloud_body}) {
    for (size_t n = 0; n <= body->size(); ++n) {
      std::string_view cut(body->data(), n);
      EXPECT_NO_THROW({ (void)parse_bridge_event(cut); (void)parse_cloud_webhook(cut); (void)parse_legacy_incoming(cut); });
    }
    for (size_t i = 0; i < body->size(); ++i)
      for (char c : {'"', '{', '[', '0', 'n', '\\'}) {
        std::string b = *body;
        b[i] = c;
        EXPECT_NO_THROW({ (void)parse_bridge_event(b); (void)parse_cloud_webhook(b); });
      }
  }
}

}  // namespace
}  // namespace crmd::connectors::wa
