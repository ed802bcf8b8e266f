// Notes and tasks of one tenant, as its aggregate keeps them. A task with a
// due time arms a durable timer "task:<id>:<generation>"; moving the task
// bumps the generation, so only the latest timer can make it due, once.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actors/crm/contacts.hpp"
#include "events/status.hpp"
#include "events/tenant_events.hpp"

namespace crmd::crm {

struct task_state {
  static constexpr const char* type_name = "tenant_task_state";
  std::string about;  // contact id or empty
  bool open = true;
  int64_t due_us = 0;
  uint32_t generation = 0;
  template <class F> void fields(F&& f) {
    f("about", about);
    f("open", open);
    f("due_us", due_us);
    f("generation", generation);
  }
};

struct work {
  std::map<uint64_t, task_state> tasks;
  uint64_t next_task = 1;
  uint64_t next_note = 1;
  std::set<uint64_t> dirty;  // tasks changed since the last snapshot
};

std::string task_id(uint64_t n);
std::optional<uint64_t> parse_task_id(const std::string& id);
std::string task_timer_id(const std::string& task, uint32_t generation);

struct add_note {
  std::string about_id, text;
};
struct create_task {
  std::string about_id, title;
  int64_t due_us = 0;
};
struct complete_task {
  std::string id;
};
struct reopen_task {
  std::string id;
};
// A new due time; `snooze` says the user put it off (the timeline shows it).
struct reschedule_task {
  std::string id;
  int64_t due_us = 0;
  bool snooze = false;
};

// Rejections: invalid_field, contact_not_found, task_not_found, task_done,
// task_open.
result<std::vector<ev::tenant_event>> decide(const work& w, const contacts& c, const add_note& cmd);
result<std::vector<ev::tenant_event>> decide(const work& w, const contacts& c, const create_task& cmd);
result<std::vector<ev::tenant_event>> decide(const work& w, const complete_task& cmd);
result<std::vector<ev::tenant_event>> decide(const work& w, const reopen_task& cmd);
result<std::vector<ev::tenant_event>> decide(const work& w, const reschedule_task& cmd);
// When a timer of a task fires: task_due if it is still the task's current
// timer and the task is open.
std::vector<ev::tenant_event> on_timer(const work& w, const std::string& timer_id);

void apply(work& w, const ev::tenant_event& e);

}  // namespace crmd::crm
