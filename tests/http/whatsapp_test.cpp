// WhatsApp sessions end to end on the real crmd serve against a fake bridge
// on 127.0.0.1: single-flight start, the QR route, the pairing sequence,
// disconnect policy, stale deliveries, and a restart in the middle of a
// reconnect backoff.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "connectors/whatsapp_parse.hpp"
#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/fake_http_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::body;
using test::crmd_server;
using test::fake_http_server;
using test::fake_request;
using test::fake_response;

const std::string secret = "bridge-secret-0123456789";
std::atomic<int> starts{0}, logouts{0};

class whatsapp_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bridge_ = new fake_http_server([](const fake_request& r) {
      if (r.header("x-internal-secret") != secret) return fake_response{401, R"({"error":"unauthorized"})"};
      if (r.target == "/sessions/acme/start") ++starts;
      if (r.target == "/sessions/acme/logout") ++logouts;
      if (r.target == "/sessions/acme/status") return fake_response{200, R"({"state":"connecting","qr":null,"me":null})"};
      if (r.target == "/sessions/acme/messages") {
        if (r.body.find("\"fail\"") != std::string::npos) return fake_response{500, R"({"error":"socket closed"})"};
        return fake_response{200, R"({"id":"BAE5SENT1"})"};
      }
      return fake_response{200, R"({"ok":true})"};
    });
    dir_ = new test::temp_dir;
    server_ = new crmd_server(dir_->sub("data"), {{"BAILEYS_BASE_URL", bridge_->base_url()},
                                                  {"INTERNAL_SECRET", secret},
                                                  {"WHATSAPP_VERIFY_TOKEN", "meta-verify"},
                                                  {"WHATSAPP_APP_SECRET", "meta-app-secret"}});
    ASSERT_TRUE(server_->start());
    ASSERT_EQ(server_->post("/api/admin/tenants", R"({"id":"acme","name":"Acme","aliases":["1"]})").status, 201);
  }
  static void TearDownTestSuite() {
    server_->terminate();
    delete server_;
    delete dir_;
    delete bridge_;
  }
  // Reads wait for the views to include every delivery made so far (the
  // bridge's writes are not the reader's own).
  static test::http_result api(const std::string& method, const std::string& path) {
    std::string sep = path.find('?') == std::string::npos ? "?" : "&";
    return test::http(method, server_->url(path + sep + "business_id=acme&min_position=" + std::to_string(seen_)), "{}",
                      {crmd_server::auth(), crmd_server::json()});
  }
  static void note(const test::http_result& r) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("position") && j["position"].is_number_unsigned())
      seen_ = std::max<uint64_t>(seen_, j["position"].get<uint64_t>());
  }
  // A delivery from the bridge, to the tenant spelled `tenant`.
  static test::http_result deliver(const json& event, const std::string& tenant = "acme",
                                   const std::string& with_secret = secret) {
    auto r = test::http("POST", server_->url("/webhook/whatsapp/" + tenant + "/events"), event.dump(),
                        {"Content-Type: application/json", "X-Internal-Secret: " + with_secret});
    note(r);
    return r;
  }
  static json update(int seq, json data) { return {{"seq", seq}, {"event", "connection.update"}, {"data", data}}; }
  static void wait_for(const std::function<bool()>& done) {
    for (int i = 0; i < 100 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  static test::temp_dir* dir_;
  static crmd_server* server_;
  static fake_http_server* bridge_;
  static uint64_t seen_;
};
uint64_t whatsapp_test::seen_ = 0;
test::temp_dir* whatsapp_test::dir_ = nullptr;
crmd_server* whatsapp_test::server_ = nullptr;
fake_http_server* whatsapp_test::bridge_ = nullptr;

TEST_F(whatsapp_test, fifty_concurrent_starts_send_one_start_to_the_bridge_and_the_qr_survives) {
  int before = starts;
  std::vector<std::future<test::http_result>> calls;
  for (int i = 0; i < 50; ++i) calls.push_back(std::async(std::launch::async, [] { return api("POST", "/api/whatsapp/start"); }));
  for (auto& f : calls) {
    auto r = f.get();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(body(r)["ok"], true);
    std::string state = body(r)["state"];
    EXPECT_TRUE(state == "starting" || state == "qr" || state == "connected") << state;
  }
  wait_for([&] { return starts > before; });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(starts - before, 1) << "single flight";

  // No QR yet: 200 with nulls, never an empty body.
  auto none = api("GET", "/api/whatsapp/qr");
  ASSERT_EQ(none.status, 200);
  EXPECT_TRUE(body(none)["qrText"].is_null());
  // The bridge shows a QR (to the tenant's alias, as older services spelled it).
  ASSERT_EQ(deliver(update(1, {{"qr", "2@first-qr"}}), "1").status, 200);
  auto qr = body(api("GET", "/api/whatsapp/qr"));
  EXPECT_EQ(qr["qrText"], "2@first-qr");
  EXPECT_EQ(qr["dataUrl"].get<std::string>().rfind("data:image/svg+xml;base64,", 0), 0u);
  // Starting again while the QR is on screen changes nothing.
  ASSERT_EQ(api("POST", "/api/whatsapp/start").status, 200);
  EXPECT_EQ(body(api("GET", "/api/whatsapp/qr"))["qrText"], "2@first-qr");
  EXPECT_EQ(starts - before, 1);
  // A stale delivery is ignored.
  ASSERT_EQ(deliver(update(1, {{"qr", "2@stale"}})).status, 200);
  EXPECT_EQ(body(api("GET", "/api/whatsapp/qr"))["qrText"], "2@first-qr");

  // Scan, restart required (515, Baileys' nested form), open.
  ASSERT_EQ(deliver(update(2, {{"isNewLogin", true}})).status, 200);
  json close515 = {{"connection", "close"},
                   {"lastDisconnect", {{"error", {{"output", {{"statusCode", 515}}}, {"message", "restart required"}}},
                                       {"date", "2026-11-30T04:00:00Z"}}}};
  ASSERT_EQ(deliver(update(3, close515)).status, 200);
  wait_for([&] { return starts - before == 2; });
  EXPECT_EQ(starts - before, 2) << "515 restarts at once";
  ASSERT_EQ(deliver(update(4, {{"connection", "open"}, {"me", {{"id", "972501234567:3@s.whatsapp.net"}, {"name", "Acme"}}}})).status, 200);
  auto st = body(api("GET", "/api/whatsapp/status"));
  EXPECT_EQ(st["state"], "connected");
  EXPECT_EQ(st["connected"], true);
  EXPECT_EQ(st["hasQR"], false);
  EXPECT_EQ(st["jid"], "972501234567:3@s.whatsapp.net");
  EXPECT_EQ(st["pushName"], "Acme");
  EXPECT_EQ(st["lastDisconnect"]["code"], 515);

  // WhatsApp logs the device out: a new QR is needed and the bridge drops its auth.
  int out_before = logouts;
  json close401 = {{"connection", "close"}, {"lastDisconnect", {{"statusCode", 401}, {"message", "logged out"}, {"date", ""}}}};
  ASSERT_EQ(deliver(update(5, close401)).status, 200);
  EXPECT_EQ(body(api("GET", "/api/whatsapp/status"))["state"], "logged_out");
  wait_for([&] { return logouts > out_before; });
  EXPECT_EQ(logouts - out_before, 1);

  auto hist = body(api("GET", "/api/whatsapp/history?limit=100"));
  ASSERT_GE(hist["total"].get<int>(), 7) << hist.dump();
  EXPECT_EQ(hist["results"][0]["type"], "wa_logged_out") << "newest first";
}

TEST_F(whatsapp_test, the_bridge_webhook_refuses_bad_secrets_unknown_tenants_and_malformed_bodies) {
  test::expect_error(deliver(update(1, {{"qr", "x"}}), "acme", "wrong"), 401, "unauthorized");
  auto missing = test::http("POST", server_->url("/webhook/whatsapp/acme/events"), update(1, {}).dump(),
                            {"Content-Type: application/json"});
  EXPECT_EQ(missing.status, 401);
  test::expect_error(deliver(update(1, {{"qr", "x"}}), "nobody"), 404, "tenant_not_found");
  auto bad = test::http("POST", server_->url("/webhook/whatsapp/acme/events"), "{not json",
                        {"Content-Type: application/json", "X-Internal-Secret: " + secret});
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(deliver({{"seq", 9}, {"event", "connection.update"}, {"data", "open"}}).status, 400);
  EXPECT_EQ(test::http("GET", server_->url("/webhook/whatsapp/acme/events")).status, 405);
}

const std::string shalom = "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d";  // "shalom"

json text_message(const std::string& id, const std::string& number, const std::string& text, bool from_me = false) {
  return {{"key", {{"remoteJid", number + "@s.whatsapp.net"}, {"fromMe", from_me}, {"id", id}}},
          {"message", {{"conversation", text}}},
          {"messageTimestamp", 1764475200},
          {"pushName", "Dana"}};
}

TEST_F(whatsapp_test, messages_are_stored_once_linked_to_a_lead_and_statuses_only_move_forward) {
  json upsert = {{"seq", 200}, {"event", "messages.upsert"},
                 {"data", {{"type", "notify"}, {"messages", {text_message("M1", "972521112222", shalom + " quote please")}}}}};
  auto r = deliver(upsert);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["stored"], 1);
  // The bridge delivers it again (a retry, or a restart): nothing new.
  auto again = body(deliver(upsert));
  EXPECT_EQ(again["stored"], 0);
  EXPECT_EQ(again["duplicates"], 1);
  // The sender became a lead (source whatsapp, name from pushName).
  auto leads = body(api("GET", "/api/leads?q=0521112222"));
  ASSERT_EQ(leads["total"], 1) << leads.dump();
  std::string lead = leads["results"][0]["id"];
  EXPECT_EQ(leads["results"][0]["source"], "whatsapp");
  EXPECT_EQ(leads["results"][0]["name"], "Dana");
  // Our answer from the phone, then history: same lead, history not on the timeline.
  json out = {{"seq", 201}, {"event", "messages.upsert"},
              {"data", {{"type", "notify"}, {"messages", {text_message("M2", "972521112222", "Sure", true)}}}}};
  ASSERT_EQ(deliver(out).status, 200);
  json old = {{"event", "messages.upsert"},
              {"data", {{"type", "append"}, {"messages", {text_message("M0", "972521112222", "old history")}}}}};
  ASSERT_EQ(deliver(old).status, 200);
  auto msgs = body(api("GET", "/api/wa/messages?customer_id=" + lead));
  ASSERT_EQ(msgs["total"], 3) << msgs.dump();
  EXPECT_EQ(msgs["results"][0]["id"], "M0") << "newest stored first";
  EXPECT_EQ(msgs["results"][1]["direction"], "out");
  EXPECT_EQ(msgs["results"][2]["text"], shalom + " quote please");
  // Statuses: read, then a late delivered changes nothing.
  json read = {{"seq", 202}, {"event", "messages.update"},
               {"data", {{{"key", {{"remoteJid", "972521112222@s.whatsapp.net"}, {"fromMe", true}, {"id", "M2"}}},
                          {"update", {{"status", 4}}}}}}};
  ASSERT_EQ(deliver(read).status, 200);
  json late = read;
  late["seq"] = 203;
  late["data"][0]["update"]["status"] = 3;
  ASSERT_EQ(deliver(late).status, 200);
  auto after = body(api("GET", "/api/wa/messages?customer_id=" + lead));
  EXPECT_EQ(after["results"][1]["status"], "read") << after.dump();
  // Live messages are on the lead's timeline; history is not.
  auto tl = body(api("GET", "/api/leads/" + lead + "/timeline"));
  std::string items = tl["items"].dump();
  EXPECT_NE(items.find("quote please"), std::string::npos) << items;
  EXPECT_NE(items.find("Sure"), std::string::npos);
  EXPECT_EQ(items.find("old history"), std::string::npos);
  // A group message is stored without a contact.
  json group = {{"event", "messages.upsert"},
                {"data", {{"type", "notify"},
                          {"messages", {{{"key", {{"remoteJid", "1203630@g.us"}, {"fromMe", false}, {"id", "G1"},
                                                  {"participant", "972521112222@s.whatsapp.net"}}},
                                         {"message", {{"conversation", "hi all"}}}}}}}}};
  ASSERT_EQ(deliver(group).status, 200);
  EXPECT_EQ(body(api("GET", "/api/wa/messages"))["total"], 4);
}

