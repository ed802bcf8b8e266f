// The WhatsApp Cloud API as a tenant's provider, end to end on the real crmd
// serve against a fake Graph API on 127.0.0.1: the provider chosen in the
// settings, the Graph token kept sealed (never in the log, never returned
// whole, surviving a crash), sending through {base}/{phone_number_id}/messages,
// and Meta's status webhooks moving the sent message forward.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>

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

const std::string token = "EAAGm0PX4ZCpsBAMZCcloudtoken7Qx9";
const std::string app_secret = "meta-app-secret";
const std::string number_id = "106540352242922";

class whatsapp_cloud_test : public ::testing::Test {
 protected:
  void SetUp() override {
    graph_ = std::make_unique<fake_http_server>([](const fake_request& r) {
      if (r.body.find("expired") != std::string::npos)
        return fake_response{401, R"({"error":{"message":"Error validating access token","type":"OAuthException","code":190}})"};
      return fake_response{200, R"({"messaging_product":"whatsapp","messages":[{"id":"wamid.OUT)" +
                                    std::to_string(++sent_) + R"("}]})"};
    });
    server_ = std::make_unique<crmd_server>(dir_.sub("data"), env());
    ASSERT_TRUE(server_->start());
    ASSERT_EQ(server_->post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
    ASSERT_EQ(server_->put("/api/admin/tenants/acme/whatsapp_cloud", R"({"phone_number_ids":[")" + number_id + R"("]})").status,
              200);
  }
  std::vector<std::pair<std::string, std::string>> env() {
    return {{"WHATSAPP_GRAPH_BASE", graph_->base_url() + "/v19.0"}, {"WHATSAPP_APP_SECRET", app_secret}};
  }
  test::http_result api(const std::string& method, const std::string& path, const std::string& payload = "{}",
                        const std::string& tenant = "acme") {
    std::string sep = path.find('?') == std::string::npos ? "?" : "&";
    auto r = test::http(method, server_->url(path + sep + "business_id=" + tenant + "&min_position=" + std::to_string(seen_)),
                        payload, {crmd_server::auth(), crmd_server::json()});
    note(r);
    return r;
  }
  void note(const test::http_result& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("position") && j["position"].is_number_unsigned())
      seen_ = std::max<uint64_t>(seen_, j["position"].get<uint64_t>());
  }
  test::http_result settings(const json& patch) { return api("PATCH", "/api/business/acme/settings", patch.dump()); }
  json current_settings() { return body(api("GET", "/api/business/acme/settings"))["settings"]; }
  // Meta's status webhook for one of our messages.
  test::http_result meta_status(const std::string& id, const std::string& status) {
    std::string raw = R"({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{)"
                      R"("messaging_product":"whatsapp","metadata":{"display_phone_number":"97233763805","phone_number_id":")" +
                      number_id + R"("},"statuses":[{"id":")" + id + R"(","status":")" + status +
                      R"(","timestamp":"1764475300","recipient_id":"972501234567"}]}}]}]})";
    auto r = test::http("POST", server_->url("/webhook/whatsapp/cloud"), raw,
                        {"Content-Type: application/json",
                         "X-Hub-Signature-256: " + connectors::wa::meta_signature_header(app_secret, raw)});
    note(r);
    return r;
  }
  json messages() { return body(api("GET", "/api/wa/messages")); }
  // Every byte crmd stored (RocksDB files, WAL included) and its event dump.
  std::string everything_stored() {
    std::string all;
    for (auto& f : std::filesystem::recursive_directory_iterator(dir_.sub("data")))
      if (f.is_regular_file()) {
        std::ifstream in(f.path(), std::ios::binary);
        all.append(std::istreambuf_iterator<char>(in), {});
      }
    all += test::run({CRMD_BINARY, "events", "--data-dir", dir_.sub("data")}, dir_.path()).out;
    return all;
  }

  test::temp_dir dir_;
  std::unique_ptr<fake_http_server> graph_;
  std::unique_ptr<crmd_server> server_;
  uint64_t seen_ = 0;
  static inline std::atomic<int> sent_{0};
};

