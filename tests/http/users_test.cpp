// Users, tenant administration and impersonation end to end.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::body;
using test::crmd_server;
using test::expect_error;

const char* pw = "correct horse battery";



class users_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::temp_dir;
    server_ = new crmd_server(dir_->sub("data"));
    std::string out;
    ASSERT_TRUE(server_->start(&out)) << out;
    for (auto t : {R"({"id":"acme","name":"Acme"})", R"({"id":"beta","name":"Beta"})"})
      ASSERT_EQ(server_->post("/api/admin/tenants", t).status, 201);
    owner_a_ = make("owner@acme.test", "owner", "acme");
    make("owner@beta.test", "owner", "beta");
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->terminate(), 0);
    delete server_;
    delete dir_;
  }
  static std::string make(const std::string& email, const std::string& role, const std::string& tenant) {
    json b = {{"email", email}, {"password", pw}, {"role", role}};
    if (!tenant.empty()) b["tenant_id"] = tenant;
    auto r = server_->post("/api/admin/users", b.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return body(r)["user"].value("id", "");
  }
  static std::string token(const std::string& email) {
    auto r = server_->login(email, pw);
    EXPECT_EQ(r.status, 200) << r.body;
    return crmd_server::bearer(body(r).value("access_token", ""));
  }
  static test::http_result as(const std::string& auth, const std::string& method, const std::string& path,
                              const std::string& b = {}) {
    return test::http(method, server_->url(path), b, {auth, crmd_server::json()});
  }
  static crmd_server& s() { return *server_; }
  static test::temp_dir* dir_;
  static crmd_server* server_;
  static std::string owner_a_;
};
test::temp_dir* users_test::dir_ = nullptr;
crmd_server* users_test::server_ = nullptr;
std::string users_test::owner_a_;

TEST_F(users_test, owners_and_managers_create_lower_ranks_only) {
  auto owner = token("owner@acme.test");
  auto m = as(owner, "POST", "/api/businesses/acme/users",
              json{{"email", "mgr@acme.test"}, {"password", pw}, {"role", "manager"}}.dump());
  ASSERT_EQ(m.status, 201) << m.body;
  EXPECT_EQ(body(m)["user"]["role"], "manager");
  EXPECT_FALSE(body(m)["user"].contains("password_hash"));
  expect_error(as(owner, "POST", "/api/businesses/acme/users",
                  json{{"email", "o2@acme.test"}, {"password", pw}, {"role", "owner"}}.dump()),
               403, "forbidden");
  auto mgr = token("mgr@acme.test");
  EXPECT_EQ(as(mgr, "POST", "/api/businesses/acme/users",
               json{{"email", "ag1@acme.test"}, {"password", pw}, {"role", "agent"}}.dump())
                .status,
            201);
  expect_error(as(mgr, "POST", "/api/businesses/acme/users",
                  json{{"email", "m2@acme.test"}, {"password", pw}, {"role", "manager"}}.dump()),
               403, "forbidden");
  auto agent = token("ag1@acme.test");
  expect_error(as(agent, "GET", "/api/businesses/acme/users"), 403, "forbidden");
  expect_error(as(agent, "POST", "/api/businesses/acme/users",
                  json{{"email", "x@acme.test"}, {"password", pw}, {"role", "agent"}}.dump()),
               403, "forbidden");
  expect_error(as(owner, "POST", "/api/businesses/acme/users",
                  json{{"email", "MGR@acme.test"}, {"password", pw}, {"role", "agent"}}.dump()),
               409, "email_taken");
  expect_error(as(owner, "POST", "/api/businesses/acme/users",
                  json{{"email", "short@acme.test"}, {"password", "short"}, {"role", "agent"}}.dump()),
               400, "invalid_field");
  expect_error(as(owner, "POST", "/api/businesses/acme/users", json{{"email", "x@acme.test"}, {"role", "agent"}}.dump()),
               400, "invalid_field");
}

TEST_F(users_test, nobody_deletes_themselves_and_the_last_owner_stays) {
  auto owner = token("owner@acme.test");
  expect_error(as(owner, "DELETE", "/api/businesses/acme/users/" + owner_a_), 409, "cannot_delete_self");
  expect_error(s().del("/api/admin/users/" + owner_a_), 409, "last_owner");
  expect_error(as(crmd_server::auth(), "PATCH", "/api/businesses/acme/users/" + owner_a_, R"({"role":"manager"})"), 409,
               "last_owner");
  expect_error(as(owner, "PATCH", "/api/businesses/acme/users/" + owner_a_, R"({"role":"agent"})"), 409,
               "cannot_change_self");
}

