// Identity end to end on the real crmd serve: login, tokens, browser
// sessions, refresh rotation, logout, bootstrap, CORS and rate limits.
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "identity/base64url.hpp"
#include "identity/jwt.hpp"
#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::body;
using test::crmd_server;
using test::expect_error;

const char* admin_email = "root@crmd.test";
const char* pw = "correct horse battery";



class auth_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::temp_dir;
    server_ = new crmd_server(dir_->sub("data"), {{"CRMD_BOOTSTRAP_ADMIN_EMAIL", admin_email},
                                                  {"CRMD_BOOTSTRAP_ADMIN_PASSWORD", pw},
                                                  {"CORS_ORIGINS", "https://app.crmd.test"}});
    std::string out;
    ASSERT_TRUE(server_->start(&out)) << out;
    EXPECT_NE(out.find("created the first system admin"), std::string::npos) << out;
    ASSERT_EQ(server_->post("/api/admin/tenants", R"({"id":"acme","name":"Acme","aliases":["1"]})").status, 201);
    for (auto [email, role] : {std::pair{"owner@acme.test", "owner"}, std::pair{"agent@acme.test", "agent"},
                               std::pair{"gone@acme.test", "agent"}, std::pair{"role@acme.test", "agent"}}) {
      auto r = server_->post("/api/admin/users", json{{"email", email}, {"password", pw}, {"role", role},
                                                      {"tenant_id", "1"}}.dump());
      ASSERT_EQ(r.status, 201) << r.body;
      EXPECT_EQ(body(r)["user"]["tenant_id"], "acme") << "aliases resolve to the canonical id";
    }
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->terminate(), 0);
    delete server_;
    delete dir_;
  }
  static crmd_server& s() { return *server_; }
  static std::string token_of(const std::string& email, const std::vector<std::string>& extra = {}) {
    auto r = s().login(email, pw, extra);
    EXPECT_EQ(r.status, 200) << r.body;
    return body(r).value("access_token", "");
  }
  static std::string secret() {
    std::string s;
    std::getline(std::ifstream(dir_->sub("data") + "/jwt_secret"), s);
    return s;
  }
  static uint64_t password_checks() {
    return body(s().get("/api/health"))["auth"]["password_checks"].get<uint64_t>();
  }
  static test::temp_dir* dir_;
  static crmd_server* server_;
};
test::temp_dir* auth_test::dir_ = nullptr;
crmd_server* auth_test::server_ = nullptr;

TEST_F(auth_test, login_answers_a_bearer_token_the_user_and_three_cookies) {
  auto r = s().login("Owner@Acme.test", pw);
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = body(r);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["token_type"], "Bearer");
  EXPECT_EQ(j["expires_in"], 900);
  EXPECT_EQ(j["user"]["email"], "owner@acme.test");
  EXPECT_EQ(j["user"]["role"], "owner");
  EXPECT_EQ(j["user"]["tenant_id"], "acme");
  EXPECT_FALSE(j.contains("password_hash") || j["user"].contains("password_hash"));
  auto session = r.cookie_line("crmd_session"), csrf = r.cookie_line("crmd_csrf"), refresh = r.cookie_line("crmd_refresh");
  EXPECT_EQ(r.cookie("crmd_session"), j["access_token"]);
  EXPECT_NE(session.find("HttpOnly"), std::string::npos);
  EXPECT_NE(session.find("SameSite=Lax"), std::string::npos);
  EXPECT_EQ(csrf.find("HttpOnly"), std::string::npos) << "the page's script must read it";
  EXPECT_NE(refresh.find("HttpOnly"), std::string::npos);
  EXPECT_NE(refresh.find("Path=/api/auth"), std::string::npos);
  EXPECT_EQ(refresh.find("Secure"), std::string::npos) << "PUBLIC_HOST is not https here";
  auto me = s().get("/api/auth/me", {crmd_server::bearer(j["access_token"])});
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(body(me)["user"]["id"], j["user"]["id"]);
  EXPECT_TRUE(body(me)["impersonator"].is_null());
}

