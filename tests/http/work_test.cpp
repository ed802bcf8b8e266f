// Notes, tasks (due through the durable schedule, also across a restart) and
// the per-contact timeline, end to end.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "events/time_format.hpp"
#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::body;
using test::crmd_server;
using test::expect_error;
using namespace std::chrono_literals;

std::string in(std::chrono::milliseconds d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch() + d).count();
  return rfc3339(us);
}
test::http_result call(crmd_server& s, const std::string& m, const std::string& p, const std::string& b = {}) {
  return test::http(m, s.url(p + (p.find('?') == std::string::npos ? "?" : "&") + "business_id=acme"), b,
                    {crmd_server::auth(), crmd_server::json()});
}
// Polls until `done` or ~10 s.
template <class F>
bool eventually(F&& done) {
  for (int i = 0; i < 200; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

struct work_test : ::testing::Test {
  test::temp_dir dir;
  crmd_server s{dir.sub("data")};
  std::string lead;
  void SetUp() override {
    ASSERT_TRUE(s.start());
    ASSERT_EQ(s.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
    auto r = call(s, "POST", "/api/leads", R"({"name":"Dana","phone":"050-123-4567"})");
    ASSERT_EQ(r.status, 201) << r.body;
    lead = body(r)["id"];
  }
};

TEST_F(work_test, notes_and_tasks_fill_the_timeline_newest_first) {
  std::string note = "\xd7\x9c\xd7\x97\xd7\x96\xd7\x95\xd7\xa8 \xd7\x91\xd7\x99\xd7\x95\xd7\x9d \xd7\x90'";  // Hebrew
  ASSERT_EQ(call(s, "POST", "/api/customers/" + lead + "/notes", json{{"text", note}}.dump()).status, 201);
  auto t = call(s, "POST", "/api/tasks", json{{"title", "Call back"}, {"customer_id", lead}}.dump());
  ASSERT_EQ(t.status, 201) << t.body;
  std::string task = body(t)["id"];
  ASSERT_EQ(call(s, "PATCH", "/api/tasks/" + task, R"({"status":"done"})").status, 200);
  expect_error(call(s, "PATCH", "/api/tasks/" + task, R"({"status":"done"})"), 409, "task_done");
  ASSERT_EQ(call(s, "POST", "/api/leads/" + lead + "/convert").status, 200);

  auto tl = call(s, "GET", "/api/customers/" + lead + "/timeline?limit=3");
  ASSERT_EQ(tl.status, 200) << tl.body;
  auto j = body(tl);
  EXPECT_EQ(j["total"], 5);
  EXPECT_EQ(j["pages"], 2);
  ASSERT_EQ(j["items"].size(), 3u);
  EXPECT_EQ(j["items"][0]["type"], "lead.converted");
  EXPECT_EQ(j["items"][1]["type"], "task.done");
  EXPECT_EQ(j["items"][2]["type"], "task.created");
  EXPECT_FALSE(j.contains("results"));
  auto rest = body(call(s, "GET", "/api/leads/" + lead + "/timeline?page=2&limit=3"));
  ASSERT_EQ(rest["items"].size(), 2u);
  EXPECT_EQ(rest["items"][0]["type"], "note");
  EXPECT_EQ(rest["items"][0]["title"], note);
  EXPECT_EQ(rest["items"][1]["type"], "lead.created");
  for (auto& i : j["items"]) EXPECT_TRUE(i["ts"].is_string() && i["ref_id"].is_string());

  auto list = body(call(s, "GET", "/api/tasks?customer_id=" + lead));
  ASSERT_EQ(list["total"], 1);
  EXPECT_EQ(list["results"][0]["status"], "done");
  expect_error(call(s, "POST", "/api/customers/L999/notes", R"({"text":"x"})"), 404, "contact_not_found");
  expect_error(call(s, "POST", "/api/customers/" + lead + "/notes", R"({"text":""})"), 400, "invalid_field");
  expect_error(call(s, "POST", "/api/tasks", R"({"title":"x","due_at":"tomorrow"})"), 400, "invalid_field");
  expect_error(call(s, "POST", "/api/tasks", R"({"title":"x","due_at":"2026-11-22T10:00:00"})"), 400, "invalid_field");
  expect_error(call(s, "PATCH", "/api/tasks/" + task, R"({})"), 400, "invalid_field");
  expect_error(call(s, "PATCH", "/api/tasks/T99", R"({"status":"open"})"), 404, "task_not_found");
}

TEST_F(work_test, a_task_falls_due_once_and_moving_it_moves_the_due_time) {
  auto t = call(s, "POST", "/api/tasks", json{{"title", "Soon"}, {"customer_id", lead}, {"due_at", in(600ms)}}.dump());
  ASSERT_EQ(t.status, 201) << t.body;
  std::string task = body(t)["id"];
  auto moved = call(s, "POST", "/api/tasks", json{{"title", "Later"}, {"due_at", in(500ms)}}.dump());
  std::string later = body(moved)["id"];
  ASSERT_EQ(call(s, "PATCH", "/api/tasks/" + later, json{{"snooze_until", in(1h)}}.dump()).status, 200);
  EXPECT_TRUE(eventually([&] { return body(call(s, "GET", "/api/tasks/" + task))["task"]["due"] == true; }));
  std::this_thread::sleep_for(1s);
  auto snoozed = body(call(s, "GET", "/api/tasks/" + later))["task"];
  EXPECT_EQ(snoozed["due"], false) << "its first timer is stale after the snooze";
  EXPECT_TRUE(snoozed["snoozed_until"].is_string());
  EXPECT_EQ(test::count_events(dir, "task_due", "\"" + task + "\""), 1u);
  EXPECT_EQ(test::count_events(dir, "task_due", "\"" + later + "\""), 0u);
}

TEST_F(work_test, a_task_due_while_crmd_was_down_fires_right_after_start_exactly_once) {
  auto t = call(s, "POST", "/api/tasks", json{{"title", "While down"}, {"customer_id", lead}, {"due_at", in(1500ms)}}.dump());
  ASSERT_EQ(t.status, 201) << t.body;
  std::string task = body(t)["id"];
  ASSERT_EQ(s.terminate(), 0);
  std::this_thread::sleep_for(2s);  // due while nothing runs
  EXPECT_EQ(test::count_events(dir, "task_due", "\"" + task + "\""), 0u);
  ASSERT_TRUE(s.start());
  EXPECT_TRUE(eventually([&] { return body(call(s, "GET", "/api/tasks/" + task))["task"]["due"] == true; }));
  ASSERT_EQ(s.terminate(), 0);  // and once more: nothing fires twice
  ASSERT_TRUE(s.start());
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(test::count_events(dir, "task_due", "\"" + task + "\""), 1u);
}

}  // namespace
}  // namespace crmd
