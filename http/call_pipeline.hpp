// The recording pipeline of calls: download the recording, transcribe it
// (primary provider, then fallback), summarise the transcript. Each step's
// outcome, success or failure, is a command to the call's actor, so it is an
// event before the next step starts, and the call's stream alone says where
// to resume (call::next_step) after a restart.
//
// Steps run on the pipeline's own threads (libcurl calls block for seconds);
// a call is worked on by one thread at a time. kick() is cheap and may be
// called from any thread; resume() kicks every call the calls view shows
// unfinished (at start-up).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connectors/recording_fetch.hpp"
#include "connectors/summarizer.hpp"
#include "connectors/transcriber.hpp"

namespace crmd {
class runtime;
class event_log;
class kv_store;
}  // namespace crmd

namespace crmd::http {

struct call_pipeline_options {
  connectors::media_options media;            // TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN
  std::vector<connectors::stt_provider> stt;  // CRMD_STT_PRIMARY_*, CRMD_STT_FALLBACK_*
  connectors::llm_options llm;                // CRMD_LLM_URL / _KEY / _MODEL
  std::string data_dir;                       // recordings go to <data_dir>/recordings/<tenant>/
  size_t threads = 2;                         // calls worked on at once
};

class call_pipeline {
 public:
  call_pipeline(runtime& rt, event_log& log, kv_store& views, call_pipeline_options o);
  ~call_pipeline();  // finishes the step in hand, drops the rest (resume() picks them up next start)
  call_pipeline(const call_pipeline&) = delete;
  call_pipeline& operator=(const call_pipeline&) = delete;

  void kick(const std::string& tenant, const std::string& call_sid);
  // Kicks every call of every tenant whose pipeline has not finished.
  void resume();
  // Calls waiting or in work (tests wait for 0).
  size_t busy() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace crmd::http