TEST_F(whatsapp_cloud_test, a_tenant_on_the_cloud_api_sends_through_graph_and_statuses_move_forward) {
  auto s = current_settings();
  EXPECT_EQ(s["whatsapp_provider"], "baileys") << "the default";
  EXPECT_EQ(s["whatsapp_token"], (json{{"set", false}, {"last4", nullptr}}));

  ASSERT_EQ(settings({{"whatsapp_provider", "cloud"}}).status, 200);
  // Without a token the Cloud API cannot send: a clear 409, nothing sent.
  test::expect_error(api("POST", "/api/wa/send", R"({"to":"050-123-4567","text":"hi"})"), 409, "whatsapp_not_connected");
  EXPECT_TRUE(graph_->requests().empty());

  auto saved = settings({{"whatsapp_token", token}});
  ASSERT_EQ(saved.status, 200) << saved.body;
  EXPECT_EQ(saved.body.find(token), std::string::npos);
  s = current_settings();
  EXPECT_EQ(s["whatsapp_provider"], "cloud");
  EXPECT_EQ(s["whatsapp_token"], (json{{"set", true}, {"last4", "7Qx9"}})) << "never whole";

  test::expect_error(api("POST", "/api/wa/send", R"({"to":"050-123-4567","text":"x","session":"sales"})"), 400,
                     "invalid_field");  // one number on the Cloud API: no bridge sessions
  EXPECT_TRUE(graph_->requests().empty());
  auto sent = api("POST", "/api/wa/send", R"({"to":"050-123-4567","text":"שלום מהענן"})");
  ASSERT_EQ(sent.status, 202) << sent.body;
  std::string id = body(sent)["message_id"];
  EXPECT_EQ(id.rfind("wamid.OUT", 0), 0u) << "recorded under Meta's id";
  EXPECT_EQ(body(sent)["status"], "sent");
  auto reqs = graph_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/v19.0/" + number_id + "/messages");
  EXPECT_EQ(reqs[0].header("authorization"), "Bearer " + token);
  auto out = json::parse(reqs[0].body);
  EXPECT_EQ(out["to"], "972501234567");
  EXPECT_EQ(out["text"]["body"], "שלום מהענן");

  // Meta reports delivered, then read, then a late "sent": only forward.
  ASSERT_EQ(meta_status(id, "delivered").status, 200);
  ASSERT_EQ(meta_status(id, "read").status, 200);
  ASSERT_EQ(meta_status(id, "sent").status, 200);
  auto list = messages();
  ASSERT_EQ(list["total"], 1);
  EXPECT_EQ(list["results"][0]["id"], id);
  EXPECT_EQ(list["results"][0]["session"], "cloud");
  EXPECT_EQ(list["results"][0]["status"], "read");
  EXPECT_EQ(list["results"][0]["direction"], "out");

  // Meta refusing (an expired token) is a visible failed message, not a 5xx.
  auto refused = api("POST", "/api/wa/send", R"({"to":"050-123-4567","text":"token expired?"})");
  ASSERT_EQ(refused.status, 202) << refused.body;
  EXPECT_EQ(body(refused)["status"], "failed");
  EXPECT_EQ(refused.body.find(token), std::string::npos);

  // The token is nowhere in what crmd stored or logged in clear.
  EXPECT_EQ(test::count_events(dir_, "whatsapp_token_changed"), 1u);
  EXPECT_EQ(everything_stored().find(token), std::string::npos);
}

TEST_F(whatsapp_cloud_test, the_token_survives_a_crash_and_can_be_removed) {
  ASSERT_EQ(settings({{"whatsapp_provider", "cloud"}, {"whatsapp_token", token}}).status, 200);
  server_->kill_now();  // SIGKILL right after the 200: it must already be durable
  server_ = std::make_unique<crmd_server>(dir_.sub("data"), env());
  ASSERT_TRUE(server_->start());
  seen_ = 0;
  auto s = current_settings();
  EXPECT_EQ(s["whatsapp_provider"], "cloud");
  EXPECT_EQ(s["whatsapp_token"]["set"], true);
  EXPECT_EQ(api("POST", "/api/wa/send", R"({"to":"050-123-4567","text":"after the crash"})").status, 202);
  ASSERT_EQ(graph_->requests().size(), 1u);
  EXPECT_EQ(graph_->requests()[0].header("authorization"), "Bearer " + token);

  ASSERT_EQ(settings({{"whatsapp_token", nullptr}}).status, 200);
  EXPECT_EQ(current_settings()["whatsapp_token"]["set"], false);
  test::expect_error(api("POST", "/api/wa/send", R"({"to":"050-123-4567","text":"hi"})"), 409, "whatsapp_not_connected");
  EXPECT_EQ(test::count_events(dir_, "whatsapp_token_changed"), 2u);
}

TEST_F(whatsapp_cloud_test, bad_settings_are_refused_and_another_tenant_cannot_use_the_token) {
  test::expect_error(settings({{"whatsapp_provider", "telegram"}}), 400, "invalid_field");
  test::expect_error(settings({{"whatsapp_provider", 7}}), 400, "invalid_field");
  test::expect_error(settings({{"whatsapp_token", 12345}}), 400, "invalid_field");
  test::expect_error(settings({{"whatsapp_token", "short"}}), 400, "invalid_field");
  test::expect_error(settings({{"whatsapp_token", token + "\r\nX-Evil: 1"}}), 400, "invalid_field");
  test::expect_error(settings({{"whatsapp_token", token + " spaced"}}), 400, "invalid_field");
  EXPECT_EQ(current_settings()["whatsapp_provider"], "baileys") << "nothing changed";
  EXPECT_EQ(test::count_events(dir_, "whatsapp_token_changed"), 0u);

  ASSERT_EQ(settings({{"whatsapp_provider", "cloud"}, {"whatsapp_token", token}}).status, 200);
  // Another business on the Cloud API without its own number is refused,
  // never sent with acme's number or token.
  ASSERT_EQ(server_->post("/api/admin/tenants", R"({"id":"beta","name":"Beta"})").status, 201);
  ASSERT_EQ(api("PATCH", "/api/business/beta/settings", R"({"whatsapp_provider":"cloud"})", "beta").status, 200);
  test::expect_error(api("POST", "/api/wa/send", R"({"to":"050-123-4567","text":"hi"})", "beta"), 409,
                     "whatsapp_not_connected");
  ASSERT_EQ(server_->put("/api/admin/tenants/beta/whatsapp_cloud", R"({"phone_number_ids":["200000000000001"]})").status, 200);
  test::expect_error(api("POST", "/api/wa/send", R"({"to":"050-123-4567","text":"hi"})", "beta"), 409,
                     "whatsapp_not_connected");
  EXPECT_TRUE(graph_->requests().empty());
  EXPECT_EQ(body(api("GET", "/api/business/beta/settings", "{}", "beta"))["settings"]["whatsapp_token"]["set"], false);
}

}  // namespace
}  // namespace crmd