TEST_F(auth_test, wrong_password_and_unknown_email_get_the_same_401_after_the_same_kdf_work) {
  uint64_t before = password_checks();
  auto wrong = s().login("agent@acme.test", "not the password");
  auto unknown = s().login("nobody@acme.test", "not the password");
  expect_error(wrong, 401, "invalid_credentials");
  expect_error(unknown, 401, "invalid_credentials");
  EXPECT_EQ(body(wrong)["message"], body(unknown)["message"]);
  EXPECT_EQ(password_checks(), before + 2) << "an unknown e-mail runs the KDF too";
  expect_error(test::http("POST", s().url("/api/auth/login"), R"({"email":"a@b.c"})", {crmd_server::json()}), 400,
               "invalid_field");
  expect_error(test::http("POST", s().url("/api/auth/login"), R"({"email":7,"password":"x"})", {crmd_server::json()}),
               400, "invalid_field");
}

TEST_F(auth_test, tokens_with_another_alg_a_bad_signature_or_past_expiry_are_401) {
  auto good = token_of("agent@acme.test");
  auto d1 = good.find('.'), d2 = good.rfind('.');
  std::string payload = good.substr(d1 + 1, d2 - d1 - 1);
  std::string none = identity::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".";
  expect_error(s().get("/api/auth/me", {crmd_server::bearer(none)}), 401, "invalid_token");
  expect_error(s().get("/api/auth/me", {crmd_server::bearer(good.substr(0, d2) + ".AAAA")}), 401, "invalid_token");
  identity::token_claims c;
  auto claims = json::parse(*identity::base64url_decode(payload));
  c.user_id = claims["sub"];
  c.tenant = claims["tid"];
  c.role = claims["role"];
  c.session = claims["sid"];
  c.issued_at = std::time(nullptr) - 2000;
  c.expires_at = std::time(nullptr) - 1000;
  expect_error(s().get("/api/auth/me", {crmd_server::bearer(identity::sign(c, secret()))}), 401, "token_expired");
  c.expires_at = std::time(nullptr) + 1000;
  EXPECT_EQ(s().get("/api/auth/me", {crmd_server::bearer(identity::sign(c, secret()))}).status, 200)
      << "the control: the same claims, unexpired, pass";
  c.role = "owner";  // a self-promoted token signed with a guessed key
  expect_error(s().get("/api/auth/me", {crmd_server::bearer(identity::sign(c, "guessed secret of 32 bytes......"))}),
               401, "invalid_token");
  // Even correctly signed, a role the user does not have is refused.
  expect_error(s().get("/api/auth/me", {crmd_server::bearer(identity::sign(c, secret()))}), 401, "token_revoked");
}

TEST_F(auth_test, a_deleted_user_or_a_changed_role_stops_the_token_at_once) {
  auto gone = token_of("gone@acme.test");
  auto role = token_of("role@acme.test");
  ASSERT_EQ(s().get("/api/auth/me", {crmd_server::bearer(gone)}).status, 200);
  std::string gone_id = body(s().get("/api/auth/me", {crmd_server::bearer(gone)}))["user"]["id"];
  std::string role_id = body(s().get("/api/auth/me", {crmd_server::bearer(role)}))["user"]["id"];
  ASSERT_EQ(s().del("/api/admin/users/" + gone_id).status, 200);
  expect_error(s().get("/api/auth/me", {crmd_server::bearer(gone)}), 401, "token_revoked");
  expect_error(s().login("gone@acme.test", pw), 401, "invalid_credentials");
  auto patch = test::http("PATCH", s().url("/api/businesses/acme/users/" + role_id), R"({"role":"manager"})",
                          {crmd_server::auth(), crmd_server::json()});
  ASSERT_EQ(patch.status, 200) << patch.body;
  expect_error(s().get("/api/auth/me", {crmd_server::bearer(role)}), 401, "token_revoked");
  EXPECT_EQ(body(s().get("/api/auth/me", {crmd_server::bearer(token_of("role@acme.test"))}))["user"]["role"], "manager");
}

TEST_F(auth_test, a_role_changed_and_changed_back_still_invalidates_old_tokens) {
  std::string id = body(s().post("/api/admin/users", json{{"email", "flip@acme.test"}, {"password", pw},
                                                         {"role", "agent"}, {"tenant_id", "acme"}}.dump()))["user"]["id"];
  auto old = token_of("flip@acme.test");
  for (auto role : {"manager", "agent"})
    ASSERT_EQ(test::http("PATCH", s().url("/api/businesses/acme/users/" + id), json{{"role", role}}.dump(),
                         {crmd_server::auth(), crmd_server::json()}).status, 200);
  expect_error(s().get("/api/auth/me", {crmd_server::bearer(old)}), 401, "token_revoked");
  EXPECT_EQ(s().get("/api/auth/me", {crmd_server::bearer(token_of("flip@acme.test"))}).status, 200);
}

