// The calls view: a tenant's phone calls (events of streams "<t>/call/<CallSid>").
//
//   v/calls/<t>/c/<CallSid>                  the call (JSON, below)
//   v/calls/<t>/x/<CallSid>                  its transcript and summary (JSON, below)
//   v/calls/<t>/l/<be64(~n)>                 CallSid of the tenant's n-th call: newest first
//   v/calls/<t>/#count                       calls of the tenant (u64be); n of the newest
//   v/calls/<t>/b/<contact>/<be64(~n)>       CallSid of the contact's n-th call
//   v/calls/<t>/#b/<contact>                 calls of the contact (u64be)
//
// Call: {"call_sid","from","to","direction","contact_id","status","started_at",
// "updated_at","duration_s"|null,"recording"|null,"transcript_state","summary_state",
// "provider","language","erased","position"}; recording: {"recording_sid","state"
// (available|failed|downloaded|download_failed),"duration_s","file","sha256","bytes","error"}.
// transcript_state: "" until a recording is downloaded, then pending, transcribed
// or failed; summary_state likewise once transcribed (pending|summarized|failed).
// A call may have several recordings; the view shows the latest one, except
// that a downloaded (playable) recording is not displaced by another that is not.
// The text and summary live in x/ because the call JSON is listed, and lists
// should not carry whole transcripts.
// Transcript: {"text","language","provider","summary","failed_attempts":[...]}, null
// for what is not there yet.
//
// Erased subjects: a call's events carry the contact as subject, so once the
// contact is erased they arrive with no payload. The call stays listed (it
// happened; the CallSid is the stream's) but its numbers, recording and
// transcript go: the subject's data must not outlive its key. A rebuild after
// the erasure sees only such events and keeps just that shell.
#include "projections/calls_view.hpp"

#include <nlohmann/json.hpp>

#include "events/call_events.hpp"
#include "events/codec.hpp"
#include "events/time_format.hpp"
#include "projections/view_util.hpp"

namespace crmd::views {
namespace {

using json = nlohmann::json;
using util::bump;
using util::dump;

struct keys {
  std::string base;  // "<t>/"
  std::string call(const std::string& sid) const { return base + "c/" + sid; }
  std::string text(const std::string& sid) const { return base + "x/" + sid; }
  std::string listed(uint64_t n) const { return base + "l/" + be64(~n); }
  std::string count() const { return base + "#count"; }
  std::string by_contact(const std::string& contact, uint64_t n) const {
    return base + "b/" + contact + "/" + be64(~n);
  }
  std::string contact_count(const std::string& contact) const { return base + "#b/" + contact; }
};

uint64_t read_count(view_txn& t, const std::string& key) {
  auto v = t.get(key);
  return v && v->size() == 8 ? read_be64(*v) : 0;
}

// "<t>/call/<sid>" -> sid; empty for any other stream.
std::string sid_of(std::string_view stream) {
  auto at = stream.find("/call/");
  return at == std::string_view::npos ? std::string() : std::string(stream.substr(at + 6));
}

// "<t>/lead/<contact>" -> contact.
std::string contact_of(std::string_view subject) {
  auto slash = subject.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(subject.substr(slash + 1));
}

json new_call(const std::string& sid, const std::string& contact, const std::string& when) {
  return {{"call_sid", sid},      {"from", ""},           {"to", ""},          {"direction", ""},
          {"contact_id", contact}, {"status", ""},        {"started_at", when}, {"updated_at", when},
          {"duration_s", nullptr}, {"recording", nullptr}, {"transcript_state", ""},
          {"summary_state", ""},   {"provider", ""},      {"language", ""},     {"erased", false}};
}

json empty_text() {
  return {{"text", nullptr}, {"language", nullptr}, {"provider", nullptr}, {"summary", nullptr},
          {"failed_attempts", json::array()}};
}

// The recording object for `sid`, or nullptr when it must not displace the
// one shown (see the header).
json* recording_slot(json& call, const std::string& sid, bool downloaded) {
  auto& r = call["recording"];
  if (!r.is_object() || r.value("recording_sid", "") == sid || r.value("state", "") != "downloaded" || downloaded) {
    if (!r.is_object() || r.value("recording_sid", "") != sid)
      r = {{"recording_sid", sid}, {"state", ""},  {"duration_s", nullptr}, {"file", nullptr},
           {"sha256", nullptr},     {"bytes", nullptr}, {"error", nullptr}};
    return &r;
  }
  return nullptr;
}

class calls_view : public projection {
 public:
  const char* name() const override { return "calls"; }
  bool folds(std::string_view type) const override { return codec::knows_type<ev::call_event>(type); }

