// WhatsApp bridge scenarios from fixture files (tests/fixtures/whatsapp/*.json,
// format in its README.md): one test per file. Each starts the real `crmd
// serve` on loopback with a fake bridge, calls POST /api/whatsapp/start,
// replays the file's Baileys-shaped deliveries through the real webhook
// (/webhook/whatsapp/{tenant}/events), and checks what must hold through the
// public API (/api/whatsapp/status, /qr, /history, /api/wa/messages) and the
// calls the fake bridge received. Waits poll with a deadline.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/fake_http_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using test::crmd_server;
using test::fake_http_server;
using test::fake_request;
using test::fake_response;

const std::string secret = "fixture-bridge-secret-0123456789";
const std::string tenant = "acme";
constexpr auto deadline = std::chrono::seconds(6);   // for any one wait (a backoff is 1-1.2 s)
constexpr int64_t default_quiet_ms = 250;

std::vector<std::string> fixture_files() {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(CRMD_FIXTURE_DIR, ec))
    if (e.path().extension() == ".json") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string stem(const std::string& path) { return fs::path(path).stem().string(); }

std::string short_dump(const json& j, size_t max = 600) {
  std::string s = j.dump();
  return s.size() > max ? s.substr(0, max) + "..." : s;
}

// "" when `actual` has everything `expected` says, else where it differs.
// Objects match on the keys given (a key expected null may also be absent),
// arrays element by element with the same length, numbers by value;
// {"$between":[lo,hi]} matches a number in [lo, hi].
std::string differs(const json& expected, const json& actual, const std::string& path = "") {
  if (expected.is_object() && expected.size() == 1 && expected.contains("$between")) {
    const auto& r = expected["$between"];
    if (!actual.is_number()) return path + ": expected a number in " + r.dump() + ", got " + short_dump(actual);
    double v = actual.get<double>();
    if (v < r[0].get<double>() || v > r[1].get<double>())
      return path + ": " + actual.dump() + " is not in " + r.dump();
    return "";
  }
  if (expected.is_object()) {
    if (!actual.is_object()) return path + ": expected an object, got " + short_dump(actual);
    for (auto& [k, v] : expected.items()) {
      auto it = actual.find(k);
      if (it == actual.end()) {
        if (v.is_null()) continue;
        return path + "." + k + ": missing (expected " + short_dump(v) + ")";
      }
      if (auto m = differs(v, *it, path + "." + k); !m.empty()) return m;
    }
    return "";
  }
  if (expected.is_array()) {
    if (!actual.is_array()) return path + ": expected an array, got " + short_dump(actual);
    if (expected.size() != actual.size())
      return path + ": expected " + std::to_string(expected.size()) + " entries, got " + std::to_string(actual.size());
    for (size_t i = 0; i < expected.size(); ++i)
      if (auto m = differs(expected[i], actual[i], path + "[" + std::to_string(i) + "]"); !m.empty()) return m;
    return "";
  }
  if (expected.is_number() && actual.is_number()) {
    bool same = (expected.is_number_float() || actual.is_number_float()) ? expected.get<double>() == actual.get<double>()
                                                                          : expected == actual;
    return same ? "" : path + ": expected " + expected.dump() + ", got " + actual.dump();
  }
  if (expected != actual) return path + ": expected " + short_dump(expected) + ", got " + short_dump(actual);
  return "";
}

// Polls `check` ("" = holds) until it holds or the deadline passes; the last answer.
std::string poll(const std::function<std::string()>& check, std::chrono::milliseconds limit = deadline) {
  auto until = std::chrono::steady_clock::now() + limit;
  std::string last = check();
  while (!last.empty() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    last = check();
  }
  return last;
}

// The bridge stand-in: counts calls per operation, answers the n-th start
// with the fixture's status code if it gives one, and GET status with the
// fixture's status object (default: close, never seen).
class fake_bridge {
 public:
  fake_bridge(std::vector<int> start_answers, json status_answer)
      : start_answers_(std::move(start_answers)),
        status_answer_(status_answer.is_null() ? json{{"state", "close"}, {"qr", nullptr}, {"me", nullptr}, {"lastDisconnect", nullptr}}
                                               : std::move(status_answer)),
        server_([this](const fake_request& r) { return handle(r); }) {}

  std::string base_url() const { return server_.base_url(); }
  int starts() const { return starts_; }
  int logouts() const { return logouts_; }
  int status_calls() const { return status_calls_; }
  std::vector<fake_request> requests() const { return server_.requests(); }

