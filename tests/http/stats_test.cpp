// GET /api/admin/stats end to end: two businesses do real work through the
// API and the providers' webhooks (Stripe, Twilio, the WhatsApp bridge), and
// the stats count it per tenant and in total, follow deletes and status
// changes, and are for system administrators only.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "connectors/stripe_signature.hpp"
#include "connectors/twilio_signature.hpp"
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
using test::expect_error;

const char* stripe_secret = "whsec_stats_0123456789";
const std::string bridge_secret = "bridge-secret-0123456789";
const std::string twilio_token = "test-twilio-auth-token";
const std::string public_host = "https://crm.example.test";
const char* pw = "correct horse battery";

struct stats_test : ::testing::Test {
  test::fake_http_server bridge{[](const test::fake_request& r) {
    if (r.target.find("/status") != std::string::npos)
      return test::fake_response{200, R"({"state":"open","qr":null,"me":{"id":"972501234567:3@s.whatsapp.net"}})"};
    return test::fake_response{200, R"({"ok":true})"};
  }};
  test::temp_dir dir;
  crmd_server s{dir.sub("data"),
                {{"STRIPE_WEBHOOK_SECRET", stripe_secret},
                 {"BAILEYS_BASE_URL", bridge.base_url()},
                 {"INTERNAL_SECRET", bridge_secret},
                 {"TWILIO_AUTH_TOKEN", twilio_token},
                 {"TWILIO_ACCOUNT_SID", "ACtest"},
                 {"PUBLIC_HOST", public_host}}};

  void SetUp() override {
    ASSERT_TRUE(s.start());
    for (auto t : {R"({"id":"acme","name":"Acme"})", R"({"id":"beta","name":"Beta"})"})
      ASSERT_EQ(s.post("/api/admin/tenants", t).status, 201);
  }

  // The operator acting in `tenant`.
  test::http_result in(const std::string& tenant, const std::string& method, const std::string& path,
                       const std::string& b = {}) {
    return test::http(method, s.url(path + (path.find('?') == std::string::npos ? "?" : "&") + "business_id=" + tenant),
                      b, {crmd_server::auth(), crmd_server::json()});
  }
  std::string create(const std::string& tenant, const std::string& path, const json& b) {
    auto r = in(tenant, "POST", path, b.dump());
    EXPECT_EQ(r.status, 201) << path << " " << r.body;
    return body(r).value("id", "");
  }
  void ok(const test::http_result& r) { EXPECT_EQ(r.status, 200) << r.body; }

