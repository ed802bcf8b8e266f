// The call aggregate, Given/When/Then: Twilio's repeats and reorderings
// decide nothing, and the pipeline's next step follows from the events.
#include <gtest/gtest.h>

#include "actors/call/call_decider.hpp"

namespace crmd::call {
namespace {

struct call_decider_test : ::testing::Test {
  state s;
  void given(std::vector<ev::call_event> history) {
    for (auto& e : history) call::apply(s, e);
  }
  std::vector<ev::call_event> when(const command& c) {
    auto r = call::decide(s, c);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : std::vector<ev::call_event>{};
  }
  static ev::call_started started() { return {"CA1", "+972501234567", "+97233763805", "inbound", "L1", "ringing"}; }
  static record_status status_cb(const std::string& st, int64_t seq) {
    return record_status{{"CA1", "+972501234567", "+97233763805", "inbound", "", ""}, st, seq, -1};
  }
};

TEST_F(call_decider_test, the_first_webhook_starts_the_call_and_a_retry_decides_nothing) {
  auto first = when(start_call{"CA1", "+972501234567", "+97233763805", "inbound", "L1", "ringing"});
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(std::get<ev::call_started>(first[0]).contact_id, "L1");
  given(first);
  EXPECT_TRUE(when(start_call{"CA1", "+972501234567", "+97233763805", "inbound", "L1", "ringing"}).empty());
}

TEST_F(call_decider_test, statuses_only_move_forward_and_a_finished_call_stays_finished) {
  given({started()});
  auto progress = when(status_cb("in-progress", 1));
  ASSERT_EQ(progress.size(), 1u);
  given(progress);
  EXPECT_TRUE(when(status_cb("in-progress", 1)).empty()) << "a repeat";
  EXPECT_TRUE(when(status_cb("ringing", 0)).empty()) << "late and behind";
  given(when(status_cb("completed", 3)));
  EXPECT_EQ(s.status, "completed");
  EXPECT_TRUE(when(status_cb("ringing", 5)).empty()) << "never back to ringing";
  EXPECT_TRUE(when(status_cb("busy", 6)).empty()) << "the first end wins";
}

TEST_F(call_decider_test, a_status_callback_for_an_unknown_call_starts_it) {
  auto evs = when(status_cb("completed", 2));
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<ev::call_started>(evs[0]));
  EXPECT_EQ(std::get<ev::call_status_changed>(evs[1]).status, "completed");
}

TEST_F(call_decider_test, garbage_is_refused_as_a_value) {
  EXPECT_FALSE(decide(s, start_call{"", "+1", "+2", "inbound", "", ""}));
  EXPECT_FALSE(decide(s, start_call{"CA/../x", "+1", "+2", "inbound", "", ""}));
  EXPECT_FALSE(decide(s, status_cb("exploded", 1)));
  EXPECT_EQ(decide(s, note_recording{"RE1", "https://api.twilio.com/x", "completed", 3}).error().reason(),
            "call_not_found");
  given({started()});
  EXPECT_FALSE(decide(s, note_recording{"RE1", "file:///etc/passwd", "completed", 3}));
}

TEST_F(call_decider_test, the_pipeline_steps_follow_the_events_once_each) {
  given({started()});
  EXPECT_TRUE(std::holds_alternative<std::monostate>(next_step(s)));
  given(when(note_recording{"RE1", "https://api.twilio.com/r/RE1", "completed", 7}));
  EXPECT_TRUE(when(note_recording{"RE1", "https://api.twilio.com/r/RE1", "completed", 7}).empty()) << "repeat";
  ASSERT_TRUE(std::holds_alternative<download>(next_step(s)));
  given(when(record_outcome{ev::recording_downloaded{"CA1", "RE1", "recordings/acme/CA1-RE1.mp3", "ab", 3, 1}}));
  EXPECT_TRUE(when(record_outcome{ev::recording_download_failed{"CA1", "RE1", "late"}}).empty()) << "already done";
  ASSERT_EQ(std::get<transcribe>(next_step(s)).file, "recordings/acme/CA1-RE1.mp3");
  given(when(record_outcome{ev::call_transcribed{"CA1", "shalom", "he", "fallback", {"primary: HTTP 500"}}}));
  ASSERT_EQ(std::get<summarize>(next_step(s)).transcript, "shalom");
  given(when(record_outcome{ev::call_summarized{"CA1", "Wants a quote."}}));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(next_step(s)));
  // An admin's retry runs transcription and summary again.
  given(when(retry_transcription{}));
  EXPECT_TRUE(std::holds_alternative<transcribe>(next_step(s)));
}

TEST_F(call_decider_test, a_failed_download_can_be_retried_and_nothing_else_can) {
  given({started()});
  EXPECT_EQ(decide(s, retry_transcription{}).error().reason(), "nothing_to_retry");
  given(when(note_recording{"RE1", "https://api.twilio.com/r/RE1", "completed", 7}));
  given(when(record_outcome{ev::recording_download_failed{"CA1", "RE1", "media_unavailable"}}));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(next_step(s)));
  given(when(retry_transcription{}));
  EXPECT_TRUE(std::holds_alternative<download>(next_step(s)));
}

}  // namespace
}  // namespace crmd::call