TEST_F(auth_test, a_refused_refresh_does_not_spend_the_token) {
  ASSERT_EQ(s().post("/api/admin/tenants", R"({"id":"pause","name":"Pause"})").status, 201);
  ASSERT_EQ(s().post("/api/admin/users", json{{"email", "p@pause.test"}, {"password", pw}, {"role", "owner"},
                                             {"tenant_id", "pause"}}.dump()).status, 201);
  auto login = s().login("p@pause.test", pw);
  ASSERT_EQ(login.status, 200);
  auto refresh = [&] {
    return test::http("POST", s().url("/api/auth/refresh"), "", {"Cookie: crmd_refresh=" + login.cookie("crmd_refresh")});
  };
  auto patch = [&](const char* st) {
    return test::http("PATCH", s().url("/api/admin/tenants/pause"), json{{"status", st}}.dump(),
                      {crmd_server::auth(), crmd_server::json()}).status;
  };
  ASSERT_EQ(patch("suspended"), 200);
  expect_error(refresh(), 403, "tenant_suspended");
  ASSERT_EQ(patch("active"), 200);
  EXPECT_EQ(refresh().status, 200) << "the same token still works once the tenant is back";
}

TEST_F(auth_test, a_browser_session_needs_the_csrf_token_on_unsafe_methods_only) {
  auto r = s().login("owner@acme.test", pw);
  ASSERT_EQ(r.status, 200);
  std::string cookies = "Cookie: crmd_session=" + r.cookie("crmd_session") + "; crmd_csrf=" + r.cookie("crmd_csrf");
  EXPECT_EQ(s().get("/api/auth/me", {cookies}).status, 200) << "GET by cookie alone: EventSource, audio, downloads";
  std::string prompt = R"({"title":"Greeting","body":"Shalom"})";
  expect_error(test::http("POST", s().url("/api/business/acme/prompts"), prompt, {cookies, crmd_server::json()}), 403,
               "csrf_failed");
  expect_error(test::http("POST", s().url("/api/business/acme/prompts"), prompt,
                          {cookies, crmd_server::json(), "X-CSRF-Token: wrong"}),
               403, "csrf_failed");
  auto ok = test::http("POST", s().url("/api/business/acme/prompts"), prompt,
                       {cookies, crmd_server::json(), "X-CSRF-Token: " + r.cookie("crmd_csrf")});
  EXPECT_EQ(ok.status, 201) << ok.body;
  auto bearer = test::http("POST", s().url("/api/business/acme/prompts"), prompt,
                           {crmd_server::bearer(r.cookie("crmd_session")), crmd_server::json()});
  EXPECT_EQ(bearer.status, 201) << "bearer requests need no CSRF token: " << bearer.body;
}

TEST_F(auth_test, refresh_rotates_and_a_replayed_refresh_token_revokes_the_whole_family) {
  auto login = s().login("agent@acme.test", pw);
  ASSERT_EQ(login.status, 200);
  std::string access = login.cookie("crmd_session"), first = login.cookie("crmd_refresh");
  auto refresh = [&](const std::string& token) {
    return test::http("POST", s().url("/api/auth/refresh"), "", {"Cookie: crmd_refresh=" + token});
  };
  auto second = refresh(first);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_NE(second.cookie("crmd_refresh"), first);
  EXPECT_FALSE(body(second)["access_token"].get<std::string>().empty());
  EXPECT_EQ(s().get("/api/auth/me", {crmd_server::bearer(access)}).status, 200);

  expect_error(refresh(first), 401, "refresh_reused");  // a thief's copy of the spent token
  expect_error(refresh(second.cookie("crmd_refresh")), 401, "refresh_invalid");  // the family is revoked
  expect_error(s().get("/api/auth/me", {crmd_server::bearer(access)}), 401, "session_revoked");
  expect_error(s().get("/api/auth/me", {crmd_server::bearer(body(second)["access_token"])}), 401, "session_revoked");
  EXPECT_GE(test::count_events(*dir_, "session_revoked", "refresh_reused"), 1u) << "the revocation is an event";
  expect_error(refresh("made-up"), 401, "refresh_invalid");
  expect_error(test::http("POST", s().url("/api/auth/refresh")), 401, "refresh_invalid");
}