  // Stripe says the invoice's payment succeeded (signed, as Stripe signs).
  void pay(const std::string& tenant, const std::string& invoice, int64_t amount, const std::string& currency) {
    std::string event = json{{"id", "evt_" + tenant + invoice}, {"type", "payment_intent.succeeded"},
                             {"data", {{"object", {{"id", "pi_" + invoice}, {"amount", amount}, {"currency", currency},
                                                   {"metadata", {{"invoice_id", invoice}, {"tenant_id", tenant}}}}}}}}
                            .dump();
    auto r = test::http("POST", s.url("/webhook/stripe"), event,
                        {"Content-Type: application/json",
                         "Stripe-Signature: " + connectors::stripe_signature_header(event, stripe_secret, std::time(nullptr))});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(body(r)["recorded"], true) << r.body;
  }
  // Twilio announces an incoming call (signed for the public URL).
  void incoming_call(const std::string& sid, const std::string& from, const std::string& to) {
    std::string form = "CallSid=" + sid + "&From=" + from + "&To=" + to + "&CallStatus=ringing&Direction=inbound";
    auto sig = connectors::twilio::compute_signature(twilio_token, public_host + "/webhook/incoming_call",
                                                     *connectors::twilio::parse_form(form));
    auto r = test::http("POST", s.url("/webhook/incoming_call"), form,
                        {"Content-Type: application/x-www-form-urlencoded", "X-Twilio-Signature: " + sig});
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_NE(r.body.find("<Record"), std::string::npos) << r.body;
  }
  // The WhatsApp bridge delivers an event for `tenant`.
  void bridge_event(const std::string& tenant, const json& event) {
    auto r = test::http("POST", s.url("/webhook/whatsapp/" + tenant + "/events"), event.dump(),
                        {"Content-Type: application/json", "X-Internal-Secret: " + bridge_secret});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  static json connection(int seq, json data) { return {{"seq", seq}, {"event", "connection.update"}, {"data", data}}; }
  static json incoming_message(const std::string& id, const std::string& number, const std::string& text) {
    json m = {{"key", {{"remoteJid", number + "@s.whatsapp.net"}, {"fromMe", false}, {"id", id}}},
              {"message", {{"conversation", text}}},
              {"messageTimestamp", 1764475200},
              {"pushName", "Eli"}};
    return {{"event", "messages.upsert"}, {"data", {{"type", "notify"}, {"messages", {m}}}}};
  }

  // The stats once the views include everything the log holds now (webhook
  // writes are not the operator's own, so read-your-writes alone would not do).
  json stats(const std::string& auth = crmd_server::auth()) {
    uint64_t head = body(s.get("/health"))["log_position"];
    auto r = test::http("GET", s.url("/api/admin/stats?min_position=" + std::to_string(head)), {}, {auth});
    EXPECT_EQ(r.status, 200) << r.body;
    return body(r);
  }
  static json tenant(const json& stats, const std::string& id) {
    for (auto& t : stats["tenants"])
      if (t["tenant_id"] == id) return t;
    ADD_FAILURE() << "no tenant " << id << " in " << stats.dump();
    return json::object();
  }
  // Events of `tenant`'s streams, as `crmd events` lists the log.
  size_t events_of(const std::string& tenant) {
    auto ev = test::run({CRMD_BINARY, "events", "--data-dir", dir.sub("data")}, dir.path());
    size_t n = 0;
    std::istringstream lines(ev.out);
    for (std::string line; std::getline(lines, line);) n += line.find("\"stream\":\"" + tenant + "/") != std::string::npos;
    return n;
  }
  std::string token_of(const std::string& email, const std::string& role, const std::string& tenant) {
    json b = {{"email", email}, {"password", pw}, {"role", role}};
    if (!tenant.empty()) b["tenant_id"] = tenant;
    auto made = s.post("/api/admin/users", b.dump());
    EXPECT_EQ(made.status, 201) << made.body;
    auto r = s.login(email, pw);
    EXPECT_EQ(r.status, 200) << r.body;
    return crmd_server::bearer(body(r).value("access_token", ""));
  }
};

TEST_F(stats_test, each_business_is_counted_from_its_own_records_and_the_total_adds_them_up) {
  // Acme: three leads, one becomes a customer, one is deleted.
  std::string dana = create("acme", "/api/leads", {{"name", "Dana"}, {"phone", "050-111-1111"}});
  std::string eli = create("acme", "/api/leads", {{"name", "Eli"}, {"phone", "050-222-2222"}});
  std::string noa = create("acme", "/api/leads", {{"name", "Noa"}, {"phone", "050-333-3333"}});
  ok(in("acme", "POST", "/api/leads/" + dana + "/convert"));
  ok(in("acme", "DELETE", "/api/leads/" + noa));
  // Three tasks, one done.
  std::string call_eli = create("acme", "/api/tasks", {{"title", "Call Eli"}, {"customer_id", eli}});
  std::string quote = create("acme", "/api/tasks", {{"title", "Send the quote"}});
  std::string follow = create("acme", "/api/tasks", {{"title", "Follow up"}, {"customer_id", dana}});
  ok(in("acme", "PATCH", "/api/tasks/" + call_eli, R"({"status":"done"})"));
  // Invoices: two paid through Stripe (in two currencies), one still pending.
  auto invoice = [&](const std::string& t, const std::string& customer, const std::string& currency, int64_t amount) {
    return create(t, "/api/invoices", {{"customer_id", customer}, {"currency", currency},
                                       {"lines", {{{"description", "Plan"}, {"unit_amount", amount}}}}});
  };
  pay("acme", invoice("acme", dana, "ILS", 35000), 35000, "ils");
  std::string pending = invoice("acme", dana, "ILS", 10000);
  pay("acme", invoice("acme", dana, "USD", 500), 500, "usd");
  // Eli calls Acme's number and writes twice on WhatsApp: no new lead, he is known.
  ASSERT_EQ(s.put("/api/admin/tenants/acme/phone_numbers", R"({"phone_numbers":["+97233763805"]})").status, 200);
  incoming_call("CA1", "%2B972502222222", "%2B97233763805");
  bridge_event("acme", incoming_message("M1", "972502222222", "Hello"));
  bridge_event("acme", incoming_message("M2", "972502222222", "Any news?"));
  // Acme's WhatsApp session connects; someone watches Acme's live stream.
  ok(in("acme", "POST", "/api/whatsapp/start"));
  bridge_event("acme", connection(1, {{"connection", "open"}, {"me", {{"id", "972501234567:3@s.whatsapp.net"}}}}));
  test::sse_client watcher(s.url("/api/stream?business_id=acme"), {crmd_server::auth()});
  ASSERT_TRUE(watcher.wait_for(": connected"));

  // Beta: a lead, a customer with one paid invoice, one open task.
  create("beta", "/api/leads", {{"name", "Bob"}, {"phone", "052-444-4444"}});
  std::string gil = create("beta", "/api/leads", {{"name", "Gil"}, {"phone", "052-555-5555"}});
  ok(in("beta", "POST", "/api/leads/" + gil + "/convert"));
  create("beta", "/api/tasks", {{"title", "Welcome Gil"}, {"customer_id", gil}});
  pay("beta", invoice("beta", gil, "ILS", 20000), 20000, "ils");

  auto st = stats();
  ASSERT_EQ(st["ok"], true) << st.dump();
  ASSERT_EQ(st["tenants"].size(), 2u) << st.dump();
  auto a = tenant(st, "acme"), b = tenant(st, "beta");
  EXPECT_EQ(a["name"], "Acme");
  EXPECT_EQ(a["status"], "active");
  EXPECT_EQ(a["leads"], 1) << "Eli; Dana is a customer now and Noa was deleted";
  EXPECT_EQ(a["customers"], 1);
  EXPECT_EQ(a["calls"], 1);
  EXPECT_EQ(a["messages"], 2);
  EXPECT_EQ(a["open_tasks"], 2);
  EXPECT_EQ(a["revenue_paid"], (json{{"ILS", 35000}, {"USD", 500}})) << "the pending invoice is not revenue";
  EXPECT_EQ(a["whatsapp_provider"], "baileys");
  EXPECT_EQ(a["whatsapp_connected"], true);
  EXPECT_EQ(a["whatsapp_sessions_connected"], 1);
  EXPECT_EQ(a["live_streams"], 1);
  EXPECT_EQ(b["leads"], 1);
  EXPECT_EQ(b["customers"], 1);
  EXPECT_EQ(b["calls"], 0);
  EXPECT_EQ(b["messages"], 0);
  EXPECT_EQ(b["open_tasks"], 1);
  EXPECT_EQ(b["revenue_paid"], (json{{"ILS", 20000}}));
  EXPECT_EQ(b["whatsapp_connected"], false);
  EXPECT_EQ(b["live_streams"], 0);
  // Each tenant's events are exactly those of its streams in the log.
  EXPECT_EQ(a["events"], events_of("acme"));
  EXPECT_EQ(b["events"], events_of("beta"));

  auto& total = st["total"];
  EXPECT_EQ(total["tenants"], 2);
  EXPECT_EQ(total["leads"], 2);
  EXPECT_EQ(total["customers"], 2);
  EXPECT_EQ(total["calls"], 1);
  EXPECT_EQ(total["messages"], 2);
  EXPECT_EQ(total["open_tasks"], 3);
  EXPECT_EQ(total["revenue_paid"], (json{{"ILS", 55000}, {"USD", 500}}));
  EXPECT_EQ(total["whatsapp_connected_tenants"], 1);
  EXPECT_EQ(total["whatsapp_sessions_connected"], 1);
  EXPECT_EQ(total["live_streams"], 1);
  EXPECT_EQ(total["events"], a["events"].get<uint64_t>() + b["events"].get<uint64_t>());
  // The log: every event belongs to a tenant or to crmd itself ("system").
  auto& log = st["log"];
  EXPECT_EQ(log["events"], body(s.get("/health"))["log_position"]);
  EXPECT_EQ(log["events"].get<uint64_t>(), total["events"].get<uint64_t>() + log["system_events"].get<uint64_t>());
  EXPECT_EQ(log["views_position"], log["events"]);
  EXPECT_GT(log["store_bytes"].get<uint64_t>(), 0u);

  // The numbers follow what happens next: Eli is deleted (his call and
  // messages stay: deleting a lead is not erasing it), two tasks are done
  // and one reopened, the pending invoice is voided, WhatsApp logs out.
  ok(in("acme", "PATCH", "/api/tasks/" + quote, R"({"status":"done"})"));
  ok(in("acme", "PATCH", "/api/tasks/" + follow, R"({"status":"done"})"));
  ok(in("acme", "PATCH", "/api/tasks/" + call_eli, R"({"status":"open"})"));
  ok(in("acme", "DELETE", "/api/leads/" + eli));
  ok(in("acme", "POST", "/api/invoices/" + pending + "/void"));
  bridge_event("acme", connection(2, {{"connection", "close"},
                                      {"lastDisconnect", {{"statusCode", 401}, {"message", "logged out"}, {"date", ""}}}}));
  auto after = stats();
  a = tenant(after, "acme");
  EXPECT_EQ(a["leads"], 0);
  EXPECT_EQ(a["customers"], 1);
  EXPECT_EQ(a["calls"], 1);
  EXPECT_EQ(a["messages"], 2);
  EXPECT_EQ(a["open_tasks"], 1) << "only the reopened task";
  EXPECT_EQ(a["revenue_paid"], (json{{"ILS", 35000}, {"USD", 500}}));
  EXPECT_EQ(a["whatsapp_connected"], false);
  EXPECT_EQ(a["whatsapp_sessions_connected"], 0);
  EXPECT_EQ(after["total"]["leads"], 1);
  EXPECT_EQ(after["total"]["open_tasks"], 2);
  EXPECT_EQ(after["total"]["whatsapp_connected_tenants"], 0);
  EXPECT_EQ(a["events"], events_of("acme"));
}

TEST_F(stats_test, only_system_administrators_may_read_the_stats) {
  std::string owner = token_of("owner@acme.test", "owner", "acme");
  std::string agent = token_of("agent@acme.test", "agent", "acme");
  std::string admin = token_of("root@crmd.test", "system_admin", "");
  for (auto& who : {owner, agent})
    expect_error(test::http("GET", s.url("/api/admin/stats"), {}, {who}), 403, "forbidden");
  expect_error(test::http("GET", s.url("/api/admin/stats")), 401, "unauthorized");
  // A system admin signed in like anyone else; nothing recorded yet.
  auto st = stats(admin);
  EXPECT_EQ(st["total"]["tenants"], 2);
  EXPECT_EQ(st["total"]["leads"], 0);
  EXPECT_EQ(st["total"]["revenue_paid"], json::object());
  EXPECT_EQ(tenant(st, "acme")["open_tasks"], 0);
  EXPECT_EQ(tenant(st, "beta")["revenue_paid"], json::object());
  EXPECT_GT(st["log"]["system_events"].get<uint64_t>(), 0u) << "the tenants and users were created";
}

// The Cloud API has no session to connect: a business counts as connected
// once crmd could send for it, with both a token and a phone_number_id.
TEST_F(stats_test, a_cloud_api_business_counts_as_connected_once_it_has_a_token_and_a_number) {
  auto settings = [&](const json& patch) { ok(in("beta", "PATCH", "/api/business/beta/settings", patch.dump())); };
  auto beta = [&] { return tenant(stats(), "beta"); };
  settings({{"whatsapp_provider", "cloud"}});
  EXPECT_EQ(beta()["whatsapp_provider"], "cloud");
  EXPECT_EQ(beta()["whatsapp_connected"], false);
  settings({{"whatsapp_token", "EAAGm0PX4ZCpsBAMZCcloudtoken7Qx9"}});
  EXPECT_EQ(beta()["whatsapp_connected"], false) << "no phone_number_id yet";
  ASSERT_EQ(s.put("/api/admin/tenants/beta/whatsapp_cloud", R"({"phone_number_ids":["106540352242922"]})").status, 200);
  auto st = stats();
  EXPECT_EQ(tenant(st, "beta")["whatsapp_connected"], true);
  EXPECT_EQ(tenant(st, "beta")["whatsapp_sessions_connected"], 0);
  EXPECT_EQ(st["total"]["whatsapp_connected_tenants"], 1);
  settings({{"whatsapp_token", nullptr}});
  EXPECT_EQ(beta()["whatsapp_connected"], false) << "the token was removed";
}

}  // namespace
}  // namespace crmd
