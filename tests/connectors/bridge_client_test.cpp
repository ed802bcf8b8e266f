// Specifications of the WhatsApp bridge client (connectors/bridge_client.hpp)
// against a fake bridge on 127.0.0.1, never the internet.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "connectors/bridge_client.hpp"
#include "tests/support/closed_port.hpp"
#include "tests/support/fake_http_server.hpp"

namespace crmd::connectors {
namespace {

using json = nlohmann::json;

const std::string secret = "bridge_s3cret_value_42";
const std::string hebrew = "שלום, הפגישה מחר ב-10:00 ✓";

bridge_options options(const std::string& base) {
  bridge_options o;
  o.base_url = base;
  o.internal_secret = secret;
  o.timeout_ms = 5000;
  return o;
}

test::fake_http_server::handler answering(int status, std::string body) {
  return [status, body](const test::fake_request&) { return test::fake_response{status, body}; };
}

void expect_error(const status& s, errc code, const std::string& reason) {
  EXPECT_EQ(s.code(), code) << s.to_string();
  EXPECT_EQ(s.reason(), reason) << s.to_string();
  EXPECT_EQ(s.message().find(secret), std::string::npos) << s.message();
}

// --- start / logout ---------------------------------------------------------------

TEST(bridge_client, start_posts_empty_json_with_the_secret) {
  test::fake_http_server server(answering(202, R"({"ok":true})"));
  ASSERT_TRUE(bridge_start(options(server.base_url()), "acme"));
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/sessions/acme/start");
  EXPECT_EQ(reqs[0].header("x-internal-secret"), secret);
  EXPECT_EQ(reqs[0].header("content-type"), "application/json");
  EXPECT_EQ(json::parse(reqs[0].body), json::object());
}

TEST(bridge_client, trailing_slash_in_base_and_odd_tenant_ids_are_safe) {
  test::fake_http_server server(answering(200, ""));
  ASSERT_TRUE(bridge_start(options(server.base_url() + "/"), "acme_co-1"));
  ASSERT_TRUE(bridge_start(options(server.base_url()), "a/b c?"));
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].target, "/sessions/acme_co-1/start");
  EXPECT_EQ(reqs[1].target, "/sessions/a%2Fb%20c%3F/start");
}

TEST(bridge_client, a_session_other_than_main_is_a_path_segment_an_older_bridge_refuses) {
  test::fake_http_server server(answering(200, R"({"ok":true,"id":"X1","state":"open"})"));
  auto o = options(server.base_url());
  ASSERT_TRUE(bridge_start(o, "acme", "sales"));
  ASSERT_TRUE(bridge_logout(o, "acme", "sales"));
  ASSERT_TRUE(bridge_status(o, "acme", "sales"));
  ASSERT_TRUE(bridge_send(o, "acme", "972501234567", "hi", "sales"));
  ASSERT_TRUE(bridge_start(o, "acme", "main"));
  expect_error(bridge_start(o, "acme", ""), errc::invalid_argument, "invalid_request");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_EQ(reqs[0].target, "/sessions/acme/sales/start");
  EXPECT_EQ(reqs[1].target, "/sessions/acme/sales/logout");
  EXPECT_EQ(reqs[2].target, "/sessions/acme/sales/status");
  EXPECT_EQ(reqs[3].target, "/sessions/acme/sales/messages");
  EXPECT_EQ(reqs[4].target, "/sessions/acme/start") << "main keeps the protocol's original path";
  // A bridge that knows only main answers the longer path with 404: an error, not main's session.
  test::fake_http_server old(answering(404, R"({"ok":false,"error":"not_found","message":"no such route"})"));
  expect_error(bridge_logout(options(old.base_url()), "acme", "sales"), errc::conflict, "bridge_refused");
}

TEST(bridge_client, a_restart_asks_the_bridge_to_replace_its_socket_and_the_qr_limit_is_passed_on) {
  test::fake_http_server server(answering(200, R"({"ok":true})"));
  ASSERT_TRUE(bridge_start(options(server.base_url()), "acme", "main", true));
  ASSERT_TRUE(bridge_start(options(server.base_url()), "acme", "main", false, 10));
  ASSERT_TRUE(bridge_start(options(server.base_url()), "acme", "main", true, 3));
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].target, "/sessions/acme/start");
  EXPECT_EQ(json::parse(reqs[0].body), json({{"restart", true}}));
  EXPECT_EQ(json::parse(reqs[1].body), json({{"maxQrCodes", 10}}));
  EXPECT_EQ(json::parse(reqs[2].body), json({{"restart", true}, {"maxQrCodes", 3}}));
}

