// crmd verify: walk every tenant's hash chain.
#include <unistd.h>

#include <iostream>

#include "app/commands.hpp"
#include "app/data_dir.hpp"
#include "replay/verify.hpp"

namespace crmd::cli {
namespace {
const char* help = R"(usage: crmd verify [--data-dir D]

Checks every record's framing and CRC, that positions and stream sequences
are dense, and every tenant's hash chain up to its stored head. Exits 0 when
all is intact, 1 naming the first broken position and its tenant.

  --data-dir D   data directory (default $CRMD_DATA_DIR, else ./data)
)";
}  // namespace

int run_verify(const argv_t& argv) {
  auto a = parse(argv, {{"data-dir"}, {"help"}, 0});
  if (!a) return fail("verify", a.error().message() + " (see crmd verify --help)", exit_usage);
  if (a->has("help")) {
    std::cout << help;
    return exit_ok;
  }
  auto log = open_log(data_dir_from(*a), open_mode::read_only);
  if (!log) return fail("verify", log.error().message(), exit_failure);
  uint64_t total = (*log)->last_position();
  bool tty = ::isatty(2);
  auto rep = verify_log(**log, [&](uint64_t n) {
    if (tty) std::cerr << "\rverifying " << n << "/" << total << std::flush;
  });
  if (tty && total >= 0x10000) std::cerr << "\n";
  if (!rep) return fail("verify", rep.error().to_string(), exit_failure);
  if (!rep->ok)
    return fail("verify", "broken at position " + std::to_string(rep->first_bad_position) +
                              " (tenant " + rep->tenant + "): " + rep->reason,
                exit_failure);
  std::cout << "ok: " << rep->events_checked << " events, " << rep->tenants
            << " tenant chains intact\n";
  return exit_ok;
}

}  // namespace crmd::cli
