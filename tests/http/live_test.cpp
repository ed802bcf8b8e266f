// GET /api/stream end to end: live events of the caller's tenant only,
// replay after Last-Event-ID, heartbeats.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/sse_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::body;
using test::crmd_server;
using test::expect_error;
using test::sse_client;
using namespace std::chrono_literals;


struct live_test : ::testing::Test {
  test::temp_dir dir;
  crmd_server s{dir.sub("data")};
  std::string owner_b;
  void SetUp() override {
    ASSERT_TRUE(s.start());
    for (auto t : {R"({"id":"acme","name":"A"})", R"({"id":"beta","name":"B"})"})
      ASSERT_EQ(s.post("/api/admin/tenants", t).status, 201);
    ASSERT_EQ(s.post("/api/admin/users", json{{"email", "o@beta.test"}, {"password", "correct horse battery"},
                                             {"role", "owner"}, {"tenant_id", "beta"}}.dump()).status, 201);
    owner_b = crmd_server::bearer(body(s.login("o@beta.test", "correct horse battery"))["access_token"]);
  }
  std::string lead(const std::string& tenant, const std::string& name) {
    auto r = test::http("POST", s.url("/api/leads?business_id=" + tenant), json{{"name", name}}.dump(),
                        {crmd_server::auth(), crmd_server::json()});
    EXPECT_EQ(r.status, 201) << r.body;
    return std::to_string(body(r)["position"].get<uint64_t>());
  }
};

TEST_F(live_test, a_tenants_stream_gets_its_own_events_and_never_another_tenants) {
  sse_client a(s.url("/api/stream?business_id=acme"), {crmd_server::auth()});
  sse_client b(s.url("/api/stream"), {owner_b});
  ASSERT_TRUE(a.wait_for(": connected"));
  ASSERT_TRUE(b.wait_for(": connected"));
  std::string pos = lead("acme", "Dana");
  ASSERT_TRUE(a.wait_for("id: " + pos + "\nevent: lead.created\ndata: ")) << a.text();
  EXPECT_NE(a.text().find("\"id\":\"L1\""), std::string::npos) << a.text();
  std::string bpos = lead("beta", "Bob");
  ASSERT_TRUE(b.wait_for("id: " + bpos + "\n")) << b.text();
  EXPECT_EQ(b.text().find("id: " + pos + "\n"), std::string::npos) << "beta never sees acme's lead";
  EXPECT_EQ(a.text().find("id: " + bpos + "\n"), std::string::npos) << "acme never sees beta's lead";
}

TEST_F(live_test, reconnecting_with_last_event_id_replays_what_was_missed) {
  std::string first = lead("acme", "One");
  std::string second = lead("acme", "Two");
  std::string third = lead("acme", "Three");
  sse_client again(s.url("/api/stream?business_id=acme"), {crmd_server::auth(), "Last-Event-ID: " + first});
  ASSERT_TRUE(again.wait_for("id: " + third + "\n")) << again.text();
  auto text = again.text();
  EXPECT_NE(text.find("id: " + second + "\n"), std::string::npos);
  EXPECT_EQ(text.find("id: " + first + "\n"), std::string::npos) << "not what it had";
  EXPECT_LT(text.find("id: " + second + "\n"), text.find("id: " + third + "\n")) << "in order";
}

TEST_F(live_test, quiet_streams_get_heartbeats_and_strangers_get_401) {
  sse_client a(s.url("/api/stream?business_id=acme"), {crmd_server::auth()});
  EXPECT_TRUE(a.wait_for(": heartbeat")) << a.text();
  auto denied = test::http("GET", s.url("/api/stream"), {}, {}, 3000);
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(body(denied)["error"], "unauthorized");
  auto bad = test::http("GET", s.url("/api/stream?business_id=acme"), {}, {crmd_server::auth(), "Last-Event-ID: x"}, 3000);
  EXPECT_EQ(bad.status, 400);
}

}  // namespace
}  // namespace crmd
