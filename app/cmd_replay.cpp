// crmd replay: a tenant's CRM as it stood at a time or position, offline
// (the same as GET /api/admin/tenants/{id}/as_of).
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "app/commands.hpp"
#include "app/data_dir.hpp"
#include "events/time_format.hpp"
#include "replay/as_of.hpp"

namespace crmd::cli {
namespace {

const char* help = R"(usage: crmd replay --tenant T --until <RFC 3339 time | position> [--limit N] [--out FILE] [--data-dir D]

Replays tenant T's events (and the tenant registry's) up to the time or log
position into scratch views and prints its customers, leads, contracts,
invoices, tasks, prompts, users and settings as they stood then, as one JSON
object. Opens the store read-only: works beside a running server.

  --until X      a time with an offset (2026-11-30T08:00:00Z) or a position
  --limit N      items per list (default 1000)
  --out FILE     write there instead of standard output
)";

}  // namespace

int run_replay(const argv_t& argv) {
  auto a = parse(argv, {{"tenant", "until", "limit", "out", "data-dir"}, {"help"}, 0});
  if (!a) return fail("replay", a.error().message() + " (see crmd replay --help)", exit_usage);
  if (a->has("help")) {
    std::cout << help;
    return exit_ok;
  }
  auto tenant = a->get("tenant");
  auto until = a->get("until");
  if (!tenant || !until) return fail("replay", "--tenant and --until are required", exit_usage);
  as_of_query q;
  q.tenant = *tenant;
  if (until->find_first_not_of("0123456789") == std::string::npos && !until->empty() && until->size() <= 19) {
    q.until_position = std::strtoull(until->c_str(), nullptr, 10);
  } else if (!parse_rfc3339(*until, q.until_us)) {
    return fail("replay", "--until must be a position or an RFC 3339 time with an offset", exit_usage);
  }
  auto limit = a->get_u64("limit");
  if (!limit) return fail("replay", limit.error().message(), exit_usage);
  if (*limit) q.limit = **limit;
  auto log = open_log(data_dir_from(*a), open_mode::read_only);
  if (!log) return fail("replay", log.error().message(), exit_failure);
  auto out = tenant_as_of(**log, q);
  if (!out) return fail("replay", out.error().message(), exit_failure);
  if (auto file = a->get("out")) {
    std::ofstream f(*file, std::ios::binary | std::ios::trunc);
    if (!(f << *out << "\n")) return fail("replay", "cannot write " + *file, exit_failure);
  } else {
    std::cout << *out << "\n";
  }
  return exit_ok;
}

}  // namespace crmd::cli