  // Every call crmd made must be a protocol call for the tenant, with the secret.
  std::vector<std::string> protocol_problems() const {
    std::vector<std::string> out;
    for (auto& r : requests()) {
      std::string what = r.method + " " + r.target;
      if (r.header("x-internal-secret") != secret) out.push_back(what + ": without the shared secret");
      bool post = r.target == "/sessions/" + tenant + "/start" || r.target == "/sessions/" + tenant + "/logout";
      if (post) {
        if (r.method != "POST") out.push_back(what + ": not a POST");
        auto b = json::parse(r.body, nullptr, false);
        if (!b.is_object()) out.push_back(what + ": body is not a JSON object: " + r.body);
      } else if (r.target == "/sessions/" + tenant + "/status") {
        if (r.method != "GET") out.push_back(what + ": not a GET");
      } else {
        out.push_back(what + ": not a bridge protocol call");
      }
    }
    return out;
  }

 private:
  fake_response handle(const fake_request& r) {
    if (r.header("x-internal-secret") != secret)
      return {401, R"({"ok":false,"error":"unauthorized","message":"missing or wrong secret"})"};
    if (r.target == "/sessions/" + tenant + "/start") {
      size_t n = starts_++;
      if (n < start_answers_.size() && start_answers_[n] != 200)
        return {start_answers_[n], R"({"ok":false,"error":"internal","message":"bridge restarting"})"};
      return {200, R"({"ok":true,"state":"connecting"})"};
    }
    if (r.target == "/sessions/" + tenant + "/logout") {
      ++logouts_;
      return {200, R"({"ok":true})"};
    }
    if (r.target == "/sessions/" + tenant + "/status") {
      ++status_calls_;
      return {200, status_answer_.dump()};
    }
    return {404, R"({"ok":false,"error":"not_found","message":"no such route"})"};
  }

  std::vector<int> start_answers_;
  json status_answer_;
  std::atomic<int> starts_{0}, logouts_{0}, status_calls_{0};
  fake_http_server server_;
};

// The fixture format, checked before anything runs (a typo must not pass as
// "nothing to check").
std::string format_problem(const json& fx, const std::string& file) {
  if (!fx.is_object()) return "the file is not a JSON object";
  static const std::set<std::string> top = {"name", "description", "known_bug", "env", "bridge", "steps", "expect"};
  for (auto& [k, v] : fx.items())
    if (!top.count(k)) return "unknown top-level key '" + k + "'";
  if (!fx.contains("name") || fx["name"] != stem(file)) return "'name' must be the file name without .json";
  if (!fx.contains("description") || !fx["description"].is_string() || fx["description"].get<std::string>().empty())
    return "'description' is required";
  if (fx.contains("known_bug") && !fx["known_bug"].is_string()) return "'known_bug' must be a string";
  if (fx.contains("env")) {
    if (!fx["env"].is_object()) return "'env' must be an object of strings";
    for (auto& [k, v] : fx["env"].items())
      if (!v.is_string()) return "env '" + k + "' must be a string";
  }
  if (fx.contains("bridge")) {
    const auto& b = fx["bridge"];
    if (!b.is_object()) return "'bridge' must be an object";
    for (auto& [k, v] : b.items()) {
      if (k == "status_answer") {
        if (!v.is_object() || !v.contains("state")) return "'bridge.status_answer' must be a status object with a state";
        continue;
      }
      if (k != "start_answers") return "unknown bridge key '" + k + "'";
      if (!v.is_array()) return "'bridge.start_answers' must be an array of HTTP codes";
      for (auto& c : v)
        if (!c.is_number_integer()) return "'bridge.start_answers' must be an array of HTTP codes";
    }
  }
  if (!fx.contains("steps") || !fx["steps"].is_array()) return "'steps' must be an array";
  static const std::set<std::string> actions = {"deliver",    "call",        "expect_state",   "expect_status",
                                                "expect_qr",  "wait_bridge", "expect_messages"};
  static const std::set<std::string> extras = {"note", "expect_http", "expect_answer"};
  for (size_t i = 0; i < fx["steps"].size(); ++i) {
    const auto& s = fx["steps"][i];
    std::string at = "step " + std::to_string(i + 1) + ": ";
    if (!s.is_object()) return at + "not an object";
    int n = 0;
    std::string action;
    for (auto& [k, v] : s.items()) {
      if (actions.count(k)) {
        ++n;
        action = k;
      } else if (!extras.count(k)) {
        return at + "unknown key '" + k + "'";
      }
    }
    if (n != 1) return at + "needs exactly one of deliver, call, expect_state, expect_status, expect_qr, wait_bridge, expect_messages";
    if ((s.contains("expect_http") || s.contains("expect_answer")) && action != "deliver" && action != "call")
      return at + "expect_http and expect_answer go with deliver or call";
    if (action == "deliver" && !s["deliver"].is_object()) return at + "'deliver' must be the JSON body";
    if (action == "call") {
      const auto& c = s["call"];
      if (!c.is_object() || !c.contains("method") || !c.contains("path") || !c["path"].is_string() ||
          c["path"].get<std::string>().rfind("/api/", 0) != 0)
        return at + "'call' needs a method and a path under /api/";
    }
    if (action == "wait_bridge") {
      if (!s["wait_bridge"].is_object() || s["wait_bridge"].empty()) return at + "'wait_bridge' needs counts";
      for (auto& [k, v] : s["wait_bridge"].items())
        if ((k != "starts" && k != "logouts" && k != "status_calls") || !v.is_number_integer())
          return at + "'wait_bridge' takes integer starts, logouts, status_calls";
    }
    if (action == "expect_state" && !s["expect_state"].is_string()) return at + "'expect_state' must be a string";
  }
  if (!fx.contains("expect") || !fx["expect"].is_object() || fx["expect"].empty()) return "'expect' is required";
  static const std::set<std::string> ex = {"state",          "status",        "qr",      "bridge_starts", "bridge_logouts",
                                           "bridge_status_calls", "history", "messages", "quiet_ms"};
  for (auto& [k, v] : fx["expect"].items())
    if (!ex.count(k)) return "unknown expect key '" + k + "'";
  if (fx["expect"].contains("history") && !fx["expect"]["history"].is_array()) return "'expect.history' must be an array";
  return "";
}

