#include "http/call_pipeline.hpp"

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "actors/runtime.hpp"
#include "events/codec.hpp"
#include "projections/contacts_view.hpp"
#include "projections/projection.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"

namespace crmd::http {
namespace {

using json = nlohmann::json;

// Used when the tenant has no prompt titled (or in category) "call_summary".
const char* default_instructions =
    "Summarise this phone call for the business's CRM in the language of the call: who called, what they "
    "want, and any follow-up promised. At most five short sentences.";

std::string upper_bound_of(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

}  // namespace

struct call_pipeline::impl {
  runtime& rt;
  event_log& log;
  kv_store& views;
  call_pipeline_options o;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::string, std::string>> queue;
  std::set<std::pair<std::string, std::string>> queued, working, again;
  bool stopping = false;
  std::vector<std::thread> threads;

  impl(runtime& r, event_log& l, kv_store& v, call_pipeline_options opt) : rt(r), log(l), views(v), o(std::move(opt)) {}

  void worker() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stopping || !queue.empty(); });
      if (stopping) return;
      auto key = queue.front();
      queue.pop_front();
      queued.erase(key);
      working.insert(key);
      lock.unlock();
      run(key.first, key.second);
      lock.lock();
      working.erase(key);
      if (again.erase(key) && !queued.count(key)) {  // kicked while in work
        queue.push_back(key);
        queued.insert(key);
        cv.notify_one();
      }
    }
  }

  result<crmd::call::state> load(const std::string& tenant, const std::string& sid) {
    crmd::call::state s;
    auto evs = log.read_stream(crmd::call::stream_of(tenant, sid), 1, 10000);
    if (!evs) return evs.error();
    for (auto& e : *evs) {
      if (e.erased) continue;
      auto dec = codec::decode<ev::call_event>(e.env.type, e.env.schema_version, e.payload);
      if (!dec) return dec.error();
      crmd::call::apply(s, *dec);
    }
    return s;
  }

  std::string language(const std::string& tenant) {
    auto st = views::get_settings(views, tenant);
    std::string lang = st ? st->language : "he";
    return lang.substr(0, lang.find('-'));
  }

  std::string instructions(const std::string& tenant) {
    std::string lo = view_prefix("prompts") + tenant + "/l/";
    auto it = views.scan(cf::projections, lo, upper_bound_of(lo));
    for (; it->valid(); it->next()) {
      auto j = json::parse(it->value(), nullptr, false);
      if (j.is_object() && (j.value("title", "") == "call_summary" || j.value("category", "") == "call_summary"))
        return j.value("body", default_instructions);
    }
    return default_instructions;
  }

  ev::call_event step(const std::string& tenant, const std::string& sid, const crmd::call::step& next) {
    if (auto* d = std::get_if<crmd::call::download>(&next)) {
      std::string rel = "recordings/" + tenant + "/" + sid + "-" + d->rec.sid + ".mp3";
      auto r = connectors::fetch_recording(o.media, d->rec.url + ".mp3", o.data_dir + "/" + rel);
      if (!r) return ev::recording_download_failed{sid, d->rec.sid, r.error().reason() + ": " + r.error().message()};
      return ev::recording_downloaded{sid, d->rec.sid, rel, r->sha256_hex, static_cast<int64_t>(r->bytes), r->attempts};
    }
    if (auto* t = std::get_if<crmd::call::transcribe>(&next)) {
      auto out = connectors::transcribe(o.stt, o.data_dir + "/" + t->file, language(tenant));
      std::vector<std::string> failures;
      for (auto& a : out.attempts)
        if (!a.ok) failures.push_back(a.provider + ": " + a.error);
      if (out.result) return ev::call_transcribed{sid, out.result->text, out.result->language, out.result->provider, failures};
      if (failures.empty()) failures.push_back("no speech-to-text provider is configured");
      return ev::call_transcription_failed{sid, failures};
    }
    auto& m = std::get<crmd::call::summarize>(next);
    auto r = connectors::summarize(o.llm, instructions(tenant), m.transcript);
    if (!r) return ev::call_summary_failed{sid, r.error().reason() + ": " + r.error().message()};
    return ev::call_summarized{sid, *r};
  }

  void run(const std::string& tenant, const std::string& sid) {
    // A call has at most three steps per recording; the bound only guards
    // against a decider that keeps asking for the same step.
    for (int guard = 0; guard < 12; ++guard) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stopping) return;
      }
      auto s = load(tenant, sid);
      if (!s) {
        std::fprintf(stderr, "crmd calls: %s/%s: %s\n", tenant.c_str(), sid.c_str(), s.error().message().c_str());
        return;
      }
      auto next = crmd::call::next_step(*s);
      if (std::holds_alternative<std::monostate>(next)) return;
      auto outcome = step(tenant, sid, next);
      std::promise<result<command_ok>> done;
      auto answer = done.get_future();
      event_metadata who;
      who.causer = "system";
      who.correlation_id = sid;
      rt.call_command(tenant, sid, crmd::call::record_outcome{std::move(outcome)}, who,
                      [&done](result<command_ok> r) { done.set_value(std::move(r)); });
      auto r = answer.get();
      if (!r) {
        std::fprintf(stderr, "crmd calls: %s/%s: outcome not recorded: %s\n", tenant.c_str(), sid.c_str(),
                     r.error().message().c_str());
        return;
      }
      if (r->position == 0) return;  // decided nothing: someone else moved the call on
    }
  }
};

call_pipeline::call_pipeline(runtime& rt, event_log& log, kv_store& views, call_pipeline_options o)
    : impl_(std::make_unique<impl>(rt, log, views, std::move(o))) {
  for (size_t i = 0; i < std::max<size_t>(1, impl_->o.threads); ++i)
    impl_->threads.emplace_back([this] { impl_->worker(); });
}

call_pipeline::~call_pipeline() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->threads) t.join();
}

void call_pipeline::kick(const std::string& tenant, const std::string& call_sid) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto key = std::make_pair(tenant, call_sid);
  if (impl_->working.count(key)) {
    impl_->again.insert(key);
    return;
  }
  if (!impl_->queued.insert(key).second) return;
  impl_->queue.push_back(key);
  impl_->cv.notify_one();
}

void call_pipeline::resume() {
  std::string lo = view_prefix("calls");
  auto it = impl_->views.scan(cf::projections, lo, upper_bound_of(lo));
  for (; it->valid(); it->next()) {
    auto key = std::string(it->key()).substr(lo.size());  // <tenant>/c/<sid>
    auto c = key.find("/c/");
    if (c == std::string::npos || key.find('/') != c) continue;
    auto j = json::parse(it->value(), nullptr, false);
    if (!j.is_object() || !j.contains("recording") || !j["recording"].is_object()) continue;
    std::string summary = j.value("summary_state", ""), transcript = j.value("transcript_state", "");
    if (summary.empty() && transcript != "failed") kick(key.substr(0, c), key.substr(c + 3));
  }
}

size_t call_pipeline::busy() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->queue.size() + impl_->working.size();
}

}  // namespace crmd::http