  status apply(const log_entry& e, view_txn& t) override {
    const auto& r = e.record;
    if (!folds(r.type)) return status::ok();
    std::string sid = sid_of(r.stream);
    if (sid.empty()) return status::ok();  // unrouted calls belong to no tenant
    keys k{std::string(r.tenant) + "/"};
    std::string when = rfc3339(r.recorded_at_us);
    if (e.erased) return forget(r, k, sid, when, t);
    auto ev = codec::decode<ev::call_event>(r.type, r.schema_version, e.payload);
    if (!ev) return ev.error();
    if (auto* s = std::get_if<ev::call_started>(&*ev)) {
      if (t.get(k.call(sid))) return status::ok();  // the decider starts a call once
      json j = new_call(sid, s->contact_id, when);
      j["from"] = s->from, j["to"] = s->to, j["direction"] = s->direction, j["status"] = s->status;
      j["position"] = r.position;
      t.put(k.call(sid), dump(j));
      list(k, sid, s->contact_id, t);
      return status::ok();
    }
    auto cur = t.get(k.call(sid));
    if (!cur) return status::ok();  // never started here: nothing to show
    auto j = json::parse(*cur, nullptr, false);
    if (!j.is_object()) return {errc::corruption, "malformed call view entry"};
    j["updated_at"] = when;
    j["position"] = r.position;
    std::optional<json> text;  // x/, when this event changes it
    auto load_text = [&]() -> json& {
      if (!text) {
        auto v = t.get(k.text(sid));
        text = v ? json::parse(*v, nullptr, false) : empty_text();
        if (!text->is_object()) text = empty_text();
      }
      return *text;
    };
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, ev::call_status_changed>) {
            j["status"] = x.status;
            if (x.duration_s >= 0) j["duration_s"] = x.duration_s;
          } else if constexpr (std::is_same_v<T, ev::recording_available>) {
            if (auto* rec = recording_slot(j, x.recording_sid, false)) {
              (*rec)["state"] = "available";
              if (x.duration_s >= 0) (*rec)["duration_s"] = x.duration_s;
            }
          } else if constexpr (std::is_same_v<T, ev::recording_failed>) {
            if (auto* rec = recording_slot(j, x.recording_sid, false)) {
              (*rec)["state"] = "failed";
              (*rec)["error"] = x.status;
            }
          } else if constexpr (std::is_same_v<T, ev::recording_downloaded>) {
            auto* rec = recording_slot(j, x.recording_sid, true);
            (*rec)["state"] = "downloaded";
            (*rec)["file"] = x.file, (*rec)["sha256"] = x.sha256, (*rec)["bytes"] = x.bytes;
            (*rec)["error"] = nullptr;
            if (j.value("transcript_state", "").empty()) j["transcript_state"] = "pending";
          } else if constexpr (std::is_same_v<T, ev::recording_download_failed>) {
            if (auto* rec = recording_slot(j, x.recording_sid, false)) {
              (*rec)["state"] = "download_failed";
              (*rec)["error"] = x.error;
            }
          } else if constexpr (std::is_same_v<T, ev::call_transcribed>) {
            j["transcript_state"] = "transcribed";
            j["provider"] = x.provider, j["language"] = x.language;
            if (j.value("summary_state", "").empty()) j["summary_state"] = "pending";
            auto& tx = load_text();
            tx["text"] = x.text, tx["language"] = x.language, tx["provider"] = x.provider;
            tx["failed_attempts"] = x.failed_attempts;
          } else if constexpr (std::is_same_v<T, ev::call_transcription_failed>) {
            j["transcript_state"] = "failed";
            load_text()["failed_attempts"] = x.attempts;
          } else if constexpr (std::is_same_v<T, ev::call_summarized>) {
            j["summary_state"] = "summarized";
            load_text()["summary"] = x.summary;
          } else if constexpr (std::is_same_v<T, ev::call_summary_failed>) {
            j["summary_state"] = "failed";
          } else if constexpr (std::is_same_v<T, ev::transcription_retry_requested>) {
            // As the decider: transcript and summary are made again, a
            // failed download is tried again.
            auto& rec = j["recording"];
            bool playable = rec.is_object() && rec.value("state", "") == "downloaded";
            if (rec.is_object() && rec.value("state", "") == "download_failed") rec["state"] = "available";
            j["transcript_state"] = playable ? "pending" : "";
            j["summary_state"] = "";
            auto& tx = load_text();
            tx["text"] = nullptr, tx["language"] = nullptr, tx["provider"] = nullptr, tx["summary"] = nullptr;
          }
        },
        *ev);
    t.put(k.call(sid), dump(j));
    if (text) t.put(k.text(sid), dump(*text));
    return status::ok();
  }

 private:
  static void list(const keys& k, const std::string& sid, const std::string& contact, view_txn& t) {
    uint64_t n = read_count(t, k.count()) + 1;
    t.put(k.count(), be64(n));
    t.put_new(k.listed(n), sid);  // n only grows: written once
    if (contact.empty()) return;
    uint64_t m = read_count(t, k.contact_count(contact)) + 1;
    t.put(k.contact_count(contact), be64(m));
    t.put_new(k.by_contact(contact, m), sid);
  }

  // An event whose subject is erased: keep the call's shell, drop its data.
  static status forget(const record_view& r, const keys& k, const std::string& sid, const std::string& when,
                       view_txn& t) {
    t.del(k.text(sid));
    auto cur = t.get(k.call(sid));
    json j;
    if (cur) {
      j = json::parse(*cur, nullptr, false);
      if (!j.is_object()) return {errc::corruption, "malformed call view entry"};
      if (j.value("erased", false)) return status::ok();  // already a shell: one write per call
    } else {
      if (r.type != ev::call_started::type_name) return status::ok();
      std::string contact = contact_of(r.subject);
      j = new_call(sid, contact, when);
      list(k, sid, contact, t);
    }
    j["from"] = "", j["to"] = "", j["recording"] = nullptr, j["erased"] = true;
    j["updated_at"] = when;
    j["position"] = r.position;
    t.put(k.call(sid), dump(j));
    return status::ok();
  }
};