class replay {
 public:
  replay(std::string file, json fx) : file_(std::move(file)), fx_(std::move(fx)) {}

  // Runs the fixture; what did not hold, in order. Setup failures are fatal.
  std::vector<std::string> run() {
    std::vector<int> answers;
    json status_answer;
    if (fx_.contains("bridge") && fx_["bridge"].contains("start_answers"))
      answers = fx_["bridge"]["start_answers"].get<std::vector<int>>();
    if (fx_.contains("bridge") && fx_["bridge"].contains("status_answer")) status_answer = fx_["bridge"]["status_answer"];
    bridge_ = std::make_unique<fake_bridge>(answers, status_answer);
    std::vector<std::pair<std::string, std::string>> env = {
        {"BAILEYS_BASE_URL", bridge_->base_url()},
        {"INTERNAL_SECRET", secret},
        {"WA_BACKOFF_CAP_MS", "1000"},  // the shortest allowed: every reconnect delay is 1-1.2 s
    };
    if (fx_.contains("env"))
      for (auto& [k, v] : fx_["env"].items()) {
        env.erase(std::remove_if(env.begin(), env.end(), [&](auto& p) { return p.first == k; }), env.end());
        env.emplace_back(k, v.get<std::string>());
      }
    server_ = std::make_unique<crmd_server>(dir_.sub("data"), env);
    std::string out;
    if (!server_->start(&out)) return {"crmd serve did not start: " + out};
    auto created = server_->post("/api/admin/tenants", R"({"id":"acme","name":"Acme Lettings"})");
    if (created.status != 201) return {"could not create the tenant: " + created.body};
    auto started = api("POST", "/api/whatsapp/start");
    if (started.status != 200 || test::body(started)["state"] != "starting")
      return {"POST /api/whatsapp/start: " + std::to_string(started.status) + " " + started.body};

    std::vector<std::string> problems;
    const auto& steps = fx_["steps"];
    for (size_t i = 0; i < steps.size(); ++i) {
      std::string p = step(steps[i]);
      if (!p.empty()) {
        std::string note = steps[i].contains("note") ? " (" + steps[i]["note"].get<std::string>() + ")" : "";
        problems.push_back("step " + std::to_string(i + 1) + note + ": " + p);
        break;  // later steps assume this one held
      }
    }
    if (problems.empty()) {
      const auto& ex = fx_["expect"];
      auto final_check = [&] { return join(check_expect(ex)); };
      if (auto p = poll(final_check); !p.empty()) {
        problems.push_back("expect: " + p);
      } else {
        int64_t quiet = ex.value("quiet_ms", default_quiet_ms);
        std::this_thread::sleep_for(std::chrono::milliseconds(quiet));  // nothing more may happen on its own
        if (auto again = final_check(); !again.empty())
          problems.push_back("expect, after " + std::to_string(quiet) + " ms quiet: " + again);
      }
    }
    for (auto& p : bridge_->protocol_problems()) problems.push_back("bridge call " + p);
    int code = server_->terminate();
    if (code != 0) problems.push_back("crmd serve exited with " + std::to_string(code) + " on SIGTERM");
    return problems;
  }

