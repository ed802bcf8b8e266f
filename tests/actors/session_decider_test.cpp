// The WhatsApp session, Given/When/Then: single-flight start, stale
// deliveries, the reconnect policy per DisconnectReason, QR limits, and the
// watchdog that keeps any state from hanging.
#include <gtest/gtest.h>

#include "actors/whatsapp/session_decider.hpp"

namespace crmd::wa {
namespace {

constexpr int64_t t0 = 1'700'000'000'000'000;

struct session_decider_test : ::testing::Test {
  state s;
  policy p;
  int64_t now = t0;
  session_decider_test() { s.session = "main"; }

  std::vector<ev::whatsapp_event> when(const command& c) {
    auto r = wa::decide(s, c, p);
    EXPECT_TRUE(r) << r.error().message();
    if (!r) return {};
    for (auto& e : r->events) wa::apply(s, e, now);
    return r->events;
  }
  bridge_update update(std::optional<uint64_t> seq) {
    bridge_update u;
    u.seq = seq;
    u.now_us = now;
    return u;
  }
  bridge_update qr(uint64_t seq) {
    auto u = update(seq);
    u.qr = "2@qr" + std::to_string(seq);
    return u;
  }
  bridge_update close(uint64_t seq, int64_t code, std::string reason = "") {
    auto u = update(seq);
    u.connection = "close";
    u.code = code;
    u.reason = std::move(reason);
    return u;
  }
  bridge_update open(uint64_t seq) {
    auto u = update(seq);
    u.connection = "open";
    u.me_id = "972501234567:1@s.whatsapp.net";
    u.me_name = "Acme";
    return u;
  }
  template <class T>
  static bool has(const std::vector<ev::whatsapp_event>& evs) {
    for (auto& e : evs)
      if (std::holds_alternative<T>(e)) return true;
    return false;
  }
};

TEST_F(session_decider_test, start_is_single_flight_and_never_replaces_a_qr_being_scanned) {
  EXPECT_TRUE(has<ev::wa_start_requested>(when(start{})));
  EXPECT_TRUE(when(start{}).empty()) << "starting";
  when(qr(1));
  EXPECT_EQ(s.status, "qr");
  EXPECT_TRUE(when(start{}).empty()) << "showing a QR: the same QR stays";
  when(open(2));
  EXPECT_EQ(s.status, "connected");
  EXPECT_TRUE(when(start{}).empty()) << "connected";
  EXPECT_TRUE(has<ev::wa_start_requested>(when(start{"restart"}))) << "an explicit restart does restart";
}

TEST_F(session_decider_test, stale_or_repeated_deliveries_decide_nothing_and_seq_may_be_absent) {
  when(start{});
  when(qr(5));
  EXPECT_TRUE(when(qr(5)).empty()) << "repeat";
  EXPECT_TRUE(when(qr(3)).empty()) << "stale";
  EXPECT_EQ(s.qr_count, 1);
  auto u = qr(0);
  u.seq.reset();  // an older bridge sends no seq
  EXPECT_TRUE(has<ev::wa_qr_shown>(when(u)));
  EXPECT_EQ(s.qr_count, 2);
}

TEST_F(session_decider_test, pairing_scan_then_515_restarts_at_once_then_open) {
  when(start{});
  when(qr(1));
  auto scan = update(2);
  scan.is_new_login = true;
  EXPECT_TRUE(has<ev::wa_scanned>(when(scan)));
  auto restart = when(close(3, 515));
  ASSERT_TRUE(has<ev::wa_start_requested>(restart));
  EXPECT_EQ(std::get<ev::wa_start_requested>(restart.back()).cause, "restart_required");
  EXPECT_FALSE(has<ev::wa_retry_scheduled>(restart)) << "no backoff for 515";
  when(open(4));
  EXPECT_EQ(s.status, "connected");
  EXPECT_EQ(s.jid, "972501234567:1@s.whatsapp.net");
}

TEST_F(session_decider_test, each_disconnect_code_has_one_next_state) {
  struct row {
    int64_t code;
    const char* reason;
    const char* status;
  };
  for (auto r : {row{401, "", "logged_out"}, row{440, "", "stopped"}, row{403, "", "stopped"},
                 row{428, "", "reconnecting"}, row{408, "", "reconnecting"}, row{500, "", "reconnecting"},
                 row{503, "", "reconnecting"}, row{411, "", "reconnecting"}, row{515, "", "starting"},
                 row{999, "", "reconnecting"}}) {
    state fresh;
    fresh.session = "main";
    s = fresh;
    when(start{});
    when(open(1));
    when(close(2, r.code, r.reason));
    EXPECT_EQ(s.status, r.status) << "code " << r.code;
    ASSERT_TRUE(s.last_disconnect) << r.code;
    EXPECT_EQ(s.last_disconnect->code, r.code);
  }
}

TEST_F(session_decider_test, a_408_while_showing_qr_codes_means_they_ran_out) {
  when(start{});
  when(qr(1));
  when(close(2, 408, "QR refs attempts ended"));
  EXPECT_EQ(s.status, "stopped");
}

TEST_F(session_decider_test, at_most_max_qr_codes_per_start_then_stopped) {
  p.max_qr = 3;
  when(start{});
  for (uint64_t i = 1; i <= 3; ++i) when(qr(i));
  EXPECT_EQ(s.qr_count, 3);
  auto evs = when(qr(4));
  ASSERT_TRUE(has<ev::wa_stopped>(evs));
  EXPECT_EQ(std::get<ev::wa_stopped>(evs[0]).cause, "qr_attempts_exhausted");
  EXPECT_TRUE(when(qr(5)).empty()) << "a stopped session shows no QR";
}

TEST_F(session_decider_test, backoff_doubles_with_jitter_up_to_the_cap_then_fails) {
  p.backoff_base_ms = 1000;
  p.backoff_cap_ms = 8000;
  p.max_failures = 5;
  when(start{});
  uint64_t seq = 1;
  std::vector<int64_t> delays;
  for (int i = 0; i < 5; ++i) {
    auto evs = when(close(seq++, 428));
    ASSERT_TRUE(has<ev::wa_retry_scheduled>(evs)) << i;
    auto& r = std::get<ev::wa_retry_scheduled>(evs.back());
    delays.push_back(r.delay_ms);
    EXPECT_EQ(r.due_us, now + r.delay_ms * 1000);
    EXPECT_TRUE(when(close(seq++, 428)).empty()) << "one pending retry at most";
    EXPECT_TRUE(when(retry_due{r.attempt - 1}).empty()) << "an old timer does nothing";
    EXPECT_TRUE(has<ev::wa_start_requested>(when(retry_due{r.attempt})));
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{1000, 2000, 4000, 8000, 8000}));
  EXPECT_TRUE(has<ev::wa_failed>(when(close(seq++, 428))));
  EXPECT_EQ(s.status, "failed");
  EXPECT_EQ(backoff_ms(p, 1, 0.999), 1199) << "up to 20% jitter";
}

TEST_F(session_decider_test, the_users_start_after_failed_begins_a_new_count) {
  p.max_failures = 2;
  when(start{});
  when(close(1, 503));
  when(retry_due{1});
  when(close(2, 503));
  when(retry_due{2});
  EXPECT_TRUE(has<ev::wa_failed>(when(close(3, 503))));
  EXPECT_EQ(s.status, "failed");
  when(start{});
  auto evs = when(close(4, 428));
  ASSERT_TRUE(has<ev::wa_retry_scheduled>(evs)) << "a retry, not failed again at once";
  EXPECT_EQ(std::get<ev::wa_retry_scheduled>(evs.back()).attempt, 1);
  // A reconnect's start keeps counting.
  when(retry_due{1});
  EXPECT_EQ(std::get<ev::wa_retry_scheduled>(when(close(5, 428)).back()).attempt, 2);
  // So does the user's restart begin anew.
  when(start{"restart", now});
  EXPECT_EQ(s.failures, 0);
}

TEST_F(session_decider_test, a_connection_resets_the_failure_count) {
  when(start{});
  when(close(1, 500));
  when(retry_due{1});
  when(open(2));
  EXPECT_EQ(s.failures, 0);
  auto evs = when(close(3, 500));
  EXPECT_EQ(std::get<ev::wa_retry_scheduled>(evs.back()).attempt, 1);
}

TEST_F(session_decider_test, nothing_hangs_the_watchdog_reconciles_with_the_bridge) {
  p.start_timeout_ms = 60000;
  when(start{});
  auto early = wa::decide(s, watchdog{now + 10'000'000}, p);
  EXPECT_FALSE(early->ask_bridge_status);
  auto late = wa::decide(s, watchdog{now + 61'000'000}, p);
  EXPECT_TRUE(late->ask_bridge_status);
  // The bridge says it is open: adopt it.
  auto adopt = when(bridge_status{"open", "972501234567@s.whatsapp.net", "Acme", now});
  EXPECT_TRUE(has<ev::wa_connected>(adopt));
  // Scanned but no open: restart once.
  state fresh;
  fresh.session = "main";
  s = fresh;
  when(start{});
  when(qr(1));
  auto scan = update(2);
  scan.is_new_login = true;
  when(scan);
  EXPECT_TRUE(wa::decide(s, watchdog{now + 61'000'000}, p)->ask_bridge_status);
  auto restart = when(bridge_status{"close", "", "", now});
  ASSERT_TRUE(has<ev::wa_start_requested>(restart));
  EXPECT_EQ(std::get<ev::wa_start_requested>(restart[0]).cause, "reconcile");
}

TEST_F(session_decider_test, the_reconcile_restart_happens_once_then_the_session_stops) {
  p.start_timeout_ms = 60000;
  when(start{});
  when(bridge_status{"connecting", "", "", now});  // stuck: restart once
  EXPECT_EQ(s.status, "starting");
  EXPECT_TRUE(s.reconciled);
  // An answer before that restart had its whole timeout (crmd recovering,
  // or a late answer to an earlier question) decides nothing.
  EXPECT_TRUE(when(bridge_status{"close", "", "", now + 59'000'000}).empty());
  auto again = when(bridge_status{"connecting", "", "", now + 60'000'000});
  ASSERT_EQ(again.size(), 1u);
  ASSERT_TRUE(has<ev::wa_stopped>(again)) << "no second restart";
  EXPECT_EQ(std::get<ev::wa_stopped>(again[0]).cause, "start_timeout");
  EXPECT_FALSE(wa::decide(s, watchdog{now + 3'600'000'000}, p)->ask_bridge_status) << "stopped waits for the user";
  // The user's next start is a fresh one, with its own restart.
  when(start{});
  EXPECT_FALSE(s.reconciled);
  EXPECT_TRUE(has<ev::wa_start_requested>(when(bridge_status{"close", "", "", now})));
  EXPECT_TRUE(s.reconciled);
  // A restart that shows a QR made progress: a scan stuck after it restarts once more.
  when(qr(1));
  EXPECT_FALSE(s.reconciled);
  auto scan = update(2);
  scan.is_new_login = true;
  when(scan);
  EXPECT_TRUE(has<ev::wa_start_requested>(when(bridge_status{"connecting", "", "", now})));
}

TEST_F(session_decider_test, a_session_believed_open_is_restarted_when_the_bridge_lost_it) {
  when(start{});
  when(open(1));
  EXPECT_TRUE(when(bridge_status{"open", "", "", now}).empty());
  auto evs = when(bridge_status{"close", "", "", now});
  ASSERT_TRUE(has<ev::wa_start_requested>(evs));
  EXPECT_EQ(std::get<ev::wa_start_requested>(evs[0]).cause, "reconcile");
}

TEST_F(session_decider_test, logout_needs_a_new_qr_and_echoes_change_nothing) {
  when(start{});
  when(open(1));
  EXPECT_TRUE(has<ev::wa_logged_out>(when(logout{})));
  EXPECT_EQ(s.status, "logged_out");
  EXPECT_TRUE(when(close(2, 401)).empty()) << "the bridge's close after our logout is an echo";
  EXPECT_TRUE(has<ev::wa_start_requested>(when(start{})));
}

TEST(session_names, are_short_lowercase_words) {
  EXPECT_TRUE(valid_session("main"));
  EXPECT_TRUE(valid_session("sales-2"));
  EXPECT_FALSE(valid_session(""));
  EXPECT_FALSE(valid_session("Main"));
  EXPECT_FALSE(valid_session("../x"));
  EXPECT_FALSE(valid_session("cloud")) << "the Cloud API's label";
  EXPECT_EQ(stream_of("acme", "main"), "acme/wa/main");
}

}  // namespace
}  // namespace crmd::wa
