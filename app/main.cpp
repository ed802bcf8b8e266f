// crmd: one binary, sub-commands.
#include <iostream>
#include <string>
#include <vector>

#include "app/cli_args.hpp"
#include "app/commands.hpp"

namespace {

const char* usage = R"(usage: crmd <command> [options]

commands:
  serve     run crmd on a data directory
  events    print events as JSON lines
  verify    check every record and every tenant's hash chain
  rebuild   rebuild a view from the log (server stopped)
  status    health of the running server, or the stopped store's position
  admin     create users (through the running server, or on the store)
  backup    a consistent copy of the data directory, also while serving
  restore   a backup into a new data directory
  erase     a person's data, on request (through the running server)
  replay    a tenant's CRM as it stood at a time or position
  export    a tenant's events with their hashed bytes, for auditors
  verify-export  check such an export on its own
  twilio-sign  print the X-Twilio-Signature of a webhook request (for curl tests)

Every command takes --data-dir D (default $CRMD_DATA_DIR, else ./data) and
--help. `crmd --version` prints the build revision.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace crmd::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "crmd: missing command (see crmd --help)\n";
    return exit_usage;
  }
  std::string cmd = args.front();
  args.erase(args.begin());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << usage;
    return exit_ok;
  }
  if (cmd == "--version") {
    std::cout << "crmd " << CRMD_REVISION << "\n";
    return exit_ok;
  }
  if (cmd == "serve") return run_serve(args);
  if (cmd == "events") return run_events(args);
  if (cmd == "verify") return run_verify(args);
  if (cmd == "rebuild") return run_rebuild(args);
  if (cmd == "status") return run_status(args);
  if (cmd == "admin") return run_admin(args);
  if (cmd == "backup") return run_backup(args);
  if (cmd == "restore") return run_restore(args);
  if (cmd == "export") return run_export(args);
  if (cmd == "replay") return run_replay(args);
  if (cmd == "erase") return run_erase(args);
  if (cmd == "verify-export") return run_verify_export(args);
  if (cmd == "twilio-sign") return run_twilio_sign(args);
  std::cerr << "crmd: unknown command '" << cmd << "' (see crmd --help)\n";
  return exit_usage;
}
