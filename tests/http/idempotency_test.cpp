// Idempotency-Key on POST /api/*: same key and body -> the first answer
// again and no new events; another body -> 422; still running -> 409; the
// kept answers survive a restart.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::body;
using test::crmd_server;
using test::expect_error;



TEST(idempotency, a_retry_gets_the_first_answer_and_records_nothing_new_also_after_a_restart) {
  test::temp_dir dir;
  crmd_server s(dir.sub("data"));
  ASSERT_TRUE(s.start());
  ASSERT_EQ(s.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
  auto post = [&](const std::string& key, const std::string& b) {
    return test::http("POST", s.url("/api/leads?business_id=acme"), b,
                      {crmd_server::auth(), crmd_server::json(), "Idempotency-Key: " + key});
  };
  std::string lead = R"({"name":"Dana","phone":"050-123-4567"})";
  auto first = post("k-1", lead);
  ASSERT_EQ(first.status, 201) << first.body;
  auto again = post("k-1", lead);
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.headers["idempotent-replayed"], "true");
  EXPECT_EQ(test::count_events(dir, "lead_created"), 1u);

  auto other = post("k-1", R"({"name":"Someone else"})");
  EXPECT_EQ(other.status, 422) << other.body;
  EXPECT_EQ(body(other)["error"], "idempotency_key_reused");

  // A rejection is an answer too: the retry gets the same 409.
  auto dup = post("k-2", R"({"name":"Dup","phone":"0501234567"})");
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(post("k-2", R"({"name":"Dup","phone":"0501234567"})").body, dup.body);

  // Keys are per user: the same key from someone else is a new request.
  ASSERT_EQ(s.post("/api/admin/users", json{{"email", "o@acme.test"}, {"password", "correct horse battery"},
                                            {"role", "owner"}, {"tenant_id", "acme"}}.dump()).status, 201);
  auto token = body(s.login("o@acme.test", "correct horse battery"))["access_token"].get<std::string>();
  auto theirs = test::http("POST", s.url("/api/leads"), R"({"name":"Theirs"})",
                           {crmd_server::bearer(token), crmd_server::json(), "Idempotency-Key: k-1"});
  EXPECT_EQ(theirs.status, 201) << theirs.body;
  EXPECT_NE(body(theirs)["id"], body(first)["id"]);

  // Keys are per path too: one key on two routes is two requests.
  auto note = test::http("POST", s.url("/api/customers/" + std::string(body(first)["id"]) + "/notes?business_id=acme"),
                         R"({"text":"hello"})", {crmd_server::auth(), crmd_server::json(), "Idempotency-Key: k-3"});
  auto task = test::http("POST", s.url("/api/tasks?business_id=acme"), R"({"text":"hello","title":"t"})",
                         {crmd_server::auth(), crmd_server::json(), "Idempotency-Key: k-3"});
  EXPECT_EQ(note.status, 201) << note.body;
  EXPECT_EQ(task.status, 201) << task.body;
  EXPECT_NE(task.headers["idempotent-replayed"], "true");

  ASSERT_EQ(s.terminate(), 0);
  ASSERT_TRUE(s.start());
  auto after = post("k-1", lead);
  EXPECT_EQ(after.status, 201);
  EXPECT_EQ(after.body, first.body);
  EXPECT_EQ(test::count_events(dir, "lead_created"), 2u) << "Dana once, Theirs once";

  auto bad = test::http("POST", s.url("/api/leads?business_id=acme"), lead,
                        {crmd_server::auth(), crmd_server::json(), "Idempotency-Key: " + std::string(300, 'k')});
  EXPECT_EQ(bad.status, 400);
}

TEST(idempotency, while_the_first_is_running_a_retry_is_409) {
  test::temp_dir dir;
  // Production hashing makes creating a user slow enough to overlap.
  crmd_server s(dir.sub("data"), {{"CRMD_KDF_ITERATIONS", "600000"}});
  ASSERT_TRUE(s.start());
  std::string b = json{{"email", "slow@x.test"}, {"password", "correct horse battery"}, {"role", "system_admin"}}.dump();
  auto send = [&] {
    return test::http("POST", s.url("/api/admin/users"), b,
                      {crmd_server::auth(), crmd_server::json(), "Idempotency-Key: create-slow"});
  };
  auto first = std::async(std::launch::async, send);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  auto second = send();
  auto one = first.get();
  EXPECT_EQ(one.status, 201) << one.body;
  EXPECT_EQ(second.status, 409) << second.body;
  EXPECT_EQ(body(second)["error"], "idempotency_in_progress");
  EXPECT_EQ(second.headers["retry-after"], "1");
  auto third = send();
  EXPECT_EQ(third.status, 201);
  EXPECT_EQ(third.body, one.body);
}

}  // namespace
}  // namespace crmd