 private:
  static std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (auto& s : v) out += (out.empty() ? "" : "; ") + s;
    return out;
  }

  test::http_result api(const std::string& method, std::string path, const std::string& body = {}) {
    path += (path.find('?') == std::string::npos ? "?" : "&");
    path += "business_id=" + tenant + "&min_position=" + std::to_string(seen_);
    std::vector<std::string> h = {crmd_server::auth()};
    if (method != "GET") h.push_back(crmd_server::json());
    return test::http(method, server_->url(path), method == "GET" ? body : (body.empty() ? "{}" : body), h);
  }
  json get(const std::string& path) {
    auto r = api("GET", path);
    auto j = test::body(r);
    if (r.status != 200) return json{{"http_status", r.status}, {"body", r.body}};
    return j;
  }
  void note(const test::http_result& r) {
    auto j = test::body(r);
    if (j.is_object() && j.contains("position") && j["position"].is_number_unsigned())
      seen_ = std::max<uint64_t>(seen_, j["position"].get<uint64_t>());
  }
  static std::string check_answer(const json& s, const test::http_result& r) {
    long want = s.value("expect_http", 200L);
    if (r.status != want)
      return "HTTP " + std::to_string(r.status) + ", expected " + std::to_string(want) + ": " + r.body;
    if (s.contains("expect_answer")) {
      auto j = test::body(r);
      if (auto m = differs(s["expect_answer"], j, "answer"); !m.empty()) return m + " in " + short_dump(j);
    }
    return "";
  }

  std::string step(const json& s) {
    if (s.contains("deliver")) {
      auto r = test::http("POST", server_->url("/webhook/whatsapp/" + tenant + "/events"), s["deliver"].dump(),
                          {"Content-Type: application/json", "X-Internal-Secret: " + secret});
      note(r);
      return check_answer(s, r);
    }
    if (s.contains("call")) {
      const auto& c = s["call"];
      auto r = api(c["method"].get<std::string>(), c["path"].get<std::string>(), c.contains("body") ? c["body"].dump() : "");
      note(r);
      return check_answer(s, r);
    }
    if (s.contains("expect_state")) return poll([&] { return differs(s["expect_state"], get("/api/whatsapp/status")["state"], "state"); });
    if (s.contains("expect_status")) return poll([&] { return differs(s["expect_status"], get("/api/whatsapp/status"), "status"); });
    if (s.contains("expect_qr")) return poll([&] { return differs(s["expect_qr"], get("/api/whatsapp/qr"), "qr"); });
    if (s.contains("expect_messages")) return poll([&] { return differs(s["expect_messages"], get("/api/wa/messages?limit=200"), "messages"); });
    // wait_bridge: each count reaches its value, and is exactly it.
    auto counts = [&] {
      return json{{"starts", bridge_->starts()}, {"logouts", bridge_->logouts()}, {"status_calls", bridge_->status_calls()}};
    };
    const auto& want = s["wait_bridge"];
    std::string reached = poll([&] {
      auto c = counts();
      for (auto& [k, v] : want.items())
        if (c[k].get<int>() < v.get<int>()) return "bridge " + k + " " + c[k].dump() + " < " + v.dump();
      return std::string();
    });
    if (!reached.empty()) return reached;
    return differs(want, counts(), "bridge");
  }

  // Every expectation that does not hold now.
  std::vector<std::string> check_expect(const json& ex) {
    std::vector<std::string> out;
    auto add = [&](std::string m) {
      if (!m.empty()) out.push_back(std::move(m));
    };
    if (ex.contains("state") || ex.contains("status")) {
      json st = get("/api/whatsapp/status");
      if (ex.contains("state")) add(differs(ex["state"], st["state"], "status.state"));
      if (ex.contains("status")) add(differs(ex["status"], st, "status"));
    }
    if (ex.contains("qr")) add(differs(ex["qr"], get("/api/whatsapp/qr"), "qr"));
    auto count = [&](const char* key, int actual) {
      if (ex.contains(key)) add(differs(ex[key], json(actual), key));
    };
    count("bridge_starts", bridge_->starts());
    count("bridge_logouts", bridge_->logouts());
    count("bridge_status_calls", bridge_->status_calls());
    if (ex.contains("history")) {
      json h = get("/api/whatsapp/history?limit=200");
      json oldest_first = json::array();
      if (h.contains("results") && h["results"].is_array())
        for (auto it = h["results"].rbegin(); it != h["results"].rend(); ++it) oldest_first.push_back(*it);
      if (auto m = differs(ex["history"], oldest_first, "history"); !m.empty()) {
        std::string seen;
        for (auto& e : oldest_first) {
          json d = e.value("data", json::object());
          d.erase("session");
          seen += "\n    " + e.value("type", std::string("?")) + " by " + e.value("by", std::string("?")) + " " + d.dump();
        }
        add(m + "; the history is (oldest first):" + seen);
      }
    }
    if (ex.contains("messages")) add(differs(ex["messages"], get("/api/wa/messages?limit=200"), "messages"));
    return out;
  }

  std::string file_;
  json fx_;
  test::temp_dir dir_;
  std::unique_ptr<fake_bridge> bridge_;
  std::unique_ptr<crmd_server> server_;
  uint64_t seen_ = 0;
};