TEST_F(whatsapp_test, the_older_incoming_routes_take_an_alias_and_share_the_dedupe) {
  json payload = {{"type", "notify"}, {"messages", {text_message("L1", "972523334444", "via the old route")}}};
  int before = body(api("GET", "/api/wa/messages"))["total"];
  for (const char* path : {"/webhook/whatsapp/incoming", "/webhook/wa/incoming"}) {
    auto r = test::http("POST", server_->url(path), json{{"tenantId", "1"}, {"payload", payload}}.dump(),
                        {"Content-Type: application/json", "X-Internal-Secret: " + secret});
    ASSERT_EQ(r.status, 200) << path << " " << r.body;
    note(r);
  }
  auto msgs = body(api("GET", "/api/wa/messages"));
  EXPECT_EQ(msgs["total"].get<int>() - before, 1) << "the second route's delivery was the same message";
  EXPECT_EQ(test::http("POST", server_->url("/webhook/wa/incoming"), json{{"tenantId", "1"}, {"payload", payload}}.dump(),
                       {"Content-Type: application/json"}).status, 401);
  EXPECT_EQ(test::http("POST", server_->url("/webhook/wa/incoming"), json{{"tenantId", "zz"}, {"payload", payload}}.dump(),
                       {"Content-Type: application/json", "X-Internal-Secret: " + secret}).status, 404);
}

