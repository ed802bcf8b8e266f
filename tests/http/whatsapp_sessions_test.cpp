// WhatsApp end to end, each test on a crmd of its own against a fake bridge
// on 127.0.0.1: a session other than "main", tenant users with their own
// tokens, the default QR limit, the live stream, and what the message
// dedupe key is made of.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/fake_http_server.hpp"
#include "tests/support/sse_client.hpp"
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
const std::string pw = "correct horse battery";

// A bridge that records every call ("POST /sessions/acme/sales/start")
// and says every session is connecting.
struct recording_bridge {
  std::mutex mu;
  std::vector<std::string> calls, start_bodies;
  fake_http_server server{[this](const fake_request& r) {
    {
      std::lock_guard<std::mutex> lock(mu);
      calls.push_back(r.method + " " + r.target);
      if (r.target.find("/start") != std::string::npos) start_bodies.push_back(r.body);
    }
    if (r.header("x-internal-secret") != secret) return fake_response{401, R"({"error":"unauthorized"})"};
    if (r.target.find("/status") != std::string::npos)
      return fake_response{200, R"({"state":"connecting","qr":null,"me":null})"};
    if (r.target.find("/messages") != std::string::npos) return fake_response{200, R"({"id":"BAE5SALES1"})"};
    return fake_response{200, R"({"ok":true})"};
  }};
  size_t count(const std::string& call) {
    std::lock_guard<std::mutex> lock(mu);
    return size_t(std::count(calls.begin(), calls.end(), call));
  }
  std::string all() {
    std::lock_guard<std::mutex> lock(mu);
    std::string s;
    for (auto& c : calls) s += c + "\n";
    return s;
  }
};

struct whatsapp_sessions : ::testing::Test {
  recording_bridge bridge;
  test::temp_dir dir;
  crmd_server server{dir.sub("data"), {{"BAILEYS_BASE_URL", bridge.server.base_url()}, {"INTERNAL_SECRET", secret}}};
  uint64_t seen = 0;