TEST_F(users_test, deletion_is_soft_listed_only_on_request_and_attribution_stays) {
  auto owner = token("owner@acme.test");
  std::string id = make("temp@acme.test", "agent", "acme");
  auto temp = token("temp@acme.test");
  auto saved = as(temp, "GET", "/api/business/acme/prompts");
  EXPECT_EQ(saved.status, 200) << saved.body;
  ASSERT_EQ(as(owner, "DELETE", "/api/businesses/acme/users/" + id).status, 200);
  expect_error(as(temp, "GET", "/api/auth/me"), 401, "token_revoked");
  expect_error(s().login("temp@acme.test", pw), 401, "invalid_credentials");
  auto list = body(as(owner, "GET", "/api/businesses/acme/users?limit=200"));
  for (auto& u : list["results"]) EXPECT_NE(u["id"], id);
  auto all = body(as(owner, "GET", "/api/businesses/acme/users?include_deleted=true&limit=200"));
  bool seen = false;
  for (auto& u : all["results"]) seen = seen || (u["id"] == id && u["deleted"] == true);
  EXPECT_TRUE(seen) << all.dump();
  expect_error(as(owner, "GET", "/api/businesses/acme/users?include_deleted=maybe"), 400, "invalid_field");
  // The admin list spans tenants and filters by one.
  auto admin_list = body(s().get("/api/admin/users?tenant_id=beta"));
  ASSERT_EQ(admin_list["total"], 1);
  EXPECT_EQ(admin_list["results"][0]["email"], "owner@beta.test");
  // The e-mail is free again; the old id is not reused.
  EXPECT_NE(make("temp@acme.test", "agent", "acme"), id);
}

TEST_F(users_test, other_tenants_users_do_not_exist_for_an_owner) {
  auto owner_b = token("owner@beta.test");
  expect_error(as(owner_b, "GET", "/api/businesses/acme/users"), 404, "tenant_not_found");
  expect_error(as(owner_b, "DELETE", "/api/businesses/beta/users/" + owner_a_), 404, "user_not_found");
  expect_error(as(owner_b, "PATCH", "/api/businesses/beta/users/" + owner_a_, R"({"role":"agent"})"), 404,
               "user_not_found");
  expect_error(as(owner_b, "GET", "/api/admin/users"), 403, "forbidden");
}

