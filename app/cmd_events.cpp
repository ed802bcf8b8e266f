// crmd events: the log as JSON lines, payloads decoded (or "erased").
#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "app/data_dir.hpp"
#include "events/catalog.hpp"
#include "events/time_format.hpp"
#include "storage/crypto.hpp"

namespace crmd::cli {
namespace {

const char* help = R"(usage: crmd events [--data-dir D] [--tenant T] [--from POS] [--limit N]

Prints events as JSON lines in position order, payloads decoded, or the
string "erased" where the data subject's key was destroyed. Stops with exit
code 1 at the first record that is corrupt, of an unknown type, or of a
schema version newer than this build.

  --data-dir D   data directory (default $CRMD_DATA_DIR, else ./data)
  --tenant T     only events of tenant T
  --from POS     start at global position POS (default 1)
  --limit N      print at most N events
)";

}  // namespace

int fail(const std::string& cmd, const std::string& message, int code) {
  std::cerr << "crmd " << cmd << ": " << message << "\n";
  return code;
}

int run_events(const argv_t& argv) {
  auto a = parse(argv, {{"data-dir", "tenant", "from", "limit"}, {"help"}, 0});
  if (!a) return fail("events", a.error().message() + " (see crmd events --help)", exit_usage);
  if (a->has("help")) {
    std::cout << help;
    return exit_ok;
  }
  auto from = a->get_u64("from");
  auto limit = a->get_u64("limit");
  if (!from) return fail("events", from.error().message(), exit_usage);
  if (!limit) return fail("events", limit.error().message(), exit_usage);
  auto tenant = a->get("tenant");

  auto log = open_log(data_dir_from(*a), open_mode::read_only);
  if (!log) return fail("events", log.error().message(), exit_failure);

  uint64_t printed = 0, max = limit->value_or(UINT64_MAX);
  status problem;
  std::string line;
  auto s = (*log)->scan(from->value_or(1), [&](const log_entry& e) {
    if (printed >= max) return false;
    const auto& r = e.record;
    if (tenant && r.tenant != *tenant) return true;
    nlohmann::json j;
    j["position"] = r.position;
    j["stream"] = r.stream;
    j["seq"] = r.stream_seq;
    j["type"] = r.type;
    j["schema_version"] = r.schema_version;
    j["recorded_at"] = rfc3339(r.recorded_at_us, 6);
    j["tenant"] = r.tenant;
    j["causer"] = r.causer;
    if (!r.impersonator.empty()) j["impersonator"] = r.impersonator;
    if (!r.request_id.empty()) j["request_id"] = r.request_id;
    if (!r.correlation_id.empty()) j["correlation_id"] = r.correlation_id;
    if (!r.causation_id.empty()) j["causation_id"] = r.causation_id;
    if (!r.client.empty()) j["client"] = r.client;
    if (!r.subject.empty()) j["subject"] = r.subject;
    if (!r.idempotency_hash.empty()) j["idempotency_hash"] = crypto::to_hex(r.idempotency_hash);
    j["link"] = crypto::to_hex(r.link);
    if (e.erased) {
      j["payload"] = "erased";
    } else {
      auto p = catalog::payload_to_json(r.type, r.schema_version, e.payload);
      if (!p) {
        problem = status{p.error().code(), "position " + std::to_string(r.position) + ": " +
                                               p.error().message()};
        return false;
      }
      j["payload"] = nlohmann::json::parse(*p);
    }
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stdout);
    ++printed;
    return true;
  });
  std::fflush(stdout);
  if (!s) return fail("events", s.to_string(), exit_failure);
  if (!problem.is_ok()) return fail("events", problem.to_string(), exit_failure);
  return exit_ok;
}

}  // namespace crmd::cli