TEST_F(whatsapp_test, sending_needs_a_connected_session_and_a_failure_is_a_visible_status) {
  auto send = [](const std::string& text) {
    return test::http("POST", server_->url("/api/wa/send?business_id=acme"),
                      json{{"to", "052-555-6666"}, {"text", text}}.dump(), {crmd_server::auth(), crmd_server::json()});
  };
  ASSERT_EQ(api("POST", "/api/whatsapp/logout").status, 200);
  test::expect_error(send("hello"), 409, "whatsapp_not_connected");
  ASSERT_EQ(api("POST", "/api/whatsapp/start").status, 200);
  ASSERT_EQ(deliver(update(300, {{"connection", "open"}, {"me", {{"id", "9725@s.whatsapp.net"}, {"name", "A"}}}})).status, 200);
  auto ok = send(shalom);
  ASSERT_EQ(ok.status, 202) << ok.body;
  note(ok);
  EXPECT_EQ(body(ok)["message_id"], "BAE5SENT1");
  EXPECT_EQ(body(ok)["status"], "sent");
  EXPECT_EQ(body(ok)["ok"], true);
  EXPECT_GT(body(ok)["position"].get<uint64_t>(), 0u) << ok.body;
  // The bridge echoes what it sent: the same message, not a second one.
  json echo = {{"seq", 301}, {"event", "messages.upsert"},
               {"data", {{"type", "notify"}, {"messages", {text_message("BAE5SENT1", "972525556666", shalom, true)}}}}};
  EXPECT_EQ(body(deliver(echo))["duplicates"], 1);
  auto failed = send("fail");
  ASSERT_EQ(failed.status, 202) << failed.body;
  note(failed);
  EXPECT_EQ(body(failed)["status"], "failed");
  auto msgs = body(api("GET", "/api/wa/messages"));
  EXPECT_EQ(msgs["results"][0]["status"], "failed") << msgs.dump();
  EXPECT_EQ(msgs["results"][1]["id"], "BAE5SENT1");
  EXPECT_EQ(msgs["results"][1]["direction"], "out");
  test::expect_error(test::http("POST", server_->url("/api/wa/send?business_id=acme"), R"({"to":"not a phone","text":"x"})",
                                {crmd_server::auth(), crmd_server::json()}),
                     400, "invalid_field");
  // By customer, right after creating them (no min_position: the send reads
  // the views once they hold the caller's own writes): to the customer's
  // phone, listed under the customer.
  auto customer = test::http("POST", server_->url("/api/crm/customers?business_id=acme"),
                             json{{"name", "Rina"}, {"phone", "052-555-7777"}}.dump(), {crmd_server::auth(), crmd_server::json()});
  ASSERT_EQ(customer.status, 201) << customer.body;
  note(customer);
  std::string id = body(customer)["id"];
  auto to_customer = test::http("POST", server_->url("/api/wa/send?business_id=acme"),
                                json{{"customer_id", id}, {"text", "your quote"}}.dump(), {crmd_server::auth(), crmd_server::json()});
  ASSERT_EQ(to_customer.status, 202) << to_customer.body;
  note(to_customer);
  auto theirs = body(api("GET", "/api/wa/messages?customer_id=" + id + "&page=1&limit=10"));
  ASSERT_EQ(theirs["results"].size(), 1u) << theirs.dump();
  EXPECT_EQ(theirs["results"][0]["id"], body(to_customer)["message_id"]);
  EXPECT_EQ(theirs["results"][0]["direction"], "out");
  EXPECT_EQ(body(api("GET", "/api/wa/messages?customer_id=" + id + "&page=2&limit=10"))["results"].size(), 0u);
}

