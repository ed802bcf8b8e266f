// Sub-commands of the crmd binary. Each takes the arguments after its name,
// prints its own --help, and returns a process exit code (cli_args.hpp).
#pragma once

#include <string>
#include <vector>

namespace crmd::cli {

using argv_t = std::vector<std::string>;

int run_serve(const argv_t& argv);
int run_events(const argv_t& argv);
int run_verify(const argv_t& argv);
int run_twilio_sign(const argv_t& argv);
int run_rebuild(const argv_t& argv);
int run_status(const argv_t& argv);
int run_admin(const argv_t& argv);
int run_backup(const argv_t& argv);
int run_restore(const argv_t& argv);
int run_export(const argv_t& argv);
int run_replay(const argv_t& argv);
int run_erase(const argv_t& argv);
int run_verify_export(const argv_t& argv);

// One line "crmd <cmd>: <message>" on stderr; returns `code`.
int fail(const std::string& cmd, const std::string& message, int code);

}  // namespace crmd::cli
