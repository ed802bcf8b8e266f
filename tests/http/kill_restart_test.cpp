// kill -9 in the middle of a stream of POSTs: every prompt whose POST was
// answered 2xx is there after a restart, and the chains verify.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "tests/support/crmd_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;

// Four threads POSTing prompts until told to stop (or the server is gone),
// recording what was acknowledged.
struct posters {
  std::mutex mu;
  std::map<std::string, std::string>& acked;  // prompt id -> body
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};                // 503 while draining: never stored
  std::vector<std::thread> threads;

  posters(test::crmd_server& srv, const std::string& prefix, std::map<std::string, std::string>& out,
          long timeout_ms)
      : acked(out) {
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t, prefix, timeout_ms] {
        for (int i = 0; !stop; ++i) {
          std::string text = prefix + "t" + std::to_string(t) + " #" + std::to_string(i);
          auto r = test::http("POST", srv.url("/api/business/acme/prompts"), json{{"title", "t"}, {"body", text}}.dump(),
                              {test::crmd_server::auth(), test::crmd_server::json()}, timeout_ms);
          std::lock_guard lock(mu);
          if (r.status == 201) acked[json::parse(r.body)["id"]] = text;
          if (r.status == 503) refused++;
          if (r.status == 0 && stop) break;  // the server is gone
        }
      });
  }
  void join() {
    stop = true;
    for (auto& t : threads) t.join();
  }
};

TEST(kill_restart, every_acknowledged_prompt_survives_sigkill) {
  test::temp_dir dir;
  std::string data = dir.sub("data");
  std::mt19937 rng(std::random_device{}());
  std::map<std::string, std::string> acked;  // prompt id -> body
  {
    test::crmd_server first(data);
    ASSERT_TRUE(first.start());
    ASSERT_EQ(first.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
  }
  for (int round = 0; round < 3; ++round) {
    test::crmd_server srv(data);
    std::string out;
    ASSERT_TRUE(srv.start(&out)) << out;
    posters load(srv, "r" + std::to_string(round) + " ", acked, 2000);
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 400));
    srv.kill_now();  // SIGKILL while POSTs are in flight
    load.join();
  }
  ASSERT_GT(acked.size(), 20u);

  test::crmd_server after(data);
  ASSERT_TRUE(after.start());
  for (auto& [id, text] : acked) {
    auto r = after.get("/api/business/acme/prompts/" + id);
    ASSERT_EQ(r.status, 200) << "acknowledged prompt " << id << " lost: " << r.body;
    EXPECT_EQ(json::parse(r.body)["prompt"]["body"], text);
  }
  EXPECT_EQ(after.terminate(), 0);
  auto verify = test::run({CRMD_BINARY, "verify", "--data-dir", data}, dir.path());
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
}

TEST(graceful_stop, sigterm_under_load_answers_what_it_accepted_and_exits_0) {
  test::temp_dir dir;
  std::string data = dir.sub("data");
  std::map<std::string, std::string> acked;
  {
    test::crmd_server srv(data);
    ASSERT_TRUE(srv.start());
    ASSERT_EQ(srv.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
    posters load(srv, "", acked, 5000);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(srv.terminate(), 0);  // SIGTERM while POSTs are in flight
    load.join();
  }
  ASSERT_GT(acked.size(), 5u);
  test::crmd_server after(data);
  ASSERT_TRUE(after.start());
  auto list = json::parse(after.get("/api/business/acme/prompts?limit=200").body);
  EXPECT_EQ(list["total"].get<size_t>(), acked.size()) << "only acknowledged saves are stored, all of them";
  for (auto& [id, text] : acked) {
    auto r = after.get("/api/business/acme/prompts/" + id);
    ASSERT_EQ(r.status, 200) << id;
    EXPECT_EQ(json::parse(r.body)["prompt"]["body"], text);
  }
}

}  // namespace
}  // namespace crmd
