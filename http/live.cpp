#include "http/live.hpp"

#include <nlohmann/json.hpp>
#include <optional>

#include "events/catalog.hpp"
#include "storage/event_log.hpp"

namespace crmd::http {

std::string live_event_name(std::string_view type) {
  static const std::pair<const char*, const char*> names[] = {
      {"lead_created", "lead.created"},         {"lead_updated", "lead.updated"},
      {"lead_converted", "lead.converted"},     {"lead_deleted", "lead.deleted"},
      {"note_added", "note.added"},             {"task_created", "task.created"},
      {"task_completed", "task.done"},          {"task_reopened", "task.reopened"},
      {"task_rescheduled", "task.rescheduled"}, {"task_due", "task.due"},
      {"contract_created", "contract.created"}, {"contract_status_changed", "contract.changed"},
      {"signature_recorded", "signature.recorded"}, {"invoice_created", "invoice.created"},
      {"invoice_status_changed", "invoice.changed"}, {"invoice_paid", "invoice.paid"},
      {"prompt_saved", "prompt.saved"},         {"prompt_deleted", "prompt.deleted"},
      {"settings_changed", "settings.changed"}, {"deal_created", "deal.created"},
      {"deal_updated", "deal.updated"},         {"deal_closed", "deal.closed"},
      {"call_started", "call.started"},         {"call_summarized", "call.summarized"},
      {"wa_message_received", "whatsapp.message"}, {"wa_message_status", "whatsapp.status"},
      {"wa_connected", "whatsapp.connected"},   {"wa_qr_shown", "whatsapp.qr"}};
  for (auto& [t, n] : names)
    if (type == t) return n;
  return {};
}

namespace {

// The event's payload as a JSON object (discarded when it does not decode).
nlohmann::json payload_object(std::string_view type, uint16_t version, std::string_view payload) {
  auto j = catalog::payload_to_json(type, version, payload);
  return j ? nlohmann::json::parse(*j, nullptr, false) : nlohmann::json(nlohmann::json::value_t::discarded);
}

// The id of the record an event is about: the first *_id field it has.
std::string subject_id(const nlohmann::json& o) {
  if (!o.is_object()) return {};
  for (const char* f :
       {"lead_id", "task_id", "invoice_id", "contract_id", "signature_id", "note_id", "prompt_id", "deal_id",
        "call_sid", "message_id", "session"})
    if (o.contains(f) && o[f].is_string()) return o[f];
  return {};
}

}  // namespace

live_hub::live_hub(event_log& log, live_options o) : log_(log), opts_(o) {}

live_hub::~live_hub() { stop(); }

void live_hub::start() {
  head_ = cursor_ = log_.last_position();
  subscription_ = log_.subscribe([this](uint64_t last) {
    {
      std::lock_guard lock(mu_);
      head_ = std::max(head_, last);
    }
    cv_.notify_one();
  });
  thread_ = std::thread([this] { run(); });
}

void live_hub::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !thread_.joinable()) return;
    stopping_ = true;
  }
  log_.unsubscribe(subscription_);
  cv_.notify_one();
  thread_.join();
  for (auto& s : live_) s.out->close();
  for (auto& s : pending_) s.out->close();
}

void live_hub::subscribe(const std::string& tenant, std::shared_ptr<stream_writer> out, uint64_t after,
                         std::function<bool()> allowed) {
  {
    std::lock_guard lock(mu_);
    pending_.push_back({tenant, std::move(out), after, std::move(allowed)});
  }
  cv_.notify_one();
}

size_t live_hub::streams() const {
  std::lock_guard lock(mu_);
  return live_.size() + pending_.size();
}

std::map<std::string, size_t> live_hub::streams_by_tenant() const {
  std::map<std::string, size_t> out;
  std::lock_guard lock(mu_);
  // A stream the client closed stays listed until the hub's next pass.
  for (auto* list : {&live_, &pending_})
    for (auto& s : *list)
      if (s.out->open()) ++out[s.tenant];
  return out;
}

void live_hub::deliver(uint64_t from, uint64_t to, std::vector<subscriber>& to_whom) {
  if (from > to || to_whom.empty()) return;
  log_.scan(from, [&](const log_entry& e) {
    const auto& r = e.record;
    if (r.position > to) return false;
    std::string name = live_event_name(r.type);
    if (name.empty()) return true;
    // Decoded once, only when some stream of this tenant is owed the event.
    std::optional<nlohmann::json> payload;
    auto decoded = [&]() -> const nlohmann::json& {
      if (!payload) payload = payload_object(r.type, r.schema_version, e.payload);
      return *payload;
    };
    std::string frame;
    for (auto& s : to_whom) {
      if (s.tenant != r.tenant || r.position <= s.after) continue;
      if (frame.empty()) {
        // WhatsApp history (upsert "append") is stored but never notified.
        if (name == "whatsapp.message" && !e.erased && decoded().is_object() && decoded().value("history", false))
          return true;
        std::string id = e.erased ? std::string() : subject_id(decoded());
        frame = "id: " + std::to_string(r.position) + "\nevent: " + name + "\ndata: " +
                nlohmann::json{{"type", name}, {"id", id}, {"position", r.position}}.dump() + "\n\n";
      }
      s.out->write(frame, false);
      s.after = r.position;
    }
    return true;
  });
}

void live_hub::run() {
  auto last_beat = std::chrono::steady_clock::now();
  for (;;) {
    std::vector<subscriber> joining;
    uint64_t head;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, opts_.heartbeat, [&] { return stopping_ || !pending_.empty() || head_ > cursor_; });
      if (stopping_) return;
      joining.swap(pending_);
      head = head_;
    }
    // Newcomers first catch up to where the live ones are.
    for (auto& s : joining) {
      // A Last-Event-ID from the future (a restored store) starts live; one
      // too far back is told to reload rather than replayed.
      if (s.after > cursor_) s.after = cursor_;
      if (s.after > 0 && cursor_ - s.after > opts_.max_replay) {
        s.out->write("event: resync\ndata: {\"type\":\"resync\"}\n\n", false);
      } else if (s.after > 0 && cursor_ > s.after) {
        std::vector<subscriber> one{s};
        deliver(s.after + 1, cursor_, one);
        s.after = one[0].after;
      }
      s.after = std::max(s.after, cursor_);
    }
    std::vector<subscriber> everyone;
    {
      std::lock_guard lock(mu_);
      for (auto& s : joining) live_.push_back(std::move(s));
      // Closed streams leave; the rest get what is new.
      live_.erase(std::remove_if(live_.begin(), live_.end(), [](const subscriber& s) { return !s.out->open(); }),
                  live_.end());
      everyone = live_;
    }
    if (head > cursor_) {
      deliver(cursor_ + 1, head, everyone);
      cursor_ = head;
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_beat >= opts_.heartbeat) {
      for (auto& s : everyone) {
        if (s.allowed && !s.allowed()) s.out->close();
        else s.out->write(": heartbeat\n\n", false);
      }
      last_beat = now;
    }
    std::lock_guard lock(mu_);
    for (auto& s : live_)
      for (auto& e : everyone)
        if (s.out == e.out) s.after = e.after;
  }
}

}  // namespace crmd::http
