// Erasure on request, end to end on the real crmd serve: the person's name,
// phone, notes and messages become unreadable and leave the views after the
// automatic rebuild, the erasure is in the audit trail, the key is in no
// file of the store, `crmd verify` still passes, and a store restored from
// a backup taken before the erasure erases them again.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <thread>

#include "storage/kv.hpp"
#include "storage/rocks_kv.hpp"
#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::body;
using test::crmd_server;
namespace fs = std::filesystem;

const std::string secret = "bridge-secret-0123456789";

struct erasure_test : ::testing::Test {
  test::temp_dir dir;
  std::string data = dir.sub("data");
  std::unique_ptr<crmd_server> server = std::make_unique<crmd_server>(data, env());
  uint64_t seen = 0;

  static std::vector<std::pair<std::string, std::string>> env() { return {{"INTERNAL_SECRET", secret}}; }
  void SetUp() override {
    ASSERT_TRUE(server->start());
    ASSERT_EQ(server->post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
  }
  test::http_result call(const std::string& method, const std::string& path, const std::string& payload = "{}") {
    std::string sep = path.find('?') == std::string::npos ? "?" : "&";
    auto r = test::http(method, server->url(path + sep + "business_id=acme&min_position=" + std::to_string(seen)), payload,
                        {crmd_server::auth(), crmd_server::json()});
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("position") && j["position"].is_number_unsigned())
      seen = std::max<uint64_t>(seen, j["position"].get<uint64_t>());
    return r;
  }
  void make_dana() {
    ASSERT_EQ(call("POST", "/api/leads", R"({"name":"Dana Levi","phone":"050-123-4567","email":"dana@levi.test"})").status, 201);
    ASSERT_EQ(call("POST", "/api/customers/L1/notes", R"({"text":"Dana prefers mornings"})").status, 201);
    json msg = {{"seq", 1},
                {"event", "messages.upsert"},
                {"data", {{"type", "notify"},
                          {"messages", {{{"key", {{"remoteJid", "972501234567@s.whatsapp.net"}, {"fromMe", false}, {"id", "M1"}}},
                                         {"message", {{"conversation", "hello from dana"}}},
                                         {"messageTimestamp", 1764475200},
                                         {"pushName", "Dana"}}}}}}};
    auto r = test::http("POST", server->url("/webhook/whatsapp/acme/events"), msg.dump(),
                        {"Content-Type: application/json", "X-Internal-Secret: " + secret});
    ASSERT_EQ(r.status, 200) << r.body;
    seen = std::max<uint64_t>(seen, body(r)["position"].get<uint64_t>());
    // Our answer from the phone, and Dana reads it: a status naming her chat.
    msg["seq"] = 2;
    msg["data"]["messages"][0]["key"]["fromMe"] = true;
    msg["data"]["messages"][0]["key"]["id"] = "M2";
    msg["data"]["messages"][0]["message"]["conversation"] = "see you at ten";
    json read = {{"seq", 3}, {"event", "messages.update"},
                 {"data", {{{"key", {{"remoteJid", "972501234567@s.whatsapp.net"}, {"fromMe", true}, {"id", "M2"}}},
                            {"update", {{"status", 4}}}}}}};
    for (const json& e : {msg, read}) {
      auto more = test::http("POST", server->url("/webhook/whatsapp/acme/events"), e.dump(),
                             {"Content-Type: application/json", "X-Internal-Secret: " + secret});
      ASSERT_EQ(more.status, 200) << more.body;
      seen = std::max<uint64_t>(seen, body(more)["position"].get<uint64_t>());
    }
  }
  void wait_rebuilds(crmd_server& s) {
    for (int i = 0; i < 400; ++i) {
      auto all = body(s.get("/api/admin/projections"));
      bool busy = false;
      for (auto& v : all["projections"]) busy |= !v["rebuild"].is_null() && v["rebuild"]["running"] == true;
      int rebuilt = 0;
      for (auto& v : all["projections"]) rebuilt += !v["rebuild"].is_null();
      if (!busy && rebuilt >= 6) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ADD_FAILURE() << "rebuilds did not finish";
  }
  std::string subject_key() {
    rocks_options o;
    o.path = data + "/db";
    o.create_if_missing = false;
    o.read_only = true;
    auto kv = open_rocks_kv(o);
    std::string key;
    if (kv) (*kv)->get(cf::keys, "acme/lead/L1", &key);
    return key;
  }
  static std::string all_bytes(const std::string& d) {
    std::string all;
    for (auto& f : fs::recursive_directory_iterator(d))
      if (f.is_regular_file()) {
        std::ifstream in(f.path(), std::ios::binary);
        all.append(std::istreambuf_iterator<char>(in), {});
      }
    return all;
  }
};

TEST_F(erasure_test, an_erased_person_is_unreadable_everywhere_and_the_erasure_is_audited) {
  make_dana();
  EXPECT_EQ(body(call("GET", "/api/leads/L1"))["lead"]["name"], "Dana Levi");
  std::string key = subject_key();
  ASSERT_EQ(key.size(), 32u);

  auto erased = call("POST", "/api/admin/tenants/acme/subjects/L1/erase");
  ASSERT_EQ(erased.status, 200) << erased.body;
  EXPECT_EQ(body(erased)["subject"], "acme/lead/L1");
  wait_rebuilds(*server);

  test::expect_error(call("GET", "/api/leads/L1"), 404, "contact_not_found");
  auto leads = call("GET", "/api/leads?limit=200").body;
  auto messages = call("GET", "/api/wa/messages?limit=200").body;
  auto timeline = call("GET", "/api/leads/L1/timeline").body;
  for (auto* text : {"Dana", "dana@levi.test", "972501234567", "mornings", "hello from dana"}) {
    EXPECT_EQ(leads.find(text), std::string::npos) << text;
    EXPECT_EQ(messages.find(text), std::string::npos) << text;
    EXPECT_EQ(timeline.find(text), std::string::npos) << text;
  }
  auto audit = body(call("GET", "/api/admin/audit?tenant=acme&type=contact_erased"));
  ASSERT_EQ(audit["total"], 1);
  EXPECT_EQ(audit["results"][0]["actor"], "operator");
  EXPECT_EQ(audit["results"][0]["summary"], "contact_erased: lead_id=L1");
  // The log keeps every event, none of them readable as hers: not the
  // messages, not the read receipt naming her chat.
  auto log = test::run({CRMD_BINARY, "events", "--data-dir", data, "--tenant", "acme"}, dir.path());
  ASSERT_EQ(log.exit_code, 0) << log.err;
  EXPECT_NE(log.out.find("\"type\":\"wa_message_status\""), std::string::npos) << log.out;
  for (auto* text : {"972501234567", "Dana", "hello from dana", "see you at ten"})
    EXPECT_EQ(log.out.find(text), std::string::npos) << text;
  // The number is free again (the tenant forgot it), the chain still verifies,
  // and the key is in no file of the store, WAL included.
  EXPECT_EQ(call("POST", "/api/leads", R"({"name":"New owner","phone":"050-123-4567"})").status, 201);
  auto verify = test::run({CRMD_BINARY, "verify", "--data-dir", data}, dir.path());
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(all_bytes(data + "/db").find(key), std::string::npos) << "a copy of the destroyed key survived";
  EXPECT_NE(test::read_file(data + "/erased_subjects").find("acme/lead/L1\t"), std::string::npos);
}

TEST_F(erasure_test, a_backup_from_before_the_erasure_is_erased_again_when_restored) {
  make_dana();
  ::setenv("CRMD_ADMIN_TOKEN", test::test_token, 1);
  auto backup = test::run({CRMD_BINARY, "backup", dir.sub("backup"), "--data-dir", data}, dir.path());
  ::unsetenv("CRMD_ADMIN_TOKEN");
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  ASSERT_EQ(call("POST", "/api/admin/tenants/acme/subjects/L1/erase").status, 200);
  auto restored = test::run({CRMD_BINARY, "restore", dir.sub("backup"), "--data-dir", dir.sub("restored")}, dir.path());
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  server->terminate();

  crmd_server copy(dir.sub("restored"), env());
  ASSERT_TRUE(copy.start());
  wait_rebuilds(copy);
  auto lead = test::http("GET", copy.url("/api/leads/L1?business_id=acme"), {}, {crmd_server::auth()});
  test::expect_error(lead, 404, "contact_not_found");
  auto leads = test::http("GET", copy.url("/api/leads?business_id=acme"), {}, {crmd_server::auth()});
  EXPECT_EQ(leads.body.find("Dana"), std::string::npos);
  copy.terminate();
  auto verify = test::run({CRMD_BINARY, "verify", "--data-dir", dir.sub("restored")}, dir.path());
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
}

// Right after the erasure the views may still name the erased contact for a
// moment (their rebuild runs after the answer): a delivery for that number
// then meets the log's refusal of the erased subject, and the tenant, which
// forgot the number, decides afresh: a new lead, nothing lost, nothing of
// the erased person readable.
TEST_F(erasure_test, a_delivery_for_the_erased_number_right_after_the_erasure_makes_a_new_lead) {
  make_dana();
  ASSERT_EQ(call("POST", "/api/admin/tenants/acme/subjects/L1/erase").status, 200);
  json late = {{"seq", 10}, {"event", "messages.update"},
               {"data", {{{"key", {{"remoteJid", "972501234567@s.whatsapp.net"}, {"fromMe", true}, {"id", "M2"}}},
                          {"update", {{"status", 5}}}}}}};
  json again = {{"seq", 11}, {"event", "messages.upsert"},
                {"data", {{"type", "notify"},
                          {"messages", {{{"key", {{"remoteJid", "972501234567@s.whatsapp.net"}, {"fromMe", false}, {"id", "M3"}}},
                                         {"message", {{"conversation", "it's me again"}}},
                                         {"pushName", "D."}}}}}}};
  for (const json& e : {late, again}) {
    auto r = test::http("POST", server->url("/webhook/whatsapp/acme/events"), e.dump(),
                        {"Content-Type: application/json", "X-Internal-Secret: " + secret});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(body(r)["stored"], 1) << r.body;
    seen = std::max<uint64_t>(seen, body(r)["position"].get<uint64_t>());
  }
  wait_rebuilds(*server);
  auto leads = body(call("GET", "/api/leads?q=0501234567"));
  ASSERT_EQ(leads["total"], 1) << leads.dump();
  std::string fresh = leads["results"][0]["id"];
  EXPECT_NE(fresh, "L1");
  EXPECT_EQ(leads["results"][0]["source"], "whatsapp");
  auto msgs = body(call("GET", "/api/wa/messages?customer_id=" + fresh));
  ASSERT_EQ(msgs["total"], 1) << msgs.dump();
  EXPECT_EQ(msgs["results"][0]["text"], "it's me again");
  auto all = call("GET", "/api/wa/messages?limit=200").body;
  EXPECT_EQ(all.find("hello from dana"), std::string::npos);
  EXPECT_EQ(all.find("see you at ten"), std::string::npos);
}

TEST_F(erasure_test, bad_requests_are_refused) {
  make_dana();
  test::expect_error(call("POST", "/api/admin/tenants/acme/subjects/L99/erase"), 404, "contact_not_found");
  test::expect_error(call("POST", "/api/admin/tenants/acme/subjects/u1/erase"), 400, "invalid_field");
  test::expect_error(call("POST", "/api/admin/tenants/nosuch/subjects/L1/erase"), 404, "tenant_not_found");
  EXPECT_EQ(body(call("GET", "/api/leads/L1"))["lead"]["name"], "Dana Levi") << "nothing erased";
}

}  // namespace
}  // namespace crmd