std::string view_key(const std::string& rest) { return view_prefix("calls") + rest; }


}  // namespace

std::unique_ptr<projection> make_calls_view() { return std::make_unique<calls_view>(); }

result<page> list_calls(kv_store& kv, const std::string& tenant, const std::string& contact_id, uint64_t page_no,
                        uint64_t limit) {
  keys k{tenant + "/"};
  auto sids = contact_id.empty()
                  ? util::scan_page(kv, view_key(k.base + "l/"), view_key(k.count()), page_no, limit)
                  : util::scan_page(kv, view_key(k.base + "b/" + contact_id + "/"), view_key(k.contact_count(contact_id)),
                                    page_no, limit);
  if (!sids) return sids.error();
  page out;
  out.total = sids->total;
  for (auto& sid : sids->items) {
    auto c = util::get_opt(kv, view_key(k.call(sid)));
    if (!c) return c.error();
    if (*c) out.items.push_back(std::move(**c));
  }
  return out;
}

result<uint64_t> count_calls(kv_store& kv, const std::string& tenant) {
  return util::get_count(kv, view_key(keys{tenant + "/"}.count()));
}

result<std::optional<std::string>> get_call(kv_store& kv, const std::string& tenant, const std::string& sid) {
  if (sid.empty() || sid.find('/') != std::string::npos) return std::optional<std::string>{};
  return util::get_opt(kv, view_key(keys{tenant + "/"}.call(sid)));
}

result<std::optional<std::string>> get_transcript(kv_store& kv, const std::string& tenant, const std::string& sid) {
  if (sid.empty() || sid.find('/') != std::string::npos) return std::optional<std::string>{};
  return util::get_opt(kv, view_key(keys{tenant + "/"}.text(sid)));
}

}  // namespace crmd::views
