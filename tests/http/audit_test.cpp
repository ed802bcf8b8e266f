// The audit trail over HTTP on the real crmd serve: who did what from where
// (user, client address, request id), owners see only their business, the
// JSON-lines export matches the list, and bad filters are 4xx.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "storage/rocks_kv.hpp"
#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::body;
using test::crmd_server;

const std::string pw = "correct-horse-battery";

class audit_test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start());
    for (const char* t : {"acme", "beta"})
      ASSERT_EQ(server_.post("/api/admin/tenants", json{{"id", t}, {"name", t}}.dump()).status, 201);
    owner_id_ = make("owner@acme.test", "owner", "acme");
    make("agent@acme.test", "agent", "acme");
    make("owner@beta.test", "owner", "beta");
  }
  std::string make(const std::string& email, const std::string& role, const std::string& tenant) {
    auto r = server_.post("/api/admin/users", json{{"email", email}, {"password", pw}, {"role", role}, {"tenant_id", tenant}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return body(r)["user"].value("id", "");
  }
  std::string token(const std::string& email) {
    auto r = server_.login(email, pw);
    EXPECT_EQ(r.status, 200) << r.body;
    return crmd_server::bearer(body(r).value("access_token", ""));
  }
  test::http_result as(const std::string& auth, const std::string& method, const std::string& path,
                       const std::string& payload = "") {
    auto r = test::http(method, server_.url(path), payload, {auth, crmd_server::json()});
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("position") && j["position"].is_number_unsigned())
      seen_ = std::max<uint64_t>(seen_, j["position"].get<uint64_t>());
    return r;
  }
  // The operator's reads wait for the other users' writes made so far.
  test::http_result audit(const std::string& path) {
    return server_.get(path + (path.find('?') == std::string::npos ? "?" : "&") + "min_position=" + std::to_string(seen_));
  }
  uint64_t seen_ = 0;
  test::temp_dir dir_;
  crmd_server server_{dir_.sub("data")};
  std::string owner_id_;
};

