// The HTTP API end to end: the real crmd serve, real HTTP over loopback.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/crmd_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::crmd_server;

class api_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::temp_dir;
    server_ = new crmd_server(dir_->sub("data"), {{"CRMD_MAX_BODY_BYTES", "4096"}});
    std::string out;
    ASSERT_TRUE(server_->start(&out)) << out;
    auto r = server_->post("/api/admin/tenants", R"({"id":"business_1","name":"Acme","aliases":["1"]})");
    ASSERT_EQ(r.status, 201) << r.body;
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->terminate(), 0);
    delete server_;
    delete dir_;
  }
  static json body(const test::http_result& r) { return json::parse(r.body, nullptr, false); }
  // Every /api error is JSON of one shape.
  static void expect_error(test::http_result r, long status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/json; charset=utf-8");
    auto j = body(r);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_EQ(j["ok"], false);
    EXPECT_EQ(j["error"], code) << r.body;
    EXPECT_TRUE(j["message"].is_string());
    EXPECT_FALSE(r.headers["x-request-id"].empty());
  }
  static crmd_server& s() { return *server_; }
  static test::temp_dir* dir_;
  static crmd_server* server_;
};
test::temp_dir* api_test::dir_ = nullptr;
crmd_server* api_test::server_ = nullptr;

TEST_F(api_test, health_answers_on_both_paths_without_a_token) {
  for (auto path : {"/health", "/api/health"}) {
    auto r = test::http("GET", s().url(path));
    ASSERT_EQ(r.status, 200) << path;
    auto j = body(r);
    EXPECT_EQ(j["ok"], true);
    EXPECT_TRUE(j["revision"].is_string());
    EXPECT_TRUE(j["uptime_s"].is_number());
    EXPECT_TRUE(j["log_position"].is_number());
    EXPECT_TRUE(j["projections"]["prompts"]["lag"].is_number());
    EXPECT_FALSE(r.headers["x-revision"].empty());
  }
}

TEST_F(api_test, request_ids_are_echoed_or_made) {
  auto echoed = test::http("GET", s().url("/health"), {}, {"X-Request-Id: abc-123"});
  EXPECT_EQ(echoed.headers["x-request-id"], "abc-123");
  auto made = test::http("GET", s().url("/health"));
  EXPECT_EQ(made.headers["x-request-id"].size(), 16u);
}

TEST_F(api_test, a_hostile_request_id_is_replaced_not_echoed) {
  auto r = test::http("GET", s().url("/health"), {}, {"X-Request-Id: <script>alert(1)</script>"});
  EXPECT_EQ(r.headers["x-request-id"].size(), 16u);
  auto long_id = test::http("GET", s().url("/health"), {}, {"X-Request-Id: " + std::string(200, 'a')});
  EXPECT_EQ(long_id.headers["x-request-id"].size(), 16u);
}

TEST_F(api_test, malformed_query_parameters_are_named) {
  expect_error(s().get("/api/business/1/prompts/last?min_position=abc"), 400, "invalid_field");
  expect_error(s().get("/api/business/1/prompts?page=-1"), 400, "invalid_field");
  expect_error(s().get("/api/business/1/prompts?limit=99999999999999999999999"), 400, "invalid_field");
  auto encoded = s().get("/api/admin/tenants?limit=%32");  // "2", percent-encoded
  EXPECT_EQ(encoded.status, 200) << encoded.body;
  expect_error(s().get("/api/business/%2e%2e/prompts"), 404, "tenant_not_found");
}

TEST_F(api_test, api_calls_need_the_operator_token) {
  expect_error(test::http("GET", s().url("/api/admin/tenants")), 401, "unauthorized");
  expect_error(test::http("GET", s().url("/api/admin/tenants"), {}, {"Authorization: Bearer wrong"}), 401,
               "invalid_token");
  expect_error(test::http("GET", s().url("/api/admin/tenants"), {}, {"Authorization: Basic eDp5"}), 401,
               "unauthorized");
}

TEST_F(api_test, unknown_routes_and_methods_answer_json) {
  expect_error(s().get("/api/nothing/here"), 404, "not_found");
  auto r = test::http("PATCH", s().url("/api/business/1/prompts"), "{}", {crmd_server::auth(), crmd_server::json()});
  expect_error(r, 405, "method_not_allowed");
  EXPECT_EQ(r.headers["allow"], "POST, GET");
}

TEST_F(api_test, bodies_are_checked_before_anything_happens) {
  expect_error(s().post("/api/business/1/prompts", std::string(5000, ' ') + "{}"), 413, "payload_too_large");
  expect_error(s().post("/api/business/1/prompts", R"({"title":"t","body":"b"})", {crmd_server::auth(), "Content-Type: text/plain"}),
               415, "unsupported_media_type");
  expect_error(s().post("/api/business/1/prompts", R"({"title":"t",)"), 400, "invalid_json");
  expect_error(s().post("/api/business/1/prompts", R"(["not an object"])"), 400, "invalid_json");
  auto missing = s().post("/api/business/1/prompts", R"({"title":"t"})");
  expect_error(missing, 400, "invalid_field");
  EXPECT_NE(body(missing)["message"].get<std::string>().find("'body'"), std::string::npos);
  auto mistyped = s().post("/api/business/1/prompts", R"({"title":7,"body":"b"})");
  expect_error(mistyped, 400, "invalid_field");
  EXPECT_NE(body(mistyped)["message"].get<std::string>().find("'title'"), std::string::npos);
  expect_error(s().post("/api/business/1/prompts", "{\"title\":\"t\",\"body\":\"\xff\xfe\"}"), 400, "invalid_json");
  expect_error(s().post("/api/business/1/prompts", R"({"title":"t","body":"b","kind":"poem"})"), 400, "invalid_field");
}

