// GET /api/stream end to end: live events of the caller's tenant only,
// replay after Last-Event-ID, heartbeats.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
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
using namespace std::chrono_literals;


// Reads an event stream on its own thread until stopped (or 20 s pass).
class sse_client {
 public:
  sse_client(const std::string& url, std::vector<std::string> headers) {
    thread_ = std::thread([this, url, headers] {
      CURL* c = curl_easy_init();
      curl_slist* hs = nullptr;
      for (auto& h : headers) hs = curl_slist_append(hs, h.c_str());
      curl_easy_setopt(c, CURLOPT_URL, url.c_str());
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
      curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
      curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* self) -> size_t {
        auto* me = static_cast<sse_client*>(self);
        if (me->stop_) return 0;  // aborts the transfer
        std::lock_guard lock(me->mu_);
        me->text_.append(p, s * n);
        return s * n;
      });
      curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
      curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, +[](void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
        return static_cast<sse_client*>(self)->stop_.load() ? 1 : 0;
      });
      curl_easy_setopt(c, CURLOPT_XFERINFODATA, this);
      curl_easy_perform(c);
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status_);
      curl_slist_free_all(hs);
      curl_easy_cleanup(c);
      done_ = true;
    });
  }
  ~sse_client() {
    stop_ = true;
    thread_.join();
  }
  std::string text() {
    std::lock_guard lock(mu_);
    return text_;
  }
  // Waits (up to 10 s) until the stream has shown `needle`.
  bool wait_for(const std::string& needle) {
    for (int i = 0; i < 200; ++i) {
      if (text().find(needle) != std::string::npos) return true;
      if (done_) return false;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  bool finished() const { return done_; }
  long status() const { return status_; }

 private:
  std::mutex mu_;
  std::string text_;
  std::atomic<bool> stop_{false}, done_{false};
  long status_ = 0;
  std::thread thread_;
};

struct live_test : ::testing::Test {
  test::temp_dir dir;
  crmd_server s{dir.sub("data")};
  std::string owner_b;
  void SetUp() override {
    ASSERT_TRUE(s.start());
    for (auto t : {R"({"id":"acme","name":"A"})", R"({"id":"beta","name":"B"})"})
      ASSERT_EQ(s.post("/api/admin/tenants", t).status, 201);
    ASSERT_EQ(s.post("/api/admin/users", json{{"email", "o@beta.test"}, {"password", "correct horse battery"},
                                             {"role", "owner"}, {"tenant_id", "beta"}}.dump()).status, 201);
    owner_b = crmd_server::bearer(body(s.login("o@beta.test", "correct horse battery"))["access_token"]);
  }
  std::string lead(const std::string& tenant, const std::string& name) {
    auto r = test::http("POST", s.url("/api/leads?business_id=" + tenant), json{{"name", name}}.dump(),
                        {crmd_server::auth(), crmd_server::json()});
    EXPECT_EQ(r.status, 201) << r.body;
    return std::to_string(body(r)["position"].get<uint64_t>());
  }
};

TEST_F(live_test, a_tenants_stream_gets_its_own_events_and_never_another_tenants) {
  sse_client a(s.url("/api/stream?business_id=acme"), {crmd_server::auth()});
  sse_client b(s.url("/api/stream"), {owner_b});
  ASSERT_TRUE(a.wait_for(": connected"));
  ASSERT_TRUE(b.wait_for(": connected"));
  std::string pos = lead("acme", "Dana");
  ASSERT_TRUE(a.wait_for("id: " + pos + "\nevent: lead.created\ndata: ")) << a.text();
  EXPECT_NE(a.text().find("\"id\":\"L1\""), std::string::npos) << a.text();
  std::string bpos = lead("beta", "Bob");
  ASSERT_TRUE(b.wait_for("id: " + bpos + "\n")) << b.text();
  EXPECT_EQ(b.text().find("id: " + pos + "\n"), std::string::npos) << "beta never sees acme's lead";
  EXPECT_EQ(a.text().find("id: " + bpos + "\n"), std::string::npos) << "acme never sees beta's lead";
}

TEST_F(live_test, reconnecting_with_last_event_id_replays_what_was_missed) {
  std::string first = lead("acme", "One");
  std::string second = lead("acme", "Two");
  std::string third = lead("acme", "Three");
  sse_client again(s.url("/api/stream?business_id=acme"), {crmd_server::auth(), "Last-Event-ID: " + first});
  ASSERT_TRUE(again.wait_for("id: " + third + "\n")) << again.text();
  auto text = again.text();
  EXPECT_NE(text.find("id: " + second + "\n"), std::string::npos);
  EXPECT_EQ(text.find("id: " + first + "\n"), std::string::npos) << "not what it had";
  EXPECT_LT(text.find("id: " + second + "\n"), text.find("id: " + third + "\n")) << "in order";
}

TEST_F(live_test, quiet_streams_get_heartbeats_and_strangers_get_401) {
  sse_client a(s.url("/api/stream?business_id=acme"), {crmd_server::auth()});
  EXPECT_TRUE(a.wait_for(": heartbeat")) << a.text();
  auto denied = test::http("GET", s.url("/api/stream"), {}, {}, 3000);
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(body(denied)["error"], "unauthorized");
  auto bad = test::http("GET", s.url("/api/stream?business_id=acme"), {}, {crmd_server::auth(), "Last-Event-ID: x"}, 3000);
  EXPECT_EQ(bad.status, 400);
}

}  // namespace
}  // namespace crmd