TEST(bridge_client, logout_posts_to_logout) {
  test::fake_http_server server(answering(200, "{}"));
  ASSERT_TRUE(bridge_logout(options(server.base_url()), "acme"));
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/sessions/acme/logout");
  EXPECT_EQ(reqs[0].header("x-internal-secret"), secret);
}

// --- status -----------------------------------------------------------------------

TEST(bridge_client, status_while_waiting_for_a_scan_has_the_qr) {
  test::fake_http_server server(answering(200, R"({"state":"qr","qr":"2@abc,def==","me":null})"));
  auto s = bridge_status(options(server.base_url()), "acme");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->state, "qr");
  ASSERT_TRUE(s->qr.has_value());
  EXPECT_EQ(*s->qr, "2@abc,def==");
  EXPECT_EQ(s->me_id, "");
  EXPECT_EQ(s->me_name, "");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/sessions/acme/status");
  EXPECT_EQ(reqs[0].header("x-internal-secret"), secret);
}

TEST(bridge_client, status_when_open_has_the_account) {
  test::fake_http_server server(
      answering(200, R"({"state":"open","qr":null,"me":{"id":"972501234567:3@s.whatsapp.net","name":"משרד"}})"));
  auto s = bridge_status(options(server.base_url()), "acme");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->state, "open");
  EXPECT_FALSE(s->qr.has_value());
  EXPECT_EQ(s->me_id, "972501234567:3@s.whatsapp.net");
  EXPECT_EQ(s->me_name, "משרד");
}

TEST(bridge_client, status_keeps_unknown_states_and_tolerates_missing_fields) {
  test::fake_http_server server(answering(200, R"({"state":"reconnecting"})"));
  auto s = bridge_status(options(server.base_url()), "acme");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->state, "reconnecting");
  EXPECT_FALSE(s->qr.has_value());
  EXPECT_EQ(s->me_id, "");
}

TEST(bridge_client, malformed_status_is_a_bridge_error) {
  for (std::string body : {"not json", "[]", R"({"qr":"x"})", R"({"state":3})", R"({"state":"qr","qr":5})",
                           R"({"state":"open","me":"someone"})", R"({"state":"open","me":{"id":7}})"}) {
    test::fake_http_server server(answering(200, body));
    auto s = bridge_status(options(server.base_url()), "acme");
    ASSERT_FALSE(s) << body;
    expect_error(s.error(), errc::io_error, "bridge_error");
    EXPECT_NE(s.error().message().find("HTTP 200"), std::string::npos) << s.error().message();
  }
}

// --- send -------------------------------------------------------------------------

TEST(bridge_client, send_posts_to_and_text_with_hebrew_intact) {
  test::fake_http_server server(answering(200, R"({"id":"3EB0C767D26A1D5B"})"));
  auto id = bridge_send(options(server.base_url()), "acme", "972501234567", hebrew);
  ASSERT_TRUE(id) << id.error().to_string();
  EXPECT_EQ(*id, "3EB0C767D26A1D5B");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/sessions/acme/messages");
  EXPECT_EQ(reqs[0].header("x-internal-secret"), secret);
  EXPECT_EQ(reqs[0].header("content-type"), "application/json");
  EXPECT_NE(reqs[0].body.find(hebrew), std::string::npos) << "raw UTF-8, not \\u escapes: " << reqs[0].body;
  auto body = json::parse(reqs[0].body);
  EXPECT_EQ(body, (json{{"to", "972501234567"}, {"text", hebrew}}));
}

TEST(bridge_client, send_accepts_each_answer_shape) {
  for (auto [body, want] : std::vector<std::pair<std::string, std::string>>{
           {R"({"id":"A1"})", "A1"},
           {R"({"messageId":"B2"})", "B2"},
           {R"({"key":{"remoteJid":"972501234567@s.whatsapp.net","fromMe":true,"id":"C3"}})", "C3"}}) {
    test::fake_http_server server(answering(200, body));
    auto id = bridge_send(options(server.base_url()), "acme", "972501234567@s.whatsapp.net", "hi");
    ASSERT_TRUE(id) << body << ": " << id.error().to_string();
    EXPECT_EQ(*id, want);
  }
}

TEST(bridge_client, send_answer_without_an_id_is_a_bridge_error) {
  for (std::string body : {"", "{}", R"({"id":""})", R"({"id":5})", R"({"key":{}})", "ok"}) {
    test::fake_http_server server(answering(200, body));
    auto id = bridge_send(options(server.base_url()), "acme", "972501234567", "hi");
    ASSERT_FALSE(id) << body;
    expect_error(id.error(), errc::io_error, "bridge_error");
  }
}

