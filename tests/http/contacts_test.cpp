// Leads, customers and tenant settings end to end on the real crmd serve.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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
const std::string dana = "\xd7\x93\xd7\xa0\xd7\x94 \xd7\x9b\xd7\x94\xd7\x9f";  // "Dana Cohen" in Hebrew



class contacts_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::temp_dir;
    server_ = new crmd_server(dir_->sub("data"));
    ASSERT_TRUE(server_->start());
    ASSERT_EQ(server_->post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
    for (auto [email, role] : {std::pair{"o@acme.test", "owner"}, std::pair{"m@acme.test", "manager"},
                               std::pair{"a@acme.test", "agent"}})
      ASSERT_EQ(server_->post("/api/admin/users", json{{"email", email}, {"password", pw}, {"role", role},
                                                      {"tenant_id", "acme"}}.dump()).status, 201);
    owner_ = login("o@acme.test");
    manager_ = login("m@acme.test");
    agent_ = login("a@acme.test");
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->terminate(), 0);
    delete server_;
    delete dir_;
  }
  static std::string login(const std::string& email) {
    return crmd_server::bearer(body(server_->login(email, pw))["access_token"]);
  }
  static test::http_result as(const std::string& who, const std::string& method, const std::string& path,
                              const std::string& b = {}) {
    return test::http(method, server_->url(path), b, {who, crmd_server::json()});
  }
  static test::temp_dir* dir_;
  static crmd_server* server_;
  static std::string owner_, manager_, agent_;
};
test::temp_dir* contacts_test::dir_ = nullptr;
crmd_server* contacts_test::server_ = nullptr;
std::string contacts_test::owner_, contacts_test::manager_, contacts_test::agent_;

TEST_F(contacts_test, an_agent_creates_a_lead_and_reads_it_back_normalised_and_byte_exact) {
  auto r = as(agent_, "POST", "/api/leads", json{{"name", dana}, {"phone", "050-123-4567"}, {"email", "dana@x.test"}}.dump());
  ASSERT_EQ(r.status, 201) << r.body;
  std::string id = body(r)["id"];
  auto got = as(agent_, "GET", "/api/leads/" + id);
  ASSERT_EQ(got.status, 200) << got.body;
  auto lead = body(got)["lead"];
  EXPECT_EQ(lead["name"], dana);
  EXPECT_EQ(lead["phone"], "+972501234567");
  EXPECT_EQ(lead["status"], "new");
  EXPECT_EQ(lead["kind"], "lead");
  expect_error(as(agent_, "POST", "/api/leads", R"({"name":"Again","phone":"+972 50 123 4567"})"), 409, "phone_taken");
  expect_error(as(agent_, "POST", "/api/leads", R"({"name":"Bad","phone":"call me"})"), 400, "invalid_field");
  expect_error(as(agent_, "POST", "/api/leads", R"({"name":7})"), 400, "invalid_field");
  expect_error(as(agent_, "POST", "/api/leads", R"({})"), 400, "invalid_field");
  expect_error(as(agent_, "GET", "/api/leads/L999"), 404, "contact_not_found");
}

TEST_F(contacts_test, lists_are_newest_first_and_filter_by_q_status_and_sort) {
  for (auto [name, phone] : {std::pair{"Avi Levi", "052-200-0001"}, std::pair{"Bina Katz", "052-200-0002"},
                             std::pair{"Chen Mor", "052-200-0003"}})
    ASSERT_EQ(as(agent_, "POST", "/api/leads", json{{"name", name}, {"phone", phone}}.dump()).status, 201);
  auto all = body(as(agent_, "GET", "/api/leads?limit=200"));
  ASSERT_GE(all["total"].get<int>(), 3);
  EXPECT_EQ(all["results"][0]["name"], "Chen Mor") << "newest first";
  auto q = body(as(agent_, "GET", "/api/leads?q=BINA"));
  ASSERT_EQ(q["total"], 1);
  EXPECT_EQ(q["results"][0]["name"], "Bina Katz");
  auto by_local_phone = body(as(agent_, "GET", "/api/leads?q=0522000003"));
  ASSERT_EQ(by_local_phone["total"], 1) << by_local_phone.dump();
  EXPECT_EQ(by_local_phone["results"][0]["name"], "Chen Mor");
  auto all_sorted = body(as(agent_, "GET", "/api/leads?sort=name&limit=200"));
  EXPECT_EQ(all_sorted["results"][0]["name"], "Avi Levi");
  std::string id = q["results"][0]["id"];
  ASSERT_EQ(as(agent_, "PATCH", "/api/leads/" + id, R"({"status":"qualified"})").status, 200);
  auto qualified = body(as(agent_, "GET", "/api/leads?status=qualified"));
  ASSERT_EQ(qualified["total"], 1);
  EXPECT_EQ(qualified["results"][0]["id"], id);
  expect_error(as(agent_, "GET", "/api/leads?status=maybe"), 400, "invalid_field");
  expect_error(as(agent_, "GET", "/api/leads?sort=phone"), 400, "invalid_field");
  expect_error(as(agent_, "PATCH", "/api/leads/" + id, R"({"status":"maybe"})"), 400, "invalid_field");
}