  void SetUp() override {
    ASSERT_TRUE(server.start());
    ASSERT_EQ(server.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
  }
  void note(const test::http_result& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("position") && j["position"].is_number_unsigned())
      seen = std::max<uint64_t>(seen, j["position"].get<uint64_t>());
  }
  // As the system admin, naming acme, after every delivery so far.
  test::http_result api(const std::string& method, const std::string& path, const std::string& b = "{}",
                        const std::string& tenant = "acme") {
    std::string sep = path.find('?') == std::string::npos ? "?" : "&";
    auto r = test::http(method, server.url(path + sep + "business_id=" + tenant + "&min_position=" + std::to_string(seen)),
                        b, {crmd_server::auth(), crmd_server::json()});
    note(r);
    return r;
  }
  test::http_result deliver(const json& event, const std::string& tenant = "acme") {
    auto r = test::http("POST", server.url("/webhook/whatsapp/" + tenant + "/events"), event.dump(),
                        {"Content-Type: application/json", "X-Internal-Secret: " + secret});
    note(r);
    return r;
  }
  static json update(int seq, json data, const std::string& session = "") {
    json e = {{"seq", seq}, {"event", "connection.update"}, {"data", std::move(data)}};
    if (!session.empty()) e["session"] = session;
    return e;
  }
  static json message(const std::string& id, const std::string& jid, bool from_me, const std::string& text) {
    return {{"key", {{"remoteJid", jid}, {"fromMe", from_me}, {"id", id}}},
            {"message", {{"conversation", text}}},
            {"messageTimestamp", 1764475200}};
  }
  static json upsert(json messages, const std::string& type = "notify", const std::string& session = "") {
    json e = {{"event", "messages.upsert"}, {"data", {{"type", type}, {"messages", std::move(messages)}}}};
    if (!session.empty()) e["session"] = session;
    return e;
  }
  std::string make_user(const std::string& email, const std::string& role) {
    auto r = server.post("/api/admin/users",
                         json{{"email", email}, {"password", pw}, {"role", role}, {"tenant_id", "acme"}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return crmd_server::bearer(body(server.login(email, pw)).value("access_token", ""));
  }
  template <class F>
  static void wait_for(F done) {
    for (int i = 0; i < 100 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
};

TEST_F(whatsapp_sessions, a_named_session_is_its_own_actor_stream_and_bridge_session) {
  auto started = body(api("POST", "/api/whatsapp/start?session=sales"));
  EXPECT_EQ(started["state"], "starting");
  wait_for([&] { return bridge.count("POST /sessions/acme/sales/start") > 0; });
  EXPECT_EQ(bridge.count("POST /sessions/acme/sales/start"), 1u) << bridge.all();
  EXPECT_EQ(bridge.count("POST /sessions/acme/start"), 0u) << "main was not started";
  EXPECT_EQ(body(api("GET", "/api/whatsapp/status"))["state"], "stopped");

  // The bridge names the session in its deliveries.
  ASSERT_EQ(deliver(update(1, {{"qr", "2@sales-qr"}}, "sales")).status, 200);
  EXPECT_EQ(body(api("GET", "/api/whatsapp/qr?session=sales"))["qrText"], "2@sales-qr");
  EXPECT_TRUE(body(api("GET", "/api/whatsapp/qr"))["qrText"].is_null()) << "main shows no QR";
  ASSERT_EQ(deliver(update(2, {{"connection", "open"}, {"me", {{"id", "97233001:1@s.whatsapp.net"}, {"name", "Sales"}}}},
                           "sales")).status,
            200);
  auto st = body(api("GET", "/api/whatsapp/status?session=sales"));
  EXPECT_EQ(st["state"], "connected");
  EXPECT_EQ(st["jid"], "97233001:1@s.whatsapp.net");
  EXPECT_EQ(body(api("GET", "/api/whatsapp/status"))["state"], "stopped");
  // seq is the session's own: main still takes seq 1.
  ASSERT_EQ(deliver(update(1, {{"qr", "2@main-qr"}})).status, 200);
  EXPECT_EQ(body(api("GET", "/api/whatsapp/status"))["state"], "stopped") << "a QR without a start changes nothing";
  EXPECT_EQ(body(api("GET", "/api/whatsapp/history"))["total"], 0);
  EXPECT_GE(body(api("GET", "/api/whatsapp/history?session=sales"))["total"].get<int>(), 3);
  EXPECT_EQ(test::count_events(dir, "wa_connected", "\"stream\":\"acme/wa/sales\""), 1u);

  // Messages carry the session; sending picks it.
  auto in = deliver(upsert({message("S1", "972521110000@s.whatsapp.net", false, "to sales")}, "notify", "sales"));
  ASSERT_EQ(in.status, 200) << in.body;
  EXPECT_EQ(body(in)["stored"], 1);
  auto msgs = body(api("GET", "/api/wa/messages"));
  EXPECT_EQ(msgs["results"][0]["session"], "sales") << msgs.dump();
  test::expect_error(api("POST", "/api/wa/send", json{{"to", "+972521110000"}, {"text", "hi"}}.dump()), 409,
                     "whatsapp_not_connected");
  auto sent = api("POST", "/api/wa/send", json{{"to", "+972521110000"}, {"text", "hi"}, {"session", "sales"}}.dump());
  ASSERT_EQ(sent.status, 202) << sent.body;
  EXPECT_EQ(body(sent)["message_id"], "BAE5SALES1");
  EXPECT_EQ(bridge.count("POST /sessions/acme/sales/messages"), 1u) << bridge.all();
  test::expect_error(api("POST", "/api/wa/send", json{{"to", "+972521110000"}, {"text", "hi"}, {"session", "../x"}}.dump()),
                     400, "invalid_field");
  test::expect_error(api("POST", "/api/wa/send", json{{"to", "+972521110000"}, {"text", "hi"}, {"session", 7}}.dump()),
                     400, "invalid_field");
  test::expect_error(deliver(update(3, {{"qr", "x"}}, "Sales!")), 400, "invalid_field");
  test::expect_error(deliver(update(3, {{"qr", "x"}}, "cloud")), 400, "invalid_field");  // the Cloud API's label
  test::expect_error(deliver(update(3, {{"qr", "x"}}, std::string(33, 's'))), 400, "invalid_field");
  test::expect_error(deliver(update(3, {{"qr", "x"}}, std::string(100000, 's'))), 400, "invalid_field");
  test::expect_error(api("GET", "/api/whatsapp/status?session=cloud"), 400, "invalid_field");

  // A restarted crmd reconciles the named session with the bridge too (the
  // bridge says connecting: crmd starts it again). Main has no events: not asked.
  server.kill_now();
  ASSERT_TRUE(server.start());
  wait_for([&] { return bridge.count("POST /sessions/acme/sales/start") > 1; });
  EXPECT_GE(bridge.count("GET /sessions/acme/sales/status"), 1u) << bridge.all();
  EXPECT_EQ(bridge.count("POST /sessions/acme/sales/start"), 2u) << bridge.all();
  EXPECT_EQ(bridge.count("GET /sessions/acme/status"), 0u) << bridge.all();
}

TEST_F(whatsapp_sessions, tenant_users_use_their_own_token_and_reach_only_their_own_session) {
  std::string owner = make_user("owner@acme.test", "owner"), agent = make_user("agent@acme.test", "agent");
  ASSERT_EQ(server.post("/api/admin/tenants", R"({"id":"beta","name":"Beta"})").status, 201);
  auto as = [&](const std::string& who, const std::string& method, const std::string& path) {
    return test::http(method, server.url(path), "{}", {who, crmd_server::json()});
  };
  // The owner starts the session with no tenant named: the token's tenant.
  auto started = as(owner, "POST", "/api/whatsapp/start");
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_EQ(body(started)["state"], "starting");
  wait_for([&] { return bridge.count("POST /sessions/acme/start") > 0; });
  EXPECT_EQ(bridge.count("POST /sessions/acme/start"), 1u);
  ASSERT_EQ(deliver(update(1, {{"qr", "2@owner-qr"}})).status, 200);
  // The agent reads status and QR; changing the session is the owner's.
  auto st = as(agent, "GET", "/api/whatsapp/status");
  ASSERT_EQ(st.status, 200) << st.body;
  EXPECT_EQ(body(st)["state"], "qr");
  EXPECT_EQ(body(as(agent, "GET", "/api/whatsapp/qr"))["qrText"], "2@owner-qr");
  EXPECT_EQ(as(agent, "GET", "/api/whatsapp/history").status, 200);
  for (auto path : {"/api/whatsapp/start", "/api/whatsapp/restart", "/api/whatsapp/logout"})
    test::expect_error(as(agent, "POST", path), 403, "forbidden");
  // Naming another tenant reaches nothing of it.
  for (auto who : {owner, agent}) {
    auto other = as(who, "GET", "/api/whatsapp/status?business_id=beta");
    EXPECT_EQ(other.status, 404) << other.body;
    EXPECT_EQ(other.body.find("\"state\""), std::string::npos);
  }
  test::expect_error(as(owner, "POST", "/api/whatsapp/start?business_id=beta"), 404, "tenant_not_found");
  EXPECT_EQ(bridge.count("POST /sessions/beta/start"), 0u);
  EXPECT_EQ(bridge.count("POST /sessions/acme/start"), 1u) << "the refused calls started nothing";
  EXPECT_EQ(test::http("GET", server.url("/api/whatsapp/status")).status, 401);
}

TEST_F(whatsapp_sessions, without_a_scan_six_qr_codes_by_default_then_stopped) {
  ASSERT_EQ(api("POST", "/api/whatsapp/start").status, 200);
  for (int i = 1; i <= 6; ++i) {
    ASSERT_EQ(deliver(update(i, {{"qr", "2@qr" + std::to_string(i)}})).status, 200);
    EXPECT_EQ(body(api("GET", "/api/whatsapp/qr"))["qrText"], "2@qr" + std::to_string(i));
  }
  EXPECT_EQ(body(api("GET", "/api/whatsapp/status"))["state"], "qr");
  ASSERT_EQ(deliver(update(7, {{"qr", "2@qr7"}})).status, 200);
  auto st = body(api("GET", "/api/whatsapp/status"));
  EXPECT_EQ(st["state"], "stopped");
  EXPECT_EQ(st["hasQR"], false);
  EXPECT_TRUE(body(api("GET", "/api/whatsapp/qr"))["qrText"].is_null());
  wait_for([&] { return bridge.count("POST /sessions/acme/logout") > 0; });
  EXPECT_EQ(bridge.count("POST /sessions/acme/logout"), 1u) << "the bridge drops the half-made pairing";
  EXPECT_EQ(test::count_events(dir, "wa_qr_shown"), 6u);
  std::lock_guard<std::mutex> lock(bridge.mu);
  ASSERT_EQ(bridge.start_bodies.size(), 1u);
  EXPECT_EQ(json::parse(bridge.start_bodies[0]), json({{"maxQrCodes", 6}})) << "the bridge is told the same limit";
  EXPECT_EQ(test::count_events(dir, "wa_stopped", "qr_attempts_exhausted"), 1u);
}

TEST_F(whatsapp_sessions, live_messages_reach_the_stream_and_history_does_not) {
  test::sse_client stream(server.url("/api/stream?business_id=acme"), {crmd_server::auth()});
  ASSERT_TRUE(stream.wait_for(": connected"));
  auto live = deliver(upsert({message("LIVE1", "972524440000@s.whatsapp.net", false, "live one")}));
  ASSERT_EQ(live.status, 200) << live.body;
  std::string live_pos = std::to_string(body(live)["position"].get<uint64_t>());
  ASSERT_TRUE(stream.wait_for("id: " + live_pos + "\nevent: whatsapp.message\ndata: ")) << stream.text();
  EXPECT_NE(stream.text().find("\"id\":\"LIVE1\""), std::string::npos) << stream.text();
  auto old = deliver(upsert({message("OLD1", "972524440000@s.whatsapp.net", false, "old one")}, "append"));
  ASSERT_EQ(old.status, 200);
  std::string old_pos = std::to_string(body(old)["position"].get<uint64_t>());
  auto after = deliver(upsert({message("LIVE2", "972524440000@s.whatsapp.net", false, "live two")}));
  std::string after_pos = std::to_string(body(after)["position"].get<uint64_t>());
  ASSERT_TRUE(stream.wait_for("id: " + after_pos + "\n")) << stream.text();
  EXPECT_EQ(stream.text().find("id: " + old_pos + "\n"), std::string::npos) << stream.text();
  EXPECT_EQ(stream.text().find("OLD1"), std::string::npos);
  EXPECT_NE(stream.text().find("\"id\":\"LIVE2\""), std::string::npos);
  EXPECT_EQ(body(api("GET", "/api/wa/messages"))["total"], 3) << "history is stored all the same";
}

TEST_F(whatsapp_sessions, the_dedupe_key_is_tenant_session_chat_direction_and_id) {
  ASSERT_EQ(server.post("/api/admin/tenants", R"({"id":"beta","name":"Beta"})").status, 201);
  const std::string jid = "972525550000@s.whatsapp.net";
  auto stored = [&](const json& e, const std::string& tenant = "acme") {
    auto r = deliver(e, tenant);
    EXPECT_EQ(r.status, 200) << r.body;
    return body(r)["stored"].get<int>();
  };
  EXPECT_EQ(stored(upsert({message("SAME", jid, false, "a")})), 1);
  EXPECT_EQ(stored(upsert({message("SAME", jid, false, "a")})), 0) << "all five parts equal: a duplicate";
  EXPECT_EQ(stored(upsert({message("SAME", "972525550001@s.whatsapp.net", false, "b")})), 1) << "another chat";
  EXPECT_EQ(stored(upsert({message("SAME", jid, true, "c")})), 1) << "the other direction";
  EXPECT_EQ(stored(upsert({message("SAME", jid, false, "d")}, "notify", "sales")), 1) << "another session";
  EXPECT_EQ(stored(upsert({message("SAME", jid, false, "e")}), "beta"), 1) << "another tenant";
  EXPECT_EQ(stored(upsert({message("SAME", jid, false, "d")}, "notify", "sales")), 0);
  EXPECT_EQ(body(api("GET", "/api/wa/messages"))["total"], 4);
  EXPECT_EQ(body(api("GET", "/api/wa/messages", "{}", "beta"))["total"], 1);
  EXPECT_EQ(test::count_events(dir, "wa_message_received", "\"SAME\""), 5u);
}

TEST_F(whatsapp_sessions, a_message_from_a_customers_number_joins_the_customer_and_creates_no_lead) {
  auto customer = api("POST", "/api/crm/customers", json{{"name", "Rina"}, {"phone", "052-555-8888"}}.dump());
  ASSERT_EQ(customer.status, 201) << customer.body;
  std::string id = body(customer)["id"];
  auto leads_before = body(api("GET", "/api/leads"))["total"].get<int>();
  auto in = deliver(upsert({message("C1", "972525558888@s.whatsapp.net", false, "about my order")}));
  ASSERT_EQ(in.status, 200) << in.body;
  auto msgs = body(api("GET", "/api/wa/messages?customer_id=" + id));
  ASSERT_EQ(msgs["total"], 1) << msgs.dump();
  EXPECT_EQ(msgs["results"][0]["contact_id"], id);
  EXPECT_EQ(body(api("GET", "/api/leads"))["total"].get<int>(), leads_before) << "no lead for a known customer";
  auto tl = body(api("GET", "/api/customers/" + id + "/timeline"));
  EXPECT_NE(tl.dump().find("about my order"), std::string::npos) << tl.dump();
}

TEST_F(whatsapp_sessions, sending_to_a_new_number_makes_it_a_lead_like_an_incoming_chat) {
  ASSERT_EQ(api("POST", "/api/whatsapp/start").status, 200);
  ASSERT_EQ(deliver(update(1, {{"connection", "open"}, {"me", {{"id", "9725@s.whatsapp.net"}}}})).status, 200);
  auto sent = api("POST", "/api/wa/send", json{{"to", "052-777-1212"}, {"text", "your quote is ready"}}.dump());
  ASSERT_EQ(sent.status, 202) << sent.body;
  auto leads = body(api("GET", "/api/leads?q=0527771212"));
  ASSERT_EQ(leads["total"], 1) << leads.dump();
  EXPECT_EQ(leads["results"][0]["source"], "whatsapp");
  std::string lead = leads["results"][0]["id"];
  auto msgs = body(api("GET", "/api/wa/messages?customer_id=" + lead));
  ASSERT_EQ(msgs["total"], 1) << msgs.dump();
  EXPECT_EQ(msgs["results"][0]["direction"], "out");
  EXPECT_EQ(test::count_events(dir, "wa_message_received", "\"subject\":\"acme/lead/" + lead + "\""), 1u)
      << "bound to the lead's subject";
}

TEST_F(whatsapp_sessions, reconnect_delays_carry_random_jitter) {
  // Four sessions lose their connection at once: each first retry waits
  // 1000 ms plus up to 20%, drawn apart (all four equal: about 1 in 10^7).
  std::set<int64_t> delays;
  for (std::string name : {"s1", "s2", "s3", "s4"}) {
    ASSERT_EQ(api("POST", "/api/whatsapp/start?session=" + name).status, 200);
    ASSERT_EQ(deliver(update(1, {{"connection", "open"}, {"me", {{"id", "9725@s.whatsapp.net"}}}}, name)).status, 200);
    json lost = {{"connection", "close"}, {"lastDisconnect", {{"statusCode", 428}, {"message", "Connection Closed"}}}};
    ASSERT_EQ(deliver(update(2, lost, name)).status, 200);
    auto hist = body(api("GET", "/api/whatsapp/history?session=" + name));
    ASSERT_EQ(hist["results"][0]["type"], "wa_retry_scheduled") << hist.dump();
    int64_t delay = hist["results"][0]["data"]["delay_ms"];
    EXPECT_GE(delay, 1000);
    EXPECT_LE(delay, 1200);
    delays.insert(delay);
  }
  EXPECT_GT(delays.size(), 1u) << "the same delay four times: no jitter";
}

// crmd starts while the bridge is down: the connected session it recovers
// cannot be checked at once, so crmd asks again with backoff until the
// bridge answers (here: the session is gone, so crmd starts it).
TEST(whatsapp_reconcile, a_bridge_down_when_crmd_starts_is_asked_again_until_it_answers) {
  std::atomic<int> starts{0}, asks{0};
  std::atomic<bool> down{false};
  fake_http_server bridge([&](const fake_request& r) {
    if (r.target == "/sessions/acme/start") ++starts;
    if (r.target == "/sessions/acme/status") {
      ++asks;
      if (down) return fake_response{503, R"({"ok":false,"error":"unavailable"})"};
      return fake_response{200, R"({"state":"close","qr":null,"me":null})"};
    }
    return fake_response{200, R"({"ok":true})"};
  });
  test::temp_dir dir;
  crmd_server server(dir.sub("data"), {{"BAILEYS_BASE_URL", bridge.base_url()}, {"INTERNAL_SECRET", secret}});
  ASSERT_TRUE(server.start());
  ASSERT_EQ(server.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
  ASSERT_EQ(test::http("POST", server.url("/api/whatsapp/start?business_id=acme"), "{}",
                       {crmd_server::auth(), crmd_server::json()}).status, 200);
  json open = {{"seq", 1}, {"event", "connection.update"},
               {"data", {{"connection", "open"}, {"me", {{"id", "9725@s.whatsapp.net"}, {"name", "Acme"}}}}}};
  ASSERT_EQ(test::http("POST", server.url("/webhook/whatsapp/acme/events"), open.dump(),
                       {"Content-Type: application/json", "X-Internal-Secret: " + secret}).status, 200);
  down = true;
  server.kill_now();
  int before = starts;
  ASSERT_TRUE(server.start());
  for (int i = 0; i < 60 && asks < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GE(asks.load(), 2) << "asked at start, then again after a second";
  EXPECT_EQ(starts - before, 0) << "no decision while the bridge cannot answer";
  down = false;
  for (int i = 0; i < 100 && starts == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(starts - before, 1) << "the bridge answered: the lost session is started, once";
  int asked = asks;
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_LE(asks - asked, 1) << "no more asking once it answered";
  EXPECT_EQ(starts - before, 1);
  server.terminate();
}

}  // namespace
}  // namespace crmd
