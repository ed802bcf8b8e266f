// Point in time over HTTP and the CLI on the real crmd serve: a tenant's CRM
// as it stood at a position or a time, replayed into scratch views, equal
// to what the live API showed then.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "events/time_format.hpp"
#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::body;
using test::crmd_server;

class as_of_test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start());
    for (const char* t : {"acme", "beta"})
      ASSERT_EQ(server_.post("/api/admin/tenants", json{{"id", t}, {"name", t}}.dump()).status, 201);
  }
  uint64_t write(const std::string& method, const std::string& path, const json& payload, const std::string& tenant = "acme") {
    auto r = test::http(method, server_.url(path + "?business_id=" + tenant), payload.dump(),
                        {crmd_server::auth(), crmd_server::json()});
    EXPECT_LT(r.status, 300) << r.body;
    return body(r).value("position", uint64_t(0));
  }
  json as_of(const std::string& query) { return body(server_.get("/api/admin/tenants/acme/as_of?" + query)); }
  json live(const std::string& path) { return body(server_.get(path + "?business_id=acme&limit=200")); }
  test::temp_dir dir_;
  crmd_server server_{dir_.sub("data")};
};

TEST_F(as_of_test, each_moment_replays_to_what_the_crm_showed_then) {
  uint64_t first = write("POST", "/api/leads", {{"name", "Dana"}, {"phone", "050-111-1111"}});
  json leads_then = live("/api/leads");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int64_t between_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  write("POST", "/api/leads/L1/convert", json::object());
  write("POST", "/api/leads", {{"name", "Noa"}, {"phone", "050-222-2222"}});
  write("POST", "/api/leads", {{"name", "Beta's"}, {"phone", "050-333-3333"}}, "beta");
  write("POST", "/api/tasks", {{"title", "Call Noa"}, {"about_id", "L2"}});
  uint64_t last = write("PATCH", "/api/business/acme/settings", {{"language", "en"}});

  // At the first lead: one lead, no customer, default settings.
  auto then = as_of("position=" + std::to_string(first));
  EXPECT_EQ(then["as_of"]["position"], first);
  EXPECT_EQ(then["leads"]["total"], 1);
  EXPECT_EQ(then["leads"]["items"], leads_then["results"]) << "exactly as the live list showed it";
  EXPECT_EQ(then["customers"]["total"], 0);
  EXPECT_EQ(then["tasks"]["total"], 0);
  EXPECT_EQ(then["settings"]["language"], "he");
  // By time: the same moment.
  auto by_time = as_of("at=" + rfc3339(between_us, 6));
  EXPECT_EQ(by_time["leads"], then["leads"]);
  EXPECT_EQ(by_time["customers"]["total"], 0);

  // Now: equal to the live views, and nothing of beta's.
  auto now = as_of("position=" + std::to_string(last));
  EXPECT_EQ(now["customers"]["items"], live("/api/crm/customers")["results"]);
  EXPECT_EQ(now["leads"]["items"], live("/api/leads")["results"]);
  EXPECT_EQ(now["tasks"]["total"], 1);
  EXPECT_EQ(now["settings"]["language"], "en");
  EXPECT_EQ(now.dump().find("Beta's"), std::string::npos);

  // The CLI replays the same, offline, beside the running server.
  auto cli = test::run({CRMD_BINARY, "replay", "--tenant", "acme", "--until", std::to_string(first), "--data-dir",
                        dir_.sub("data")},
                       dir_.path());
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(json::parse(cli.out), then);
}

TEST_F(as_of_test, users_prompts_and_documents_are_replayed_too) {
  ASSERT_EQ(server_.post("/api/admin/users",
                         R"({"email":"owner@acme.test","password":"correct-horse-battery","role":"owner","tenant_id":"acme"})")
                .status,
            201);
  uint64_t p = write("POST", "/api/business/acme/prompts", {{"title", "Summary"}, {"body", "Be brief"}});
  auto j = as_of("position=" + std::to_string(p));
  EXPECT_EQ(j["users"]["total"], 1);
  EXPECT_EQ(j["users"]["items"][0]["email"], "owner@acme.test");
  EXPECT_EQ(j["prompts"]["total"], 1);
  EXPECT_EQ(j["contracts"]["total"], 0);
  EXPECT_EQ(j["invoices"]["total"], 0);
  EXPECT_EQ(as_of("position=1")["users"]["total"], 0) << "before the user existed";
}

TEST_F(as_of_test, bad_queries_are_refused) {
  test::expect_error(server_.get("/api/admin/tenants/acme/as_of"), 400, "invalid_field");
  test::expect_error(server_.get("/api/admin/tenants/acme/as_of?at=yesterday"), 400, "invalid_field");
  test::expect_error(server_.get("/api/admin/tenants/acme/as_of?position=-3"), 400, "invalid_field");
  test::expect_error(server_.get("/api/admin/tenants/acme/as_of?position=1&limit=0"), 400, "invalid_field");
  test::expect_error(server_.get("/api/admin/tenants/nosuch/as_of?position=1"), 404, "tenant_not_found");
  auto cli = test::run({CRMD_BINARY, "replay", "--tenant", "acme", "--until", "last tuesday", "--data-dir", dir_.sub("data")},
                       dir_.path());
  EXPECT_EQ(cli.exit_code, 2);
}

}  // namespace
}  // namespace crmd
