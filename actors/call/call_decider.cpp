#include "actors/call/call_decider.hpp"

#include <array>

namespace crmd::call {
namespace {

constexpr std::array<const char*, 9> statuses = {"queued",    "initiated", "ringing", "in-progress", "completed",
                                                 "busy",      "failed",    "no-answer", "canceled"};

// Progress of a call: a status of a lower rank never replaces a higher one.
int rank(const std::string& status) {
  if (status.empty()) return -1;
  if (finished(status)) return 4;
  if (status == "in-progress") return 3;
  if (status == "ringing") return 2;
  if (status == "initiated") return 1;
  return 0;  // queued
}

status invalid(const std::string& why) { return status{errc::invalid_argument, why, "invalid_field"}; }

ev::call_started started_event(const start_call& c) {
  return ev::call_started{c.call_sid, c.from, c.to, c.direction.empty() ? "inbound" : c.direction, c.contact_id,
                          c.status};
}

result<std::vector<ev::call_event>> decide_outcome(const state& s, const ev::call_event& e) {
  std::vector<ev::call_event> out;
  auto rec_in = [&](const std::string& sid, const char* stage) {
    auto it = s.recordings.find(sid);
    return it != s.recordings.end() && it->second.stage == stage;
  };
  bool downloaded = false;
  for (auto& [sid, r] : s.recordings) downloaded |= r.stage == "downloaded";
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ev::recording_downloaded> || std::is_same_v<T, ev::recording_download_failed>) {
          if (rec_in(x.recording_sid, "available")) out.push_back(x);
        } else if constexpr (std::is_same_v<T, ev::call_transcribed> ||
                             std::is_same_v<T, ev::call_transcription_failed>) {
          if (downloaded && s.transcript_state.empty()) out.push_back(x);
        } else if constexpr (std::is_same_v<T, ev::call_summarized> || std::is_same_v<T, ev::call_summary_failed>) {
          if (s.transcript_state == "transcribed" && s.summary_state.empty()) out.push_back(x);
        }
      },
      e);
  return out;
}

}  // namespace

std::string stream_of(const std::string& tenant, const std::string& call_sid) { return tenant + "/call/" + call_sid; }
std::string subject_of(const std::string& tenant, const std::string& contact_id) {
  return contact_id.empty() ? std::string() : tenant + "/lead/" + contact_id;
}

bool valid_sid(const std::string& sid) {
  if (sid.size() < 2 || sid.size() > 64) return false;
  for (char c : sid)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  return true;
}

bool known_status(const std::string& status) {
  for (auto* s : statuses)
    if (status == s) return true;
  return false;
}

bool finished(const std::string& status) {
  return status == "completed" || status == "busy" || status == "failed" || status == "no-answer" ||
         status == "canceled";
}