TEST_F(whatsapp_test, on_start_crmd_reconciles_a_session_the_bridge_lost_while_it_was_down) {
  ASSERT_EQ(api("POST", "/api/whatsapp/restart").status, 200);
  ASSERT_EQ(deliver(update(500, {{"connection", "open"}, {"me", {{"id", "9725@s.whatsapp.net"}, {"name", "A"}}}})).status, 200);
  ASSERT_EQ(body(api("GET", "/api/whatsapp/status"))["state"], "connected");
  int before = starts;
  server_->kill_now();
  ASSERT_TRUE(server_->start());  // the fake bridge answers status "connecting"
  wait_for([&] { return starts > before; });
  EXPECT_EQ(starts - before, 1) << "crmd asked the bridge, saw the session was not open, and started it";
  EXPECT_EQ(body(api("GET", "/api/whatsapp/status"))["state"], "starting");
}

TEST_F(whatsapp_test, the_cloud_api_verifies_signatures_and_routes_by_phone_number_id) {
  auto verify = [](const std::string& q) { return test::http("GET", server_->url("/webhook/whatsapp/cloud?" + q)); };
  auto ok = verify("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meta-verify");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "1158201444") << "the raw challenge";
  EXPECT_EQ(ok.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(verify("hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong").status, 403);

  ASSERT_EQ(server_->put("/api/admin/tenants/acme/whatsapp_cloud", R"({"phone_number_ids":["106540352242922"]})").status, 200);
  ASSERT_EQ(server_->post("/api/admin/tenants", R"({"id":"beta","name":"Beta"})").status, 201);
  test::expect_error(server_->put("/api/admin/tenants/beta/whatsapp_cloud", R"({"phone_number_ids":["106540352242922"]})"),
                     409, "number_taken");
  int before = body(api("GET", "/api/wa/messages"))["total"];
  std::string raw = R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{)"
                    R"("messaging_product":"whatsapp","metadata":{"display_phone_number":"97233763805","phone_number_id":"106540352242922"},)"
                    R"("contacts":[{"profile":{"name":"Noa"},"wa_id":"972527778888"}],)"
                    R"("messages":[{"from":"972527778888","id":"wamid.CLOUD1","timestamp":"1764475200","type":"text","text":{"body":"שלום"}}]}}]}]})";
  auto post = [&](const std::string& sig) {
    return test::http("POST", server_->url("/webhook/whatsapp/cloud"), raw,
                      {"Content-Type: application/json", "X-Hub-Signature-256: " + sig});
  };
  EXPECT_EQ(post("sha256=" + std::string(64, '0')).status, 403);
  auto stored = post(connectors::wa::meta_signature_header("meta-app-secret", raw));
  ASSERT_EQ(stored.status, 200) << stored.body;
  note(stored);
  EXPECT_EQ(body(stored)["stored"], 1);
  EXPECT_EQ(body(post(connectors::wa::meta_signature_header("meta-app-secret", raw)))["duplicates"], 1);
  auto msgs = body(api("GET", "/api/wa/messages"));
  EXPECT_EQ(msgs["total"].get<int>() - before, 1);
  EXPECT_EQ(msgs["results"][0]["text"], shalom);
  EXPECT_EQ(msgs["results"][0]["session"], "cloud");
  EXPECT_EQ(body(api("GET", "/api/leads?q=0527778888"))["total"], 1) << "the sender became a lead";
}