TEST(bridge_client, send_refuses_empty_recipient_or_text_without_calling) {
  test::fake_http_server server(answering(200, R"({"id":"A1"})"));
  auto a = bridge_send(options(server.base_url()), "acme", "", "hi");
  auto b = bridge_send(options(server.base_url()), "acme", "972501234567", "");
  ASSERT_FALSE(a);
  ASSERT_FALSE(b);
  expect_error(a.error(), errc::invalid_argument, "invalid_request");
  expect_error(b.error(), errc::invalid_argument, "invalid_request");
  EXPECT_TRUE(server.requests().empty());
}

// --- errors -----------------------------------------------------------------------

TEST(bridge_client, client_errors_are_refusals_with_the_http_status) {
  for (int code : {401, 404, 409}) {
    test::fake_http_server server(answering(code, R"({"error":"nope"})"));
    auto st = bridge_start(options(server.base_url()), "acme");
    expect_error(st, errc::conflict, "bridge_refused");
    EXPECT_NE(st.message().find("HTTP " + std::to_string(code)), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("nope"), std::string::npos) << st.message();
    auto s = bridge_status(options(server.base_url()), "acme");
    ASSERT_FALSE(s);
    expect_error(s.error(), errc::conflict, "bridge_refused");
    auto id = bridge_send(options(server.base_url()), "acme", "972501234567", "hi");
    ASSERT_FALSE(id);
    expect_error(id.error(), errc::conflict, "bridge_refused");
  }
}

TEST(bridge_client, a_bridge_echoing_the_secret_does_not_leak_it) {
  test::fake_http_server server(answering(401, R"({"error":"bad secret )" + secret + R"("})"));
  auto st = bridge_logout(options(server.base_url()), "acme");
  expect_error(st, errc::conflict, "bridge_refused");
}

TEST(bridge_client, server_errors_are_bridge_errors_with_the_http_status) {
  for (int code : {500, 503}) {
    test::fake_http_server server(answering(code, "boom"));
    auto st = bridge_start(options(server.base_url()), "acme");
    expect_error(st, errc::io_error, "bridge_error");
    EXPECT_NE(st.message().find("HTTP " + std::to_string(code)), std::string::npos) << st.message();
    auto id = bridge_send(options(server.base_url()), "acme", "972501234567", "hi");
    ASSERT_FALSE(id);
    expect_error(id.error(), errc::io_error, "bridge_error");
  }
}

TEST(bridge_client, oversized_answer_is_a_bridge_error) {
  test::fake_http_server server(answering(200, R"({"state":"qr","qr":")" + std::string(70000, 'x') + R"("})"));
  auto s = bridge_status(options(server.base_url()), "acme");
  ASSERT_FALSE(s);
  expect_error(s.error(), errc::io_error, "bridge_error");
}

TEST(bridge_client, closed_port_is_unreachable_with_curls_error) {
  test::closed_port port;
  auto st = bridge_start(options(port.base_url()), "acme");
  expect_error(st, errc::io_error, "bridge_unreachable");
  EXPECT_GT(st.message().size(), std::string("the WhatsApp bridge could not be reached ()").size()) << st.message();
  auto s = bridge_status(options(port.base_url()), "acme");
  ASSERT_FALSE(s);
  expect_error(s.error(), errc::io_error, "bridge_unreachable");
  auto id = bridge_send(options(port.base_url()), "acme", "972501234567", "hi");
  ASSERT_FALSE(id);
  expect_error(id.error(), errc::io_error, "bridge_unreachable");
}

TEST(bridge_client, missing_or_bad_base_url_is_not_configured) {
  for (std::string base : {"", "127.0.0.1:3300", "ftp://127.0.0.1", "http://", "http://host with space"}) {
    expect_error(bridge_start(options(base), "acme"), errc::invalid_argument, "bridge_not_configured");
    auto s = bridge_status(options(base), "acme");
    ASSERT_FALSE(s) << base;
    expect_error(s.error(), errc::invalid_argument, "bridge_not_configured");
    auto id = bridge_send(options(base), "acme", "972501234567", "hi");
    ASSERT_FALSE(id) << base;
    expect_error(id.error(), errc::invalid_argument, "bridge_not_configured");
  }
}

TEST(bridge_client, a_secret_that_could_split_headers_is_not_configured) {
  test::fake_http_server server(answering(200, "{}"));
  auto o = options(server.base_url());
  o.internal_secret = "abc\r\nX-Evil: 1";
  auto st = bridge_start(o, "acme");
  EXPECT_EQ(st.code(), errc::invalid_argument);
  EXPECT_EQ(st.reason(), "bridge_not_configured");
  EXPECT_EQ(st.message().find("abc"), std::string::npos) << st.message();
  EXPECT_TRUE(server.requests().empty());
}

}  // namespace
}  // namespace crmd::connectors