TEST_F(users_test, a_suspended_tenants_users_get_403_until_it_is_reactivated) {
  std::string id = make("susp@beta.test", "manager", "beta");
  auto mgr = token("susp@beta.test");
  auto r = as(crmd_server::auth(), "PATCH", "/api/admin/tenants/beta", R"({"status":"suspended"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["tenant"]["status"], "suspended");
  expect_error(as(mgr, "GET", "/api/business/beta/prompts"), 403, "tenant_suspended");
  expect_error(s().login("susp@beta.test", pw), 403, "tenant_suspended");
  EXPECT_EQ(s().get("/api/business/beta/prompts").status, 200) << "a system admin still reaches it";
  ASSERT_EQ(as(crmd_server::auth(), "PATCH", "/api/admin/tenants/beta", R"({"status":"active"})").status, 200);
  EXPECT_EQ(as(mgr, "GET", "/api/business/beta/prompts").status, 200);
  auto view = body(s().get("/api/admin/tenants/beta"));
  EXPECT_EQ(view["tenant"]["status"], "active");
  expect_error(as(crmd_server::auth(), "PATCH", "/api/admin/tenants/beta", R"({"status":"gone"})"), 400, "invalid_field");
  expect_error(as(crmd_server::auth(), "PATCH", "/api/admin/tenants/beta", R"({})"), 400, "invalid_field");
}

TEST_F(users_test, a_disabled_module_answers_403_module_disabled) {
  auto owner = token("owner@acme.test");
  ASSERT_EQ(as(owner, "GET", "/api/business/acme/prompts").status, 200);
  auto off = as(crmd_server::auth(), "PATCH", "/api/admin/tenants/acme", R"({"modules":{"crm":false}})");
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(body(off)["tenant"]["modules"], json::array({"calls", "whatsapp"}));
  expect_error(as(owner, "GET", "/api/business/acme/prompts"), 403, "module_disabled");
  expect_error(as(owner, "POST", "/api/business/acme/prompts", R"({"title":"t","body":"b"})"), 403, "module_disabled");
  EXPECT_EQ(as(owner, "GET", "/api/businesses/acme/users").status, 200) << "user management is no module";
  EXPECT_EQ(body(as(owner, "GET", "/api/tenant"))["tenant"]["modules"], json::array({"calls", "whatsapp"}));
  ASSERT_EQ(as(crmd_server::auth(), "PATCH", "/api/admin/tenants/acme", R"({"modules":["crm","calls","whatsapp"]})").status,
            200);
  EXPECT_EQ(as(owner, "GET", "/api/business/acme/prompts").status, 200);
  expect_error(as(crmd_server::auth(), "PATCH", "/api/admin/tenants/acme", R"({"modules":{"crm":"yes"}})"), 400,
               "invalid_field");
  expect_error(as(crmd_server::auth(), "PATCH", "/api/admin/tenants/acme", R"({"modules":["sms"]})"), 400,
               "invalid_field");
}

TEST_F(users_test, a_system_admin_names_the_tenant_on_tenant_routes_others_use_their_own) {
  expect_error(s().get("/api/tenant"), 400, "tenant_required");
  EXPECT_EQ(body(s().get("/api/tenant?business_id=acme"))["tenant"]["id"], "acme");
  auto owner = token("owner@acme.test");
  EXPECT_EQ(body(as(owner, "GET", "/api/tenant"))["tenant"]["id"], "acme");
  expect_error(as(owner, "GET", "/api/tenant?business_id=beta"), 404, "tenant_not_found");
  EXPECT_EQ(body(as(owner, "GET", "/api/tenant?business_id=acme"))["tenant"]["id"], "acme");
}

TEST_F(users_test, impersonation_acts_as_the_user_and_records_both_identities) {
  std::string admin_id = make("admin2@crmd.test", "system_admin", "");
  auto admin = token("admin2@crmd.test");
  std::string mgr_id = make("imp@acme.test", "manager", "acme");
  auto r = as(admin, "POST", "/api/admin/impersonate", json{{"tenant_id", "acme"}, {"user_id", mgr_id}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["expires_in"], 300);
  auto imp = crmd_server::bearer(body(r)["access_token"]);
  auto me = body(as(imp, "GET", "/api/auth/me"));
  EXPECT_EQ(me["user"]["id"], mgr_id);
  EXPECT_EQ(me["impersonator"]["id"], admin_id);
  auto saved = as(imp, "POST", "/api/business/acme/prompts", R"({"title":"By proxy","body":"x"})");
  ASSERT_EQ(saved.status, 201) << saved.body;
  expect_error(as(imp, "GET", "/api/admin/users"), 403, "forbidden");  // a manager's rights only
  auto ev = test::run({CRMD_BINARY, "events", "--data-dir", dir_->sub("data")}, dir_->path());
  bool found = false;
  std::istringstream lines(ev.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_object() && j["type"] == "prompt_saved" && line.find("By proxy") != std::string::npos) {
      found = true;
      EXPECT_EQ(j["causer"], mgr_id) << line;
      EXPECT_EQ(j["impersonator"], admin_id) << line;
    }
  }
  EXPECT_TRUE(found) << ev.out.substr(0, 2000);
  expect_error(as(admin, "POST", "/api/admin/impersonate", json{{"tenant_id", "beta"}, {"user_id", mgr_id}}.dump()), 404,
               "user_not_found");
  expect_error(as(token("owner@acme.test"), "POST", "/api/admin/impersonate",
                  json{{"tenant_id", "acme"}, {"user_id", mgr_id}}.dump()),
               403, "forbidden");
  // Deleting the impersonating admin ends the impersonation at once.
  ASSERT_EQ(s().del("/api/admin/users/" + admin_id).status, 200);
  expect_error(as(imp, "GET", "/api/auth/me"), 401, "token_revoked");
}

TEST_F(users_test, owners_change_their_tenants_settings_managers_do_not) {
  std::string id = make("mgr2@acme.test", "manager", "acme");
  expect_error(as(token("mgr2@acme.test"), "PATCH", "/api/tenant", R"({"name":"Renamed by a manager"})"), 403,
               "forbidden");
  auto r = as(token("owner@acme.test"), "PATCH", "/api/tenant", R"({"name":"Acme \u05d1\u05e2\"\u05de"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["tenant"]["name"], "Acme \xd7\x91\xd7\xa2\"\xd7\x9e");
  // Another principal reads it: it names the position it needs.
  auto pos = std::to_string(body(r)["position"].get<uint64_t>());
  EXPECT_EQ(body(s().get("/api/admin/tenants/acme?min_position=" + pos))["tenant"]["name"],
            "Acme \xd7\x91\xd7\xa2\"\xd7\x9e");
  expect_error(as(token("owner@acme.test"), "PATCH", "/api/tenant", R"({"name":""})"), 400, "invalid_name");
}

TEST_F(users_test, a_deleted_tenant_is_gone_for_its_users_and_keeps_its_id) {
  ASSERT_EQ(s().post("/api/admin/tenants", R"({"id":"gamma","name":"Gamma"})").status, 201);
  make("own@gamma.test", "owner", "gamma");
  auto owner = token("own@gamma.test");
  ASSERT_EQ(s().del("/api/admin/tenants/gamma").status, 200);
  expect_error(as(owner, "GET", "/api/auth/me"), 403, "tenant_deleted");
  expect_error(s().login("own@gamma.test", pw), 403, "tenant_deleted");
  expect_error(s().post("/api/admin/tenants", R"({"id":"gamma","name":"Again"})"), 409, "tenant_exists");
  EXPECT_EQ(body(s().get("/api/admin/tenants/gamma"))["tenant"]["status"], "deleted");
}

}  // namespace
}  // namespace crmd
