// crmd backup / crmd restore end to end: a backup taken through a running
// server under write load restores into a fresh directory whose chains
// verify and which holds every write acknowledged before the backup began.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::body;
using test::crmd_server;
namespace fs = std::filesystem;

// The CLI reaches a running server with the operator token from the environment.
test::process_result crmd_cli(const std::vector<std::string>& args, const std::string& scratch) {
  std::vector<std::string> argv{CRMD_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  ::setenv("CRMD_ADMIN_TOKEN", test::test_token, 1);
  auto r = test::run(argv, scratch);
  ::unsetenv("CRMD_ADMIN_TOKEN");
  return r;
}

size_t lead_count(const std::string& data, const std::string& scratch) {
  auto ev = test::run({CRMD_BINARY, "events", "--data-dir", data}, scratch);
  size_t n = 0;
  std::istringstream lines(ev.out);
  for (std::string line; std::getline(lines, line);) n += line.find("\"type\":\"lead_created\"") != std::string::npos;
  return n;
}

TEST(backup, taken_under_write_load_it_restores_verifies_and_keeps_every_acknowledged_write) {
  test::temp_dir dir;
  std::string data = dir.sub("data");
  crmd_server server(data);
  ASSERT_TRUE(server.start());
  ASSERT_EQ(server.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
  // A recording as the call pipeline leaves it, and one still downloading.
  fs::create_directories(data + "/recordings/acme");
  std::ofstream(data + "/recordings/acme/CA1-RE1.mp3", std::ios::binary) << std::string(3000, '\x5a');
  std::ofstream(data + "/recordings/acme/CA2-RE2.mp3.part", std::ios::binary) << "half";

  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      for (int i = 0; !stop; ++i) {
        std::string phone = "+9725" + std::to_string(10000000 + w * 1000000 + i);
        auto r = server.post("/api/leads?business_id=acme", json{{"name", "Load"}, {"phone", phone}}.dump());
        if (r.status == 201) ++acked;
      }
    });
  while (acked < 50) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  int acked_before = acked;
  auto made = crmd_cli({"backup", dir.sub("backup"), "--data-dir", data}, dir.path());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // writes go on after it too
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto report = json::parse(made.out);
  EXPECT_EQ(report["ok"], true);
  EXPECT_GT(report["events"].get<int>(), acked_before);
  EXPECT_EQ(fs::status(dir.sub("backup")).permissions() & fs::perms::all, fs::perms::owner_all) << "holds secrets";

  // A backup never overwrites one.
  auto again = crmd_cli({"backup", dir.sub("backup"), "--data-dir", data}, dir.path());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;

  auto restored = crmd_cli({"restore", dir.sub("backup"), "--data-dir", dir.sub("restored")}, dir.path());
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  auto verify = test::run({CRMD_BINARY, "verify", "--data-dir", dir.sub("restored")}, dir.path());
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  size_t in_copy = lead_count(dir.sub("restored"), dir.path());
  EXPECT_GE(in_copy, size_t(acked_before)) << "every lead acknowledged before the backup began";
  EXPECT_LE(in_copy, size_t(acked.load()));
  EXPECT_EQ(test::read_file(dir.sub("restored") + "/recordings/acme/CA1-RE1.mp3"), std::string(3000, '\x5a'));
  EXPECT_FALSE(fs::exists(dir.sub("restored") + "/recordings/acme/CA2-RE2.mp3.part")) << "partial files stay behind";
  server.terminate();

  // The restored directory serves: the views catch up from the log.
  crmd_server copy(dir.sub("restored"));
  ASSERT_TRUE(copy.start());
  auto leads = copy.get("/api/leads?business_id=acme&limit=1");
  ASSERT_EQ(leads.status, 200) << leads.body;
  uint64_t total = 0;
  for (int i = 0; i < 100 && (total = body(copy.get("/api/leads?business_id=acme&limit=1"))["total"].get<uint64_t>()) < in_copy; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(total, in_copy);
  copy.terminate();

  // Restoring over something is refused; a stopped store backs up directly.
  auto over = crmd_cli({"restore", dir.sub("backup"), "--data-dir", data}, dir.path());
  EXPECT_EQ(over.exit_code, 1);
  EXPECT_NE(over.err.find("not empty"), std::string::npos) << over.err;
  auto offline = crmd_cli({"backup", dir.sub("offline"), "--data-dir", data}, dir.path());
  EXPECT_EQ(offline.exit_code, 0) << offline.err;
  auto whole = test::run({CRMD_BINARY, "verify", "--data-dir", data}, dir.path());
  ASSERT_EQ(whole.exit_code, 0);
  EXPECT_EQ("ok: " + std::to_string(json::parse(offline.out)["events"].get<uint64_t>()) + " events",
            whole.out.substr(0, whole.out.find(',')))
      << "a backup of a stopped store holds all of it";
}

TEST(backup, only_the_operator_takes_one_over_http) {
  test::temp_dir dir;
  crmd_server server(dir.sub("data"));
  ASSERT_TRUE(server.start());
  ASSERT_EQ(server.post("/api/admin/users", R"({"email":"root@crmd.test","password":"a-long-password-1","role":"system_admin"})").status,
            201);
  auto login = server.login("root@crmd.test", "a-long-password-1");
  ASSERT_EQ(login.status, 200) << login.body;
  auto admin = crmd_server::bearer(body(login).value("access_token", ""));
  auto r = test::http("POST", server.url("/api/admin/backup"), json{{"dir", dir.sub("b")}}.dump(), {admin, crmd_server::json()});
  test::expect_error(r, 403, "forbidden");
  EXPECT_FALSE(fs::exists(dir.sub("b")));
  test::expect_error(server.post("/api/admin/backup", R"({"dir":"relative/path"})"), 400, "invalid_field");
  test::expect_error(server.post("/api/admin/backup", R"({"dir":"/no/such/parent/x"})"), 400, "invalid_field");
  test::expect_error(server.post("/api/admin/backup", R"({"dir":42})"), 400, "invalid_field");
}

}  // namespace
}  // namespace crmd