TEST_F(api_test, tenants_are_created_once_with_canonical_ids) {
  auto made = s().post("/api/admin/tenants", R"({"id":"gamma","name":"Gamma","aliases":["g1"]})");
  ASSERT_EQ(made.status, 201) << made.body;
  auto j = body(made);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["tenant"]["id"], "gamma");
  EXPECT_GT(j["position"].get<uint64_t>(), 0u);
  expect_error(s().post("/api/admin/tenants", R"({"id":"gamma","name":"Again"})"), 409, "tenant_exists");
  expect_error(s().post("/api/admin/tenants", R"({"id":"delta","name":"D","aliases":["1"]})"), 409, "alias_taken");
  expect_error(s().post("/api/admin/tenants", R"({"id":"Bad Id","name":"x"})"), 400, "invalid_tenant_id");
  expect_error(s().post("/api/admin/tenants", R"({"id":"admin","name":"x"})"), 400, "reserved_tenant_id");
  expect_error(s().post("/api/admin/tenants", R"({"name":"x"})"), 400, "invalid_field");
  auto by_alias = s().get("/api/admin/tenants/g1");
  ASSERT_EQ(by_alias.status, 200) << by_alias.body;
  EXPECT_EQ(body(by_alias)["tenant"]["id"], "gamma");  // answers carry the canonical id
  expect_error(s().get("/api/admin/tenants/nobody"), 404, "tenant_not_found");
}

TEST_F(api_test, tenant_lists_are_paginated) {
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(s().post("/api/admin/tenants", "{\"id\":\"page" + std::to_string(i) + "\",\"name\":\"P\"}").status, 201);
  auto p = body(s().get("/api/admin/tenants?page=2&limit=2"));
  EXPECT_EQ(p["ok"], true);
  EXPECT_EQ(p["page"], 2);
  EXPECT_EQ(p["results"].size(), 2u);
  uint64_t total = p["total"];
  EXPECT_GE(total, 6u);
  EXPECT_EQ(p["pages"], (total + 1) / 2);
  expect_error(s().get("/api/admin/tenants?limit=500"), 400, "invalid_field");
  expect_error(s().get("/api/admin/tenants?page=0"), 400, "invalid_field");
}

TEST_F(api_test, prompts_round_trip_hebrew_and_emoji_byte_for_byte) {
  std::string title = "\xd7\xa1\xd7\x99\xd7\x9b\xd7\x95\xd7\x9d \xd7\xa9\xd7\x99\xd7\x97\xd7\x94";
  std::string text = "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xf0\x9f\x91\x8b \xe2\x80\x8f\"quoted\"\n\tline";
  json req = {{"title", title}, {"body", text}};
  auto made = s().post("/api/business/1/prompts", req.dump());
  ASSERT_EQ(made.status, 201) << made.body;
  std::string id = body(made)["id"];
  EXPECT_EQ(body(made)["version"], 1);
  auto got = body(s().get("/api/business/business_1/prompts/" + id));
  EXPECT_EQ(got["prompt"]["title"].get<std::string>(), title);
  EXPECT_EQ(got["prompt"]["body"].get<std::string>(), text);
  EXPECT_EQ(got["prompt"]["kind"], "general");  // the old client sends no kind
}

TEST_F(api_test, prompts_have_versions_and_soft_deletes) {
  auto made = s().post("/api/business/1/prompts", R"({"title":"Summary","body":"v1","kind":"call_summary"})");
  ASSERT_EQ(made.status, 201);
  std::string id = body(made)["id"];
  auto updated = s().put("/api/business/1/prompts/" + id, R"({"body":"v2"})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(body(updated)["version"], 2);
  auto latest = body(s().get("/api/business/1/prompts/" + id));
  EXPECT_EQ(latest["prompt"]["body"], "v2");
  EXPECT_EQ(latest["prompt"]["title"], "Summary");
  auto versions = body(s().get("/api/business/1/prompts/" + id + "/versions"));
  ASSERT_EQ(versions["results"].size(), 2u);
  EXPECT_EQ(versions["results"][0]["body"], "v1");
  auto list = body(s().get("/api/business/1/prompts?limit=200"));
  EXPECT_EQ(list["ok"], true);
  EXPECT_GE(list["total"].get<int>(), 1);

  ASSERT_EQ(s().del("/api/business/1/prompts/" + id).status, 200);
  expect_error(s().get("/api/business/1/prompts/" + id), 404, "prompt_not_found");
  expect_error(s().del("/api/business/1/prompts/" + id), 404, "prompt_not_found");
  expect_error(s().put("/api/business/1/prompts/" + id, R"({"body":"v3"})"), 404, "prompt_not_found");
  EXPECT_EQ(body(s().get("/api/business/1/prompts/" + id + "/versions"))["results"].size(), 2u);
  expect_error(s().get("/api/business/nobody/prompts"), 404, "tenant_not_found");
}

TEST_F(api_test, a_save_is_visible_to_the_very_next_plain_read) {
  // The old client saves, then lists, with nothing in between.
  for (int i = 0; i < 40; ++i) {
    std::string text = "save " + std::to_string(i);
    auto made = s().post("/api/business/1/prompts", json{{"title", "t"}, {"body", text}}.dump());
    ASSERT_EQ(made.status, 201) << made.body;
    auto last = body(s().get("/api/business/1/prompts/last"));
    ASSERT_EQ(last["prompt"]["body"], text) << "iteration " << i;
  }
  auto future = s().get("/api/business/1/prompts/last?min_position=999999999");
  expect_error(future, 503, "consistency_timeout");
}

}  // namespace
}  // namespace crmd
