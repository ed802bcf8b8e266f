#include "actors/crm/work.hpp"

namespace crmd::crm {
namespace {

using events = std::vector<ev::tenant_event>;

status invalid(const std::string& field, const std::string& why) {
  return {errc::invalid_argument, "field '" + field + "' " + why, "invalid_field"};
}
status no_task(const std::string& id) { return {errc::not_found, "no task '" + id + "'", "task_not_found"}; }

const task_state* find(const work& w, const std::string& id, uint64_t* n) {
  auto k = parse_task_id(id);
  if (!k) return nullptr;
  auto it = w.tasks.find(*k);
  if (it == w.tasks.end()) return nullptr;
  *n = *k;
  return &it->second;
}

status check_about(const contacts& c, const std::string& about, bool required) {
  if (about.empty()) return required ? invalid("customer_id", "is required") : status::ok();
  if (!c.live(about)) return {errc::not_found, "no contact '" + about + "'", "contact_not_found"};
  return status::ok();
}

}  // namespace

std::string task_id(uint64_t n) { return "T" + std::to_string(n); }

std::optional<uint64_t> parse_task_id(const std::string& id) {
  if (id.size() < 2 || id.size() > 20 || id[0] != 'T' || id[1] == '0') return std::nullopt;
  if (id.find_first_not_of("0123456789", 1) != std::string::npos) return std::nullopt;
  return std::stoull(id.substr(1));
}

std::string task_timer_id(const std::string& task, uint32_t generation) {
  return "task:" + task + ":" + std::to_string(generation);
}

result<events> decide(const work& w, const contacts& c, const add_note& cmd) {
  if (auto s = check_about(c, cmd.about_id, true); !s) return s;
  if (cmd.text.empty()) return invalid("text", "is required");
  if (cmd.text.size() > 20000) return invalid("text", "is longer than 20000 bytes");
  return events{ev::note_added{"N" + std::to_string(w.next_note), cmd.about_id, cmd.text}};
}

result<events> decide(const work& w, const contacts& c, const create_task& cmd) {
  if (auto s = check_about(c, cmd.about_id, false); !s) return s;
  if (cmd.title.empty() || cmd.title.size() > 500) return invalid("title", "must be 1..500 bytes");
  if (cmd.due_us < 0) return invalid("due_at", "must be a time");
  std::string id = task_id(w.next_task);
  events out{ev::task_created{id, cmd.about_id, cmd.title, cmd.due_us}};
  if (cmd.due_us > 0) out.push_back(ev::timer_set{task_timer_id(id, 0), cmd.due_us, "task_due"});
  return out;
}

result<events> decide(const work& w, const complete_task& cmd) {
  uint64_t n = 0;
  auto* t = find(w, cmd.id, &n);
  if (!t) return no_task(cmd.id);
  if (!t->open) return status{errc::conflict, "task " + cmd.id + " is already done", "task_done"};
  return events{ev::task_completed{cmd.id}};
}

result<events> decide(const work& w, const reopen_task& cmd) {
  uint64_t n = 0;
  auto* t = find(w, cmd.id, &n);
  if (!t) return no_task(cmd.id);
  if (t->open) return status{errc::conflict, "task " + cmd.id + " is open", "task_open"};
  events out{ev::task_reopened{cmd.id}};
  // Its due time may have passed while it was done: a fresh timer (fired at
  // once if overdue) makes it due again, once.
  if (t->due_us > 0) out.push_back(ev::timer_set{task_timer_id(cmd.id, t->generation + 1), t->due_us, "task_due"});
  return out;
}

result<events> decide(const work& w, const reschedule_task& cmd) {
  uint64_t n = 0;
  auto* t = find(w, cmd.id, &n);
  if (!t) return no_task(cmd.id);
  if (cmd.due_us <= 0) return invalid(cmd.snooze ? "snooze_until" : "due_at", "must be a time");
  if (!t->open) return status{errc::conflict, "task " + cmd.id + " is already done", "task_done"};
  return events{ev::task_rescheduled{cmd.id, cmd.due_us, cmd.snooze},
                ev::timer_set{task_timer_id(cmd.id, t->generation + 1), cmd.due_us, "task_due"}};
}

std::vector<ev::tenant_event> on_timer(const work& w, const std::string& timer_id) {
  // "task:T<n>:<generation>"
  if (timer_id.rfind("task:", 0) != 0) return {};
  auto colon = timer_id.rfind(':');
  std::string id = timer_id.substr(5, colon - 5);
  uint64_t n = 0;
  auto* t = find(w, id, &n);
  if (!t || !t->open || task_timer_id(id, t->generation) != timer_id) return {};
  return {ev::task_due{id, t->due_us}};
}

void apply(work& w, const ev::tenant_event& e) {
  auto task = [&](const std::string& id) -> task_state* {
    auto n = parse_task_id(id);
    if (!n) return nullptr;
    w.dirty.insert(*n);
    return &w.tasks[*n];
  };
  if (auto* x = std::get_if<ev::note_added>(&e)) {
    if (x->note_id.size() > 1 && x->note_id[0] == 'N') {
      uint64_t n = std::strtoull(x->note_id.c_str() + 1, nullptr, 10);
      if (n >= w.next_note) w.next_note = n + 1;
    }
  } else if (auto* x = std::get_if<ev::task_created>(&e)) {
    auto n = parse_task_id(x->task_id);
    if (!n) return;
    *task(x->task_id) = task_state{x->about_id, true, x->due_us, 0};
    if (*n >= w.next_task) w.next_task = *n + 1;
  } else if (auto* x = std::get_if<ev::task_completed>(&e)) {
    if (auto* t = task(x->task_id)) t->open = false;
  } else if (auto* x = std::get_if<ev::task_reopened>(&e)) {
    if (auto* t = task(x->task_id)) {
      t->open = true;
      if (t->due_us > 0) ++t->generation;  // decide() armed the next generation's timer
    }
  } else if (auto* x = std::get_if<ev::task_rescheduled>(&e)) {
    if (auto* t = task(x->task_id)) {
      t->due_us = x->due_us;
      ++t->generation;
    }
  }
}

}  // namespace crmd::crm