result<std::vector<ev::call_event>> decide(const state& s, const command& c) {
  std::vector<ev::call_event> out;
  if (auto* x = std::get_if<start_call>(&c)) {
    if (!valid_sid(x->call_sid)) return invalid("CallSid is missing or malformed");
    if (!x->status.empty() && !known_status(x->status)) return invalid("unknown CallStatus '" + x->status + "'");
    if (!s.started) out.push_back(started_event(*x));  // a retried webhook decides nothing
    return out;
  }
  if (auto* x = std::get_if<record_status>(&c)) {
    if (!known_status(x->status)) return invalid("unknown CallStatus '" + x->status.substr(0, 40) + "'");
    if (!s.started) {
      if (!valid_sid(x->call.call_sid)) return invalid("CallSid is missing or malformed");
      out.push_back(started_event(x->call));
    }
    std::string current = s.started ? s.status : x->call.status;
    int64_t last_seq = s.last_sequence;
    bool stale = x->sequence >= 0 && x->sequence <= last_seq;
    bool forward = rank(x->status) > rank(current) || (current.empty() && !finished(x->status));
    if (!finished(current) && x->status != current && forward && !stale)
      out.push_back(ev::call_status_changed{s.started ? s.call_sid : x->call.call_sid, x->status, x->sequence,
                                            x->duration_s});
    return out;
  }
  if (!s.started) return status{errc::not_found, "no such call", "call_not_found"};
  if (auto* x = std::get_if<note_recording>(&c)) {
    if (!valid_sid(x->recording_sid)) return invalid("RecordingSid is missing or malformed");
    if (s.recordings.count(x->recording_sid)) return out;  // a repeated callback
    if (x->status == "completed") {
      if (x->url.rfind("https://", 0) != 0 && x->url.rfind("http://", 0) != 0)
        return invalid("RecordingUrl must be an http(s) URL");
      out.push_back(ev::recording_available{s.call_sid, x->recording_sid, x->url, x->duration_s});
    } else if (x->status == "failed" || x->status == "absent") {
      out.push_back(ev::recording_failed{s.call_sid, x->recording_sid, x->status});
    } else if (x->status != "in-progress") {
      return invalid("unknown RecordingStatus '" + x->status.substr(0, 40) + "'");
    }
    return out;
  }
  if (auto* x = std::get_if<record_outcome>(&c)) return decide_outcome(s, x->outcome);
  // retry_transcription
  bool any = false;
  for (auto& [sid, r] : s.recordings) any |= r.stage == "downloaded" || r.stage == "download_failed";
  if (!any) return status{errc::conflict, "the call has no recording to transcribe", "nothing_to_retry"};
  out.push_back(ev::transcription_retry_requested{s.call_sid});
  return out;
}

void apply(state& s, const ev::call_event& e) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ev::call_started>) {
          s.started = true;
          s.call_sid = x.call_sid;
          s.from = x.from;
          s.to = x.to;
          s.direction = x.direction;
          s.contact_id = x.contact_id;
          s.status = x.status;
        } else if constexpr (std::is_same_v<T, ev::call_status_changed>) {
          s.status = x.status;
          if (x.sequence > s.last_sequence) s.last_sequence = x.sequence;
        } else if constexpr (std::is_same_v<T, ev::recording_available>) {
          s.recordings[x.recording_sid] = recording{x.recording_sid, x.url, x.duration_s, "available", {}, {}};
        } else if constexpr (std::is_same_v<T, ev::recording_failed>) {
          s.recordings[x.recording_sid] = recording{x.recording_sid, {}, -1, "failed", {}, {}};
        } else if constexpr (std::is_same_v<T, ev::recording_downloaded>) {
          auto& r = s.recordings[x.recording_sid];
          r.stage = "downloaded";
          r.file = x.file;
          r.sha256 = x.sha256;
        } else if constexpr (std::is_same_v<T, ev::recording_download_failed>) {
          s.recordings[x.recording_sid].stage = "download_failed";
        } else if constexpr (std::is_same_v<T, ev::call_transcribed>) {
          s.transcript_state = "transcribed";
          s.transcript = x.text;
        } else if constexpr (std::is_same_v<T, ev::call_transcription_failed>) {
          s.transcript_state = "failed";
        } else if constexpr (std::is_same_v<T, ev::call_summarized>) {
          s.summary_state = "summarized";
        } else if constexpr (std::is_same_v<T, ev::call_summary_failed>) {
          s.summary_state = "failed";
        } else if constexpr (std::is_same_v<T, ev::transcription_retry_requested>) {
          for (auto& [sid, r] : s.recordings)
            if (r.stage == "download_failed") r.stage = "available";
          s.transcript_state.clear();
          s.summary_state.clear();
          s.transcript.clear();
        }
      },
      e);
}

step next_step(const state& s) {
  const recording* latest = nullptr;
  for (auto& [sid, r] : s.recordings) {
    if (r.stage == "available") return download{r};
    if (r.stage == "downloaded") latest = &r;
  }
  if (latest && s.transcript_state.empty()) return transcribe{latest->file};
  if (s.transcript_state == "transcribed" && s.summary_state.empty()) return summarize{s.transcript};
  return std::monostate{};
}

}  // namespace crmd::call
