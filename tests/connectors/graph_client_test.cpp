// Specifications of the Cloud API sender (connectors/graph_client.hpp)
// against a fake Graph API on 127.0.0.1, never the internet.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "connectors/graph_client.hpp"
#include "tests/support/closed_port.hpp"
#include "tests/support/fake_http_server.hpp"

namespace crmd::connectors {
namespace {

using json = nlohmann::json;

const std::string token = "EAAGm0PX4ZCpsBAMZCtoken0123456789abcdef";
const std::string hebrew = "שלום, הפגישה מחר ב-10:00 ✓";

graph_options options(const std::string& base) {
  graph_options o;
  o.base_url = base + "/v19.0";
  o.timeout_ms = 5000;
  return o;
}

test::fake_http_server::handler answering(int status, std::string body) {
  return [status, body](const test::fake_request&) { return test::fake_response{status, body}; };
}

void expect_error(const result<std::string>& r, errc code, const std::string& reason) {
  ASSERT_FALSE(r) << *r;
  EXPECT_EQ(r.error().code(), code) << r.error().to_string();
  EXPECT_EQ(r.error().reason(), reason) << r.error().to_string();
  EXPECT_EQ(r.error().message().find(token), std::string::npos) << "the token never appears: " << r.error().message();
}

TEST(graph_client, a_text_goes_to_the_number_ids_messages_edge_with_the_bearer_token) {
  test::fake_http_server server(answering(200, R"({"messaging_product":"whatsapp","contacts":[{"input":"972501234567",)"
                                                R"("wa_id":"972501234567"}],"messages":[{"id":"wamid.HBgMOTcyNTAx"}]})"));
  auto id = graph_send_text(options(server.base_url()), "106540352242922", token, "972501234567", hebrew);
  ASSERT_TRUE(id) << id.error().to_string();
  EXPECT_EQ(*id, "wamid.HBgMOTcyNTAx");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/v19.0/106540352242922/messages");
  EXPECT_EQ(reqs[0].header("authorization"), "Bearer " + token);
  EXPECT_EQ(reqs[0].header("content-type"), "application/json");
  auto sent = json::parse(reqs[0].body);
  EXPECT_EQ(sent["messaging_product"], "whatsapp");
  EXPECT_EQ(sent["to"], "972501234567");
  EXPECT_EQ(sent["type"], "text");
  EXPECT_EQ(sent["text"]["body"], hebrew) << "UTF-8 kept as is";
}

TEST(graph_client, metas_refusal_is_a_conflict_with_its_message_and_never_the_token) {
  // Meta sometimes echoes what it was sent; the token must still not leak.
  test::fake_http_server server(answering(
      401, R"({"error":{"message":"Error validating access token )" + token + R"(","type":"OAuthException","code":190}})"));
  auto r = graph_send_text(options(server.base_url()), "1065", token, "972501234567", "hi");
  expect_error(r, errc::conflict, "graph_refused");
  EXPECT_NE(r.error().message().find("HTTP 401"), std::string::npos);
  EXPECT_NE(r.error().message().find("code 190"), std::string::npos);
}

TEST(graph_client, server_errors_odd_answers_and_silence_are_io_errors) {
  test::fake_http_server failing(answering(503, "<html>down</html>"));
  expect_error(graph_send_text(options(failing.base_url()), "1065", token, "972501234567", "hi"), errc::io_error,
               "graph_error");
  test::fake_http_server odd(answering(200, R"({"messages":[]})"));
  expect_error(graph_send_text(options(odd.base_url()), "1065", token, "972501234567", "hi"), errc::io_error,
               "graph_error");
  test::fake_http_server huge(answering(200, std::string(100 * 1024, 'x')));
  expect_error(graph_send_text(options(huge.base_url()), "1065", token, "972501234567", "hi"), errc::io_error,
               "graph_error");
  test::closed_port port;
  graph_options closed;
  closed.base_url = port.base_url();
  closed.timeout_ms = 2000;
  expect_error(graph_send_text(closed, "1065", token, "972501234567", "hi"), errc::io_error, "graph_unreachable");
}

TEST(graph_client, nothing_is_sent_without_a_number_id_a_usable_token_a_recipient_and_text) {
  test::fake_http_server server(answering(200, R"({"messages":[{"id":"wamid.X"}]})"));
  auto o = options(server.base_url());
  expect_error(graph_send_text(o, "", token, "972501234567", "hi"), errc::invalid_argument, "graph_not_configured");
  expect_error(graph_send_text(o, "1065", "", "972501234567", "hi"), errc::invalid_argument, "graph_not_configured");
  expect_error(graph_send_text(o, "1065", "bad token\r\nX-Evil: 1", "972501234567", "hi"), errc::invalid_argument,
               "graph_not_configured");
  expect_error(graph_send_text(o, "1065", token, "", "hi"), errc::invalid_argument, "invalid_request");
  expect_error(graph_send_text(o, "1065", token, "972501234567", ""), errc::invalid_argument, "invalid_request");
  graph_options ftp = o;
  ftp.base_url = "ftp://graph.example";
  expect_error(graph_send_text(ftp, "1065", token, "972501234567", "hi"), errc::invalid_argument, "graph_not_configured");
  EXPECT_TRUE(server.requests().empty()) << "refused before any request";
}

}  // namespace
}  // namespace crmd::connectors
