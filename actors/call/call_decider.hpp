// The call aggregate: one per Twilio CallSid (stream "<tenant>/call/<CallSid>").
//
// Twilio retries webhooks and does not order status callbacks, so every
// command is settled against what the call already recorded: a repeat
// decides nothing, a late status never moves a call backwards, and a
// finished call stays finished. The recording pipeline (download,
// transcription, summary) reports its outcomes as commands too; next_step()
// says what the pipeline should do next, so it resumes from the log alone.
// Pure functions, tested Given/When/Then in tests/actors/call_decider_test.cpp.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "events/call_events.hpp"
#include "events/status.hpp"

namespace crmd::call {

std::string stream_of(const std::string& tenant, const std::string& call_sid);
// The data subject of a call's events: the contact it reached.
std::string subject_of(const std::string& tenant, const std::string& contact_id);
// CallSid and RecordingSid: "CA"/"RE" and 32 hex digits in production; tests
// and curl checks use shorter ones, so: 2..64 of [A-Za-z0-9_-].
bool valid_sid(const std::string& sid);
// Whether Twilio documents `status` as a CallStatus.
bool known_status(const std::string& status);
bool finished(const std::string& status);

struct recording {
  std::string sid, url;
  int64_t duration_s = -1;
  std::string stage;  // available | failed | downloaded | download_failed
  std::string file, sha256;
};

struct state {
  bool started = false;
  std::string call_sid, from, to, direction, contact_id;
  std::string status;
  int64_t last_sequence = -1;
  std::map<std::string, recording> recordings;  // by RecordingSid
  std::string transcript;        // text, once transcribed
  std::string transcript_state;  // "" | transcribed | failed
  std::string summary_state;     // "" | summarized | failed
};

// The first webhook of a call (incoming_call): who called whom.
struct start_call {
  std::string call_sid, from, to, direction, contact_id, status;
};
// A status callback; from/to/direction/contact_id start the call if no
// incoming_call came first (outbound calls, lost webhooks).
struct record_status {
  start_call call;
  std::string status;
  int64_t sequence = -1, duration_s = -1;
};
// The recording status callback.
struct note_recording {
  std::string recording_sid, url, status;
  int64_t duration_s = -1;
};
// What the pipeline did: one of recording_downloaded,
// recording_download_failed, call_transcribed, call_transcription_failed,
// call_summarized, call_summary_failed.
struct record_outcome {
  ev::call_event outcome;
};
struct retry_transcription {};

using command = std::variant<start_call, record_status, note_recording, record_outcome, retry_transcription>;

// Rejections: errc::invalid_argument (invalid_field), errc::not_found
// (call_not_found: the call never started), errc::conflict (nothing_to_retry).
result<std::vector<ev::call_event>> decide(const state& s, const command& c);
void apply(state& s, const ev::call_event& e);

// What the recording pipeline should do next.
struct download {
  recording rec;
};
struct transcribe {
  std::string file;  // relative to the data directory
};
struct summarize {
  std::string transcript;
};
using step = std::variant<std::monostate, download, transcribe, summarize>;
step next_step(const state& s);

}  // namespace crmd::call