TEST_F(whatsapp_test, hostile_input_is_refused_and_other_tenants_see_nothing) {
  auto send = [](const std::string& b) {
    return test::http("POST", server_->url("/api/wa/send?business_id=acme"), b, {crmd_server::auth(), crmd_server::json()});
  };
  test::expect_error(send(R"({"to":"052-555-6666"})"), 400, "invalid_field");
  test::expect_error(send(json{{"to", "052-555-6666"}, {"text", std::string(5000, 'x')}}.dump()), 400, "invalid_field");
  test::expect_error(send(R"({"customer_id":"L99999","text":"x"})"), 404, "contact_not_found");
  test::expect_error(send(R"({"to":7,"text":"x"})"), 400, "invalid_field");
  // A Cloud API body signed correctly but not JSON: 400.
  std::string junk = "{\"entry\":";
  auto r = test::http("POST", server_->url("/webhook/whatsapp/cloud"), junk,
                      {"Content-Type: application/json",
                       "X-Hub-Signature-256: " + connectors::wa::meta_signature_header("meta-app-secret", junk)});
  EXPECT_EQ(r.status, 400) << r.body;
  // acme's messages are not another tenant's.
  json m = {{"event", "messages.upsert"},
            {"data", {{"type", "notify"}, {"messages", {text_message("ISO1", "972529990000", "acme only")}}}}};
  ASSERT_EQ(deliver(m).status, 200);
  auto other = server_->post("/api/admin/tenants", R"({"id":"delta","name":"Delta"})");
  ASSERT_TRUE(other.status == 201 || other.status == 409);
  auto theirs = test::http("GET", server_->url("/api/wa/messages?business_id=delta&min_position=" + std::to_string(seen_)),
                           {}, {crmd_server::auth()});
  ASSERT_EQ(theirs.status, 200);
  EXPECT_EQ(theirs.body.find("acme only"), std::string::npos);
  EXPECT_EQ(body(theirs)["total"], 0);
  test::expect_error(api("GET", "/api/whatsapp/status?session=../x"), 400, "invalid_field");
}