class whatsapp_fixture : public ::testing::TestWithParam<std::string> {};

TEST_P(whatsapp_fixture, replays_and_holds) {
  const std::string file = GetParam();
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  json fx = json::parse(text.str(), nullptr, false);
  ASSERT_FALSE(fx.is_discarded()) << file << ": not valid JSON";
  std::string bad = format_problem(fx, file);
  ASSERT_TRUE(bad.empty()) << file << ": " << bad;
  RecordProperty("fixture", file);

  auto problems = replay(file, fx).run();
  if (fx.contains("known_bug")) {
    // A known crmd bug, written down in the fixture: the scenario states
    // what must hold, and it still does not. Shown as skipped (not passed);
    // once the bug is fixed this fails until the marker is removed.
    ASSERT_FALSE(problems.empty()) << file << ": the known bug no longer shows; remove \"known_bug\" from the fixture";
    std::string all;
    for (auto& p : problems) all += "\n  " + p;
    GTEST_SKIP() << "KNOWN BUG (" << stem(file) << "): " << fx["known_bug"].get<std::string>() << all;
  }
  for (auto& p : problems) ADD_FAILURE() << file << ": " << p;
}

INSTANTIATE_TEST_SUITE_P(files, whatsapp_fixture, ::testing::ValuesIn(fixture_files()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = stem(info.param);
                           for (auto& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

// The fixture directory is where the build says, documented, and not empty
// (an empty list would run no scenario at all).
TEST(whatsapp_fixture_files, are_present_and_documented) {
  EXPECT_GE(fixture_files().size(), 10u) << CRMD_FIXTURE_DIR;
  EXPECT_TRUE(fs::exists(fs::path(CRMD_FIXTURE_DIR) / "README.md"));
}

// The matcher the fixtures rely on, on its own.
TEST(whatsapp_fixture_files, the_subset_matcher_reports_differences) {
  EXPECT_EQ(differs(json::parse(R"({"a":1})"), json::parse(R"({"a":1,"b":2})")), "");
  EXPECT_NE(differs(json::parse(R"({"a":1})"), json::parse(R"({"a":2})")), "");
  EXPECT_NE(differs(json::parse(R"({"c":1})"), json::parse(R"({"a":1})")), "");
  EXPECT_EQ(differs(json::parse(R"({"c":null})"), json::parse(R"({"a":1})")), "");
  EXPECT_NE(differs(json::parse(R"({"c":null})"), json::parse(R"({"c":"x"})")), "");
  EXPECT_NE(differs(json::parse(R"([1])"), json::parse(R"([1,2])")), "") << "arrays match in length";
  EXPECT_EQ(differs(json::parse(R"({"$between":[1000,1200]})"), json(1100)), "");
  EXPECT_NE(differs(json::parse(R"({"$between":[1000,1200]})"), json(1201)), "");
  EXPECT_EQ(differs(json(1718010902337000), json(uint64_t{1718010902337000})), "");
  EXPECT_NE(differs(json("1"), json(1)), "");
}

}  // namespace
}  // namespace crmd