TEST_F(auth_test, logout_ends_the_session_at_once_and_clears_the_cookies) {
  auto login = s().login("owner@acme.test", pw);
  std::string access = login.cookie("crmd_session");
  auto out = test::http("POST", s().url("/api/auth/logout"), "", {crmd_server::bearer(access)});
  ASSERT_EQ(out.status, 200) << out.body;
  EXPECT_NE(out.cookie_line("crmd_session").find("Max-Age=0"), std::string::npos);
  expect_error(s().get("/api/auth/me", {crmd_server::bearer(access)}), 401, "session_revoked");
  expect_error(test::http("POST", s().url("/api/auth/refresh"), "", {"Cookie: crmd_refresh=" + login.cookie("crmd_refresh")}),
               401, "refresh_invalid");
  EXPECT_EQ(test::http("POST", s().url("/api/auth/logout")).status, 200) << "logging out twice is fine";
}

TEST_F(auth_test, sign_ins_and_sign_outs_are_events_in_the_tenants_auth_stream) {
  auto login = s().login("owner@acme.test", pw);
  ASSERT_EQ(test::http("POST", s().url("/api/auth/logout"), "", {crmd_server::bearer(login.cookie("crmd_session"))}).status, 200);
  auto ev = test::run({CRMD_BINARY, "events", "--data-dir", dir_->sub("data")}, dir_->path());
  EXPECT_NE(ev.out.find("\"stream\":\"acme/auth/acme\""), std::string::npos);
  EXPECT_NE(ev.out.find("user_logged_in"), std::string::npos);
  EXPECT_NE(ev.out.find("user_logged_out"), std::string::npos);
  EXPECT_NE(ev.out.find("\"stream\":\"acme/users/acme\""), std::string::npos);
  EXPECT_EQ(ev.out.find(pw), std::string::npos) << "no password in any event";
}

TEST_F(auth_test, cors_only_for_listed_origins_never_a_wildcard) {
  auto pre = test::http("OPTIONS", s().url("/api/auth/login"), "",
                        {"Origin: https://app.crmd.test", "Access-Control-Request-Method: POST"});
  EXPECT_EQ(pre.status, 204) << pre.body;
  EXPECT_EQ(pre.headers["access-control-allow-origin"], "https://app.crmd.test");
  EXPECT_EQ(pre.headers["access-control-allow-credentials"], "true");
  EXPECT_NE(pre.headers["access-control-allow-headers"].find("X-CSRF-Token"), std::string::npos);
  auto evil = test::http("OPTIONS", s().url("/api/auth/login"), "",
                         {"Origin: https://evil.test", "Access-Control-Request-Method: POST"});
  expect_error(evil, 403, "cors_forbidden");
  EXPECT_EQ(evil.headers.count("access-control-allow-origin"), 0u);
  auto get = s().get("/api/auth/me", {crmd_server::auth(), "Origin: https://app.crmd.test"});
  EXPECT_EQ(get.headers["access-control-allow-origin"], "https://app.crmd.test");
  EXPECT_EQ(get.headers["vary"], "Origin");
  auto other = s().get("/api/auth/me", {crmd_server::auth(), "Origin: https://evil.test"});
  EXPECT_EQ(other.headers.count("access-control-allow-origin"), 0u);
}

// Rate limits get servers of their own: their counts are per process.
struct limited_server {
  test::temp_dir dir;
  crmd_server server;
  using env_t = std::vector<std::pair<std::string, std::string>>;
  explicit limited_server(env_t env)
      : server(dir.sub("data"), [&] {
          env.push_back({"CRMD_AUTH_FAILURES_PER_MINUTE", "5"});
          return env;
        }()) {}
  bool start() {
    std::string out;
    if (!server.start(&out)) return false;
    return server.post("/api/admin/users", json{{"email", "a@x.test"}, {"password", pw}, {"role", "system_admin"}}.dump())
               .status == 201 &&
           server.post("/api/admin/users", json{{"email", "b@x.test"}, {"password", pw}, {"role", "system_admin"}}.dump())
               .status == 201;
  }
};

