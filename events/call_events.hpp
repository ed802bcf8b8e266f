// Events of a phone call (stream "<tenant>/call/<CallSid>"), and of calls
// crmd could not route (stream "system/twilio/unrouted").
//
// A call is its own aggregate: Twilio's callbacks for one CallSid are
// decided one at a time by the call's actor (actors/call/), so repeated and
// out-of-order callbacks are settled against everything the call recorded.
// Calls that reached a contact carry the contact as their data subject, so
// erasing the person also makes recordings' metadata, transcripts and
// summaries unreadable. Same rules as tenant_events.hpp: closed,
// append-only variant; past tense; provider keys never appear here.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace crmd::ev {

struct call_started {
  static constexpr const char* type_name = "call_started";
  static constexpr uint16_t schema_version = 1;
  std::string call_sid;
  std::string from, to;    // E.164 when Twilio sent a number, else as sent ("client:alice")
  std::string direction;   // inbound | outbound-api | outbound-dial
  std::string contact_id;  // the lead or customer matched or created by the caller's number
  std::string status;      // CallStatus of the first callback
  template <class F> void fields(F&& f) {
    f("call_sid", call_sid);
    f("from", from);
    f("to", to);
    f("direction", direction);
    f("contact_id", contact_id);
    f("status", status);
  }
};

// A status callback that moved the call forward.
struct call_status_changed {
  static constexpr const char* type_name = "call_status_changed";
  static constexpr uint16_t schema_version = 1;
  std::string call_sid;
  std::string status;      // queued initiated ringing in-progress completed busy failed no-answer canceled
  int64_t sequence = -1;   // Twilio's SequenceNumber; -1 when absent
  int64_t duration_s = -1;  // CallDuration on completion; -1 when absent
  template <class F> void fields(F&& f) {
    f("call_sid", call_sid);
    f("status", status);
    f("sequence", sequence);
    f("duration_s", duration_s);
  }
};

// Twilio's recording status callback said the file is ready.
struct recording_available {
  static constexpr const char* type_name = "recording_available";
  static constexpr uint16_t schema_version = 1;
  std::string call_sid, recording_sid;
  std::string url;  // RecordingUrl, without extension
  int64_t duration_s = -1;
  template <class F> void fields(F&& f) {
    f("call_sid", call_sid);
    f("recording_sid", recording_sid);
    f("url", url);
    f("duration_s", duration_s);
  }
};

// Twilio's recording status callback said failed or absent.
struct recording_failed {
  static constexpr const char* type_name = "recording_failed";
  static constexpr uint16_t schema_version = 1;
  std::string call_sid, recording_sid, status;
  template <class F> void fields(F&& f) {
    f("call_sid", call_sid);
    f("recording_sid", recording_sid);
    f("status", status);
  }
};

struct recording_downloaded {
  static constexpr const char* type_name = "recording_downloaded";
  static constexpr uint16_t schema_version = 1;
  std::string call_sid, recording_sid;
  std::string file;    // relative to the data directory: recordings/<tenant>/<CallSid>-<RecordingSid>.mp3
  std::string sha256;  // hex of the file's bytes
  int64_t bytes = 0;
  int64_t attempts = 0;
  template <class F> void fields(F&& f) {
    f("call_sid", call_sid);
    f("recording_sid", recording_sid);
    f("file", file);
    f("sha256", sha256);
    f("bytes", bytes);
    f("attempts", attempts);
  }
};

struct recording_download_failed {
  static constexpr const char* type_name = "recording_download_failed";
  static constexpr uint16_t schema_version = 1;
  std::string call_sid, recording_sid;
  std::string error;  // reason and last HTTP status; never credentials
  template <class F> void fields(F&& f) {
    f("call_sid", call_sid);
    f("recording_sid", recording_sid);
    f("error", error);
  }
};

struct call_transcribed {
  static constexpr const char* type_name = "call_transcribed";
  static constexpr uint16_t schema_version = 1;
  std::string call_sid;
  std::string text, language, provider;
  std::vector<std::string> failed_attempts;  // "primary: unavailable (HTTP 500)" before the one that worked
  template <class F> void fields(F&& f) {
    f("call_sid", call_sid);
    f("text", text);
    f("language", language);
    f("provider", provider);
    f("failed_attempts", failed_attempts);
  }
};

struct call_transcription_failed {
  static constexpr const char* type_name = "call_transcription_failed";
  static constexpr uint16_t schema_version = 1;
  std::string call_sid;
  std::vector<std::string> attempts;  // each provider's failure
  template <class F> void fields(F&& f) {
    f("call_sid", call_sid);
    f("attempts", attempts);
  }
};

struct call_summarized {
  static constexpr const char* type_name = "call_summarized";
  static constexpr uint16_t schema_version = 1;
  std::string call_sid, summary;
  template <class F> void fields(F&& f) {
    f("call_sid", call_sid);
    f("summary", summary);
  }
};

struct call_summary_failed {
  static constexpr const char* type_name = "call_summary_failed";
  static constexpr uint16_t schema_version = 1;
  std::string call_sid, error;
  template <class F> void fields(F&& f) {
    f("call_sid", call_sid);
    f("error", error);
  }
};

// An admin asked for the transcript (and summary) to be made again.
struct transcription_retry_requested {
  static constexpr const char* type_name = "transcription_retry_requested";
  static constexpr uint16_t schema_version = 1;
  std::string call_sid;
  template <class F> void fields(F&& f) { f("call_sid", call_sid); }
};

// A call to a number no tenant owns (stream "system/twilio/unrouted"): the
// caller heard an apology. The caller's number is not kept (no subject).
struct call_unrouted {
  static constexpr const char* type_name = "call_unrouted";
  static constexpr uint16_t schema_version = 1;
  std::string call_sid, to;
  template <class F> void fields(F&& f) {
    f("call_sid", call_sid);
    f("to", to);
  }
};

using call_event = std::variant<call_started, call_status_changed, recording_available, recording_failed,
                                recording_downloaded, recording_download_failed, call_transcribed,
                                call_transcription_failed, call_summarized, call_summary_failed,
                                transcription_retry_requested, call_unrouted>;

}  // namespace crmd::ev