TEST_F(contacts_test, deep_pages_follow_new_leads_and_pages_past_the_end_are_empty_whatever_their_number) {
  for (int i = 0; i < 6; ++i)
    ASSERT_EQ(as(agent_, "POST", "/api/leads", json{{"name", "Paged " + std::to_string(i)}}.dump()).status, 201);
  auto all = body(as(agent_, "GET", "/api/leads?limit=200"));
  uint64_t total = all["total"];
  auto page2 = body(as(agent_, "GET", "/api/leads?limit=2&page=2"));
  EXPECT_EQ(page2["results"][0]["id"], all["results"][2]["id"]);
  EXPECT_EQ(body(as(agent_, "GET", "/api/leads?limit=2&page=2"))["results"], page2["results"]) << "read again";
  ASSERT_EQ(as(agent_, "POST", "/api/leads", json{{"name", "Newest"}}.dump()).status, 201);
  auto shifted = body(as(agent_, "GET", "/api/leads?limit=2&page=2"));
  EXPECT_EQ(shifted["results"][0]["id"], all["results"][1]["id"]) << "a new lead moves every page by one";
  for (std::string page : {std::to_string(total + 5), std::string("1000000000000000001"), std::string("9223372036854775809")}) {
    auto past = body(as(agent_, "GET", "/api/leads?limit=200&page=" + page));
    EXPECT_TRUE(past["results"].empty()) << page;
    EXPECT_EQ(past["total"], total + 1) << page;
  }
  expect_error(as(agent_, "GET", "/api/leads?page=18446744073709551616"), 400, "invalid_field");
}

TEST_F(contacts_test, converting_moves_a_lead_to_customers_with_its_id) {
  auto r = as(agent_, "POST", "/api/leads", R"({"name":"Dov Convert","phone":"053-300-0001"})");
  std::string id = body(r)["id"];
  ASSERT_EQ(as(agent_, "POST", "/api/leads/" + id + "/convert").status, 200);
  expect_error(as(agent_, "POST", "/api/leads/" + id + "/convert"), 409, "already_customer");
  auto c = as(agent_, "GET", "/api/crm/customers/" + id);
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(body(c)["customer"]["kind"], "customer");
  EXPECT_EQ(body(c)["customer"]["name"], "Dov Convert");
  auto listed = body(as(agent_, "GET", "/api/leads?limit=200"));  // kept alive for the loop
  for (auto& l : listed["results"]) EXPECT_NE(l["id"], id);
  auto direct = as(agent_, "POST", "/api/crm/customers", R"({"name":"Eti Direct","email":"eti@x.test"})");
  ASSERT_EQ(direct.status, 201) << direct.body;
  auto customers = body(as(agent_, "GET", "/api/crm/customers?q=eti"));
  ASSERT_EQ(customers["total"], 1);
  std::string lead = body(as(agent_, "POST", "/api/leads", R"({"name":"Still a lead"})"))["id"];
  expect_error(as(agent_, "PATCH", "/api/crm/customers/" + lead, R"({"name":"x"})"), 404, "contact_not_found");
}

TEST_F(contacts_test, deleting_needs_a_manager_and_is_soft) {
  std::string id = body(as(agent_, "POST", "/api/leads", R"({"name":"Gone Soon","phone":"054-400-0001"})"))["id"];
  expect_error(as(agent_, "DELETE", "/api/leads/" + id), 403, "forbidden");
  ASSERT_EQ(as(manager_, "DELETE", "/api/leads/" + id).status, 200);
  expect_error(as(manager_, "GET", "/api/leads/" + id), 404, "contact_not_found");
  expect_error(as(manager_, "DELETE", "/api/leads/" + id), 404, "contact_not_found");
  EXPECT_EQ(as(agent_, "POST", "/api/leads", R"({"name":"Reuse","phone":"054-400-0001"})").status, 201)
      << "the number is free again";
}

TEST_F(contacts_test, csv_exports_start_with_a_bom_and_neutralise_formulas) {
  ASSERT_EQ(as(agent_, "POST", "/api/leads", json{{"name", "=HYPERLINK(\"x\")"}, {"phone", "055-500-0001"}}.dump()).status,
            201);
  ASSERT_EQ(as(agent_, "POST", "/api/leads", json{{"name", "CSV " + dana}}.dump()).status, 201);
  auto csv = as(agent_, "GET", "/api/leads.csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.headers["content-type"], "text/csv; charset=utf-8");
  EXPECT_EQ(csv.body.rfind("\xEF\xBB\xBFid,name,phone,email,status,source,created_at\r\n", 0), 0u);
  EXPECT_NE(csv.body.find("CSV " + dana), std::string::npos) << "Hebrew as UTF-8";
  EXPECT_NE(csv.body.find("\"'=HYPERLINK(\"\"x\"\")\""), std::string::npos) << csv.body;
  EXPECT_EQ(as(agent_, "GET", "/api/crm/customers.csv").status, 200);
}

TEST_F(contacts_test, settings_belong_to_owners_and_the_region_reads_local_numbers) {
  expect_error(as(agent_, "GET", "/api/business/acme/settings"), 403, "forbidden");
  expect_error(as(manager_, "PATCH", "/api/business/acme/settings", R"({"language":"en"})"), 403, "forbidden");
  auto def = body(as(owner_, "GET", "/api/business/acme/settings"));
  EXPECT_EQ(def["settings"]["default_region"], "IL");
  EXPECT_EQ(def["settings"]["time_zone"], "Asia/Jerusalem");
  expect_error(as(owner_, "PATCH", "/api/business/acme/settings", R"({"default_region":"ZZ"})"), 400, "invalid_field");
  ASSERT_EQ(as(owner_, "PATCH", "/api/business/acme/settings", R"({"default_region":"US","language":"en"})").status, 200);
  EXPECT_EQ(body(as(owner_, "GET", "/api/business/acme/settings"))["settings"]["default_region"], "US");
  std::string id = body(as(owner_, "POST", "/api/leads", R"({"name":"Sam","phone":"(415) 555-2671"})"))["id"];
  EXPECT_EQ(body(as(owner_, "GET", "/api/leads/" + id))["lead"]["phone"], "+14155552671");
  ASSERT_EQ(as(owner_, "PATCH", "/api/business/acme/settings", R"({"default_region":"IL"})").status, 200);
}

}  // namespace
}  // namespace crmd