TEST_F(whatsapp_test, a_restart_in_the_middle_of_a_backoff_re_arms_the_retry) {
  ASSERT_EQ(api("POST", "/api/whatsapp/restart").status, 200);
  ASSERT_EQ(deliver(update(600, {{"connection", "open"}, {"me", {{"id", "9725@s.whatsapp.net"}, {"name", "A"}}}})).status, 200);
  json lost = {{"connection", "close"}, {"lastDisconnect", {{"statusCode", 428}, {"message", "connection closed"}}}};
  ASSERT_EQ(deliver(update(601, lost)).status, 200);
  EXPECT_EQ(body(api("GET", "/api/whatsapp/status"))["state"], "reconnecting");
  int before = starts;
  server_->kill_now();  // the retry is due in 1-1.2 s
  ASSERT_TRUE(server_->start());
  // The restarted crmd recovers the session (it reconciles every session at
  // start), which re-arms the retry with the time it had left.
  EXPECT_EQ(body(api("GET", "/api/whatsapp/status"))["state"], "reconnecting");
  wait_for([&] { return starts > before; });
  EXPECT_EQ(starts - before, 1);
  EXPECT_EQ(body(api("GET", "/api/whatsapp/status"))["state"], "starting");
}

// The Cloud API's refusals end to end, on a server of their own (the
// suite's server already counts bad signatures against its limiter): a
// verification that is not a subscription, events without a signature,
// and events for a phone_number_id no tenant owns (200, nothing stored:
// Meta would retry a refusal for days).
TEST(whatsapp_cloud_refusals, an_unsigned_event_a_non_subscribe_check_and_an_unknown_number) {
  test::temp_dir dir;
  crmd_server server(dir.sub("data"), {{"WHATSAPP_VERIFY_TOKEN", "meta-verify"}, {"WHATSAPP_APP_SECRET", "meta-app-secret"}});
  ASSERT_TRUE(server.start());
  ASSERT_EQ(server.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
  EXPECT_EQ(test::http("GET", server.url("/webhook/whatsapp/cloud?hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=meta-verify"))
                .status,
            403);
  std::string raw = R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{)"
                    R"("messaging_product":"whatsapp","metadata":{"display_phone_number":"97233763805","phone_number_id":"999"},)"
                    R"("messages":[{"from":"972527778888","id":"wamid.NOBODY","timestamp":"1764475200","type":"text","text":{"body":"hi"}}]}}]}]})";
  auto unsigned_post = test::http("POST", server.url("/webhook/whatsapp/cloud"), raw, {"Content-Type: application/json"});
  test::expect_error(unsigned_post, 403, "invalid_signature");
  auto unknown = test::http("POST", server.url("/webhook/whatsapp/cloud"), raw,
                            {"Content-Type: application/json",
                             "X-Hub-Signature-256: " + connectors::wa::meta_signature_header("meta-app-secret", raw)});
  ASSERT_EQ(unknown.status, 200) << unknown.body;
  EXPECT_EQ(body(unknown)["stored"], 0);
  EXPECT_EQ(test::count_events(dir, "wa_message_received"), 0u);
  server.terminate();
}

// A settled session's actor stops when idle; the next delivery and read
// recover it from its stream with nothing lost.
TEST(whatsapp_idle, an_idle_connected_session_stops_and_comes_back_intact) {
  std::atomic<int> started{0}, asked{0};
  fake_http_server bridge([&](const fake_request& r) {
    if (r.target == "/sessions/acme/start") ++started;
    if (r.target == "/sessions/acme/status") ++asked;
    return fake_response{200, R"({"state":"open","qr":null,"me":null})"};
  });
  test::temp_dir dir;
  crmd_server server(dir.sub("data"), {{"BAILEYS_BASE_URL", bridge.base_url()},
                                       {"INTERNAL_SECRET", secret},
                                       {"CRMD_ACTOR_IDLE_SECONDS", "1"}});
  ASSERT_TRUE(server.start());
  ASSERT_EQ(server.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
  auto post = [&](const json& e) {
    return test::http("POST", server.url("/webhook/whatsapp/acme/events"), e.dump(),
                      {"Content-Type: application/json", "X-Internal-Secret: " + secret});
  };
  auto status = [&] {
    return body(test::http("GET", server.url("/api/whatsapp/status?business_id=acme"), {}, {crmd_server::auth()}));
  };
  ASSERT_EQ(test::http("POST", server.url("/api/whatsapp/start?business_id=acme"), "{}",
                       {crmd_server::auth(), crmd_server::json()}).status, 200);
  json open = {{"seq", 7}, {"event", "connection.update"},
               {"data", {{"connection", "open"}, {"me", {{"id", "9725@s.whatsapp.net"}, {"name", "Acme"}}}}}};
  ASSERT_EQ(post(open).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // idle checks run every second
  auto st = status();
  EXPECT_EQ(st["state"], "connected") << st.dump();
  EXPECT_EQ(st["jid"], "9725@s.whatsapp.net");
  for (int i = 0; i < 40 && asked.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GE(asked.load(), 1) << "a new actor recovered the session (and checked it with the bridge)";
  // The recovered session still knows the last seq: a stale close changes nothing.
  json stale = {{"seq", 6}, {"event", "connection.update"},
                {"data", {{"connection", "close"}, {"lastDisconnect", {{"statusCode", 401}}}}}};
  ASSERT_EQ(post(stale).status, 200);
  EXPECT_EQ(status()["state"], "connected");
  EXPECT_EQ(started.load(), 1);
  server.terminate();
}

// Nothing hangs: a start the bridge never follows up is reconciled after
// WA_START_TIMEOUT_MS (the bridge says it is still connecting: start again,
// once); still stuck after that, the session stops (cause start_timeout).
TEST(whatsapp_watchdog, a_session_stuck_starting_is_reconciled_with_the_bridge) {
  std::atomic<int> started{0}, asked{0}, replaced{0};
  fake_http_server bridge([&](const fake_request& r) {
    if (r.target == "/sessions/acme/start") ++started;
    if (r.target == "/sessions/acme/start" && json::parse(r.body, nullptr, false).value("restart", false)) ++replaced;
    if (r.target == "/sessions/acme/status") {
      ++asked;
      return fake_response{200, R"({"state":"connecting","qr":null,"me":null})"};
    }
    return fake_response{200, R"({"ok":true})"};
  });
  test::temp_dir dir;
  crmd_server server(dir.sub("data"), {{"BAILEYS_BASE_URL", bridge.base_url()},
                                       {"INTERNAL_SECRET", secret},
                                       {"WA_START_TIMEOUT_MS", "1000"}});
  ASSERT_TRUE(server.start());
  ASSERT_EQ(server.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
  ASSERT_EQ(test::http("POST", server.url("/api/whatsapp/start?business_id=acme"), "{}",
                       {crmd_server::auth(), crmd_server::json()}).status, 200);
  for (int i = 0; i < 60 && started < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GE(asked.load(), 1) << "crmd asked the bridge";
  EXPECT_EQ(started.load(), 2) << "and started the session once more";
  EXPECT_EQ(replaced.load(), 1) << "asking the bridge to replace the stuck socket (the first start did not)";
  auto status = [&] {
    return body(test::http("GET", server.url("/api/whatsapp/status?business_id=acme"), {}, {crmd_server::auth()}));
  };
  // Still stuck after that restart: the session stops and stays stopped,
  // over several more timeouts, with no third start.
  for (int i = 0; i < 80 && status()["state"] != "stopped"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(status()["state"], "stopped");
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  EXPECT_EQ(started.load(), 2) << "restart once, not once per timeout";
  EXPECT_EQ(status()["state"], "stopped");
  auto hist = body(test::http("GET", server.url("/api/whatsapp/history?business_id=acme"), {}, {crmd_server::auth()}));
  EXPECT_NE(hist.dump().find("reconcile"), std::string::npos) << hist.dump();
  EXPECT_EQ(hist["results"][0]["type"], "wa_stopped") << hist.dump();
  EXPECT_NE(hist["results"][0].dump().find("start_timeout"), std::string::npos) << hist.dump();
  server.terminate();
}

}  // namespace
}  // namespace crmd
