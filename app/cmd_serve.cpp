// crmd serve: for now opens the store, reports its position, and holds the
// data directory until SIGINT or SIGTERM. The HTTP server joins it next.
#include <pthread.h>
#include <signal.h>

#include <iostream>

#include "app/commands.hpp"
#include "app/data_dir.hpp"

namespace crmd::cli {
namespace {
const char* help = R"(usage: crmd serve [--data-dir D]

Opens (creating if needed) the event log in D and runs until SIGINT/SIGTERM.

  --data-dir D   data directory (default $CRMD_DATA_DIR, else ./data)
)";
}  // namespace

int run_serve(const argv_t& argv) {
  auto a = parse(argv, {{"data-dir"}, {"help"}, 0});
  if (!a) return fail("serve", a.error().message() + " (see crmd serve --help)", exit_usage);
  if (a->has("help")) {
    std::cout << help;
    return exit_ok;
  }
  // Block the stop signals before any thread starts, then wait for them here.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  std::string dir = data_dir_from(*a);
  auto log = open_log(dir, open_mode::create);
  if (!log) return fail("serve", log.error().message(), exit_failure);
  std::cout << "crmd serve: data directory " << dir << ", log position "
            << (*log)->last_position() << "; waiting for SIGINT/SIGTERM" << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  std::cout << "crmd serve: stopping on signal " << sig << std::endl;
  log->reset();  // drains pending appends and closes the store
  return exit_ok;
}

}  // namespace crmd::cli