TEST(auth_limits, failed_logins_are_limited_per_address_and_forwarded_for_is_not_trusted_by_default) {
  limited_server l(limited_server::env_t{});
  ASSERT_TRUE(l.start());
  // A client cannot dodge the limit by inventing X-Forwarded-For addresses.
  for (int i = 0; i < 5; ++i)
    expect_error(l.server.login(i % 2 ? "a@x.test" : "b@x.test", "wrong password",
                                {"X-Forwarded-For: 10.0.0." + std::to_string(i)}),
                 401, "invalid_credentials");
  auto limited = l.server.login("a@x.test", pw);
  expect_error(limited, 429, "rate_limited");
  EXPECT_GE(std::stoi(limited.headers["retry-after"]), 1);
  EXPECT_LE(std::stoi(limited.headers["retry-after"]), 60);
  EXPECT_EQ(l.server.get("/api/auth/me").status, 200) << "other routes are not limited";
}

TEST(auth_limits, behind_a_trusted_proxy_addresses_and_accounts_are_limited_separately) {
  limited_server l(limited_server::env_t{{"CRMD_TRUST_PROXY", "true"}});
  ASSERT_TRUE(l.start());
  // Five failures against one account from five addresses: the account is limited...
  for (int i = 0; i < 5; ++i)
    expect_error(l.server.login("a@x.test", "wrong password", {"X-Forwarded-For: 203.0.113." + std::to_string(i)}),
                 401, "invalid_credentials");
  expect_error(l.server.login("a@x.test", pw, {"X-Forwarded-For: 203.0.113.99"}), 429, "rate_limited");
  // ...another account from a fresh address is not.
  EXPECT_EQ(l.server.login("b@x.test", pw, {"X-Forwarded-For: 198.51.100.7"}).status, 200);
  // One address failing against many accounts is limited too.
  for (int i = 0; i < 5; ++i)
    l.server.login("nobody" + std::to_string(i) + "@x.test", "wrong password", {"X-Forwarded-For: 192.0.2.1"});
  expect_error(l.server.login("b@x.test", pw, {"X-Forwarded-For: 192.0.2.1"}), 429, "rate_limited");
}

TEST(auth_cookies, are_secure_when_public_host_is_https) {
  test::temp_dir dir;
  crmd_server srv(dir.sub("data"), {{"PUBLIC_HOST", "https://crm.example.com"}});
  ASSERT_TRUE(srv.start());
  ASSERT_EQ(srv.post("/api/admin/users", json{{"email", "a@x.test"}, {"password", pw}, {"role", "system_admin"}}.dump())
                .status,
            201);
  auto r = srv.login("a@x.test", pw);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.set_cookies.size(), 3u);
  for (auto& c : r.set_cookies) EXPECT_NE(c.find("; Secure"), std::string::npos) << c;
}

TEST(auth_limits, a_full_password_pool_answers_503_with_retry_after_instead_of_queueing) {
  test::temp_dir dir;
  // One KDF thread, no queue, and production-strength hashing.
  crmd_server srv(dir.sub("data"), {{"CRMD_KDF_ITERATIONS", "600000"}, {"CRMD_KDF_THREADS", "1"}, {"CRMD_KDF_QUEUE", "0"}});
  ASSERT_TRUE(srv.start());
  std::vector<std::future<test::http_result>> logins;
  for (int i = 0; i < 6; ++i)
    logins.push_back(std::async(std::launch::async, [&] { return srv.login("nobody@x.test", "wrong password"); }));
  int busy = 0, denied = 0;
  for (auto& f : logins) {
    auto r = f.get();
    if (r.status == 503) {
      ++busy;
      EXPECT_EQ(r.headers["retry-after"], "1");
      EXPECT_EQ(body(r)["error"], "busy");
    } else {
      EXPECT_EQ(r.status, 401) << r.body;
      ++denied;
    }
  }
  EXPECT_GE(busy, 1) << "six logins at once on one KDF thread";
  EXPECT_GE(denied, 1);
  EXPECT_EQ(srv.get("/health", {}).status, 200) << "other traffic is not held up";
}

}  // namespace
}  // namespace crmd
