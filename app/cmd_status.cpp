// crmd status: asks a running server (through serve.json and the operator
// token) or, with none running, reads the store itself.
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "app/commands.hpp"
#include "app/data_dir.hpp"
#include "app/server_file.hpp"

namespace crmd::cli {

int run_status(const argv_t& argv) {
  auto a = parse(argv, {{"data-dir"}, {"help"}, 0});
  if (!a) return fail("status", a.error().message() + " (see crmd status --help)", exit_usage);
  if (a->has("help")) {
    std::cout << "usage: crmd status [--data-dir D]\n\nPrints the health of the crmd serve running on D "
                 "(asked over HTTP with the operator\ntoken), or, when none runs, the store's log position.\n";
    return exit_ok;
  }
  std::string dir = data_dir_from(*a);
  if (auto srv = find_server(dir)) {
    std::string token = operator_token(dir);
    long code = 0;
    auto body = operator_get(*srv, "/api/health", token, &code);
    if (!body) return fail("status", "server pid " + std::to_string(srv->pid) + " not answering: " + body.error().message(),
                           exit_failure);
    std::cout << "{\"server\":\"running\",\"pid\":" << srv->pid << ",\"url\":\"" << srv->url
              << "\",\"health\":" << *body << "}\n";
    return code == 200 ? exit_ok : exit_failure;
  }
  auto log = open_log(dir, open_mode::read_only);
  if (!log) return fail("status", log.error().message(), exit_failure);
  std::cout << "{\"server\":\"stopped\",\"log_position\":" << (*log)->last_position() << "}\n";
  return exit_ok;
}

}  // namespace crmd::cli