TEST_F(audit_test, an_owners_change_is_recorded_with_user_address_and_request_id) {
  auto owner = token("owner@acme.test");
  auto created = as(owner, "POST", "/api/leads", R"({"name":"Dana Levi","phone":"050-123-4567"})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string request_id = created.headers["x-request-id"];
  ASSERT_FALSE(request_id.empty());

  auto page = body(audit("/api/admin/audit?tenant=acme&type=lead_created"));
  ASSERT_EQ(page["total"], 1) << page;
  auto& e = page["results"][0];
  EXPECT_EQ(e["actor"], owner_id_);
  EXPECT_EQ(e["client"], "127.0.0.1");
  EXPECT_EQ(e["request_id"], request_id);
  EXPECT_EQ(e["tenant"], "acme");
  EXPECT_EQ(e["stream"], "acme/tenant/acme");
  EXPECT_EQ(e["summary"], "lead_created: lead_id=L1, source=manual");
  EXPECT_EQ(page.dump().find("Dana"), std::string::npos) << "no personal data in the trail";
  // Signing in is in the trail too, by the same user.
  EXPECT_GE(body(audit("/api/admin/audit?actor=" + owner_id_ + "&type=user_logged_in"))["total"].get<int>(), 1);
}

TEST_F(audit_test, owners_see_their_own_business_only_and_agents_none) {
  ASSERT_EQ(as(token("owner@beta.test"), "POST", "/api/leads", R"({"name":"B","phone":"050-000-0001"})").status, 201);
  auto mine = as(token("owner@acme.test"), "GET", "/api/audit?limit=200");
  ASSERT_EQ(mine.status, 200) << mine.body;
  auto j = body(mine);
  EXPECT_GT(j["total"].get<int>(), 0);
  for (auto& e : j["results"]) EXPECT_EQ(e["tenant"], "acme") << e;
  test::expect_error(as(token("agent@acme.test"), "GET", "/api/audit"), 403, "forbidden");
  test::expect_error(as(token("owner@acme.test"), "GET", "/api/admin/audit"), 403, "forbidden");
}

TEST_F(audit_test, the_jsonl_export_holds_what_the_list_counts) {
  auto owner = token("owner@acme.test");
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(as(owner, "POST", "/api/leads", json{{"name", "N"}, {"phone", "050-000-10" + std::to_string(i) + "0"}}.dump()).status, 201);
  auto total = body(audit("/api/admin/audit?tenant=acme"))["total"].get<size_t>();
  auto exp = audit("/api/admin/audit.jsonl?tenant=acme");
  ASSERT_EQ(exp.status, 200);
  EXPECT_EQ(exp.headers["content-type"], "application/x-ndjson; charset=utf-8");
  std::istringstream lines(exp.body);
  size_t n = 0;
  uint64_t last = UINT64_MAX;
  for (std::string line; std::getline(lines, line); ++n) {
    auto e = json::parse(line);
    EXPECT_EQ(e["tenant"], "acme");
    EXPECT_LT(e["position"].get<uint64_t>(), last) << "newest first";
    last = e["position"].get<uint64_t>();
    EXPECT_TRUE(e.contains("summary"));
  }
  EXPECT_EQ(n, total);
  auto leads = audit("/api/admin/audit.jsonl?tenant=acme&type=lead_created");
  EXPECT_EQ(std::count(leads.body.begin(), leads.body.end(), '\n'), 5);
}

TEST_F(audit_test, bad_filters_are_refused) {
  test::expect_error(server_.get("/api/admin/audit?from=yesterday"), 400, "invalid_field");
  test::expect_error(server_.get("/api/admin/audit?to=2026-11-30T08:00:00"), 400, "invalid_field");  // no offset
  test::expect_error(server_.get("/api/admin/audit?tenant=nosuch"), 404, "tenant_not_found");
  test::expect_error(server_.get("/api/admin/audit?type=" + std::string(300, 'x')), 400, "invalid_field");
  test::expect_error(server_.get("/api/admin/audit?limit=0"), 400, "invalid_field");
  EXPECT_EQ(body(server_.get("/api/admin/audit?from=2100-01-01T00:00:00Z"))["total"], 0);
}

json integrity_when_done(crmd_server& server) {
  json j;
  for (int i = 0; i < 200; ++i) {
    j = body(server.get("/api/admin/integrity"));
    if (j["state"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return j;
}

TEST_F(audit_test, the_integrity_check_runs_online_and_names_the_first_altered_event) {
  auto lead = as(token("owner@acme.test"), "POST", "/api/leads", R"({"name":"A","phone":"050-000-0009"})");
  ASSERT_EQ(lead.status, 201);
  uint64_t at = body(lead)["position"];
  test::expect_error(as(token("owner@acme.test"), "GET", "/api/admin/integrity"), 403, "forbidden");
  auto first = body(server_.get("/api/admin/integrity"));
  EXPECT_TRUE(first["state"] == "running" || first["state"] == "done") << first;
  auto done = integrity_when_done(server_);
  ASSERT_EQ(done["state"], "done") << done;
  EXPECT_EQ(done["result"]["intact"], true);
  EXPECT_GE(done["result"]["events_checked"].get<uint64_t>(), done["total"].get<uint64_t>());
  EXPECT_TRUE(done["result"]["first_bad_position"].is_null());

  // Someone alters a stored byte of the lead's event while crmd is down
  // (an event no actor needs at start: crmd serves, and the check finds it).
  server_.terminate();
  {
    rocks_options o;
    o.path = dir_.sub("data") + "/db";
    o.create_if_missing = false;
    auto kv = open_rocks_kv(o);
    ASSERT_TRUE(kv) << kv.error().to_string();
    std::string rec;
    ASSERT_TRUE((*kv)->get(cf::events, be64(at), &rec));
    rec[rec.size() - 40] ^= 0x01;  // inside the body: the CRC no longer matches
    auto b = (*kv)->new_batch();
    b->put(cf::events, be64(at), rec);
    ASSERT_TRUE((*kv)->write(*b, true));
  }
  ASSERT_TRUE(server_.start());
  auto broken = integrity_when_done(server_);
  ASSERT_EQ(broken["state"], "done") << broken;
  EXPECT_EQ(broken["result"]["intact"], false);
  EXPECT_EQ(broken["result"]["first_bad_position"], at);
  EXPECT_FALSE(broken["result"]["reason"].get<std::string>().empty());
  // A finished result stays until asked to run again.
  EXPECT_EQ(body(server_.get("/api/admin/integrity"))["state"], "done");
  auto again = body(server_.get("/api/admin/integrity?run=1"));
  EXPECT_TRUE(again["state"] == "running" || again["state"] == "done");
}

}  // namespace
}  // namespace crmd
