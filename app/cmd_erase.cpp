// crmd erase: a person's data erased on request, through the running server
// (the erasure needs the tenant's actor and the views' runner).
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "app/data_dir.hpp"
#include "app/server_file.hpp"

namespace crmd::cli {
namespace {

const char* help = R"(usage: crmd erase --tenant T --subject L12 [--data-dir D]

Erases a lead or customer on request: records the erasure, destroys their
key (every sealed event about them reads back as erased), deletes their call
recordings, purges old copies of the key from the store's files and the
write-ahead log, and rebuilds the views they appear in. Lists them in
<data>/erased_subjects, so restoring an older backup erases them again.
Acts through the running crmd serve on D (operator token).
)";

}  // namespace

int run_erase(const argv_t& argv) {
  auto a = parse(argv, {{"tenant", "subject", "data-dir"}, {"help"}, 0});
  if (!a) return fail("erase", a.error().message() + " (see crmd erase --help)", exit_usage);
  if (a->has("help")) {
    std::cout << help;
    return exit_ok;
  }
  auto tenant = a->get("tenant");
  auto subject = a->get("subject");
  if (!tenant || !subject) return fail("erase", "--tenant and --subject are required", exit_usage);
  std::string dir = data_dir_from(*a);
  auto srv = find_server(dir);
  if (!srv) return fail("erase", "no crmd serve is running on " + dir + "; start it, then erase", exit_failure);
  long code = 0;
  auto r = operator_request(*srv, "POST", "/api/admin/tenants/" + *tenant + "/subjects/" + *subject + "/erase",
                            operator_token(dir), "{}", &code);
  if (!r) return fail("erase", "server pid " + std::to_string(srv->pid) + ": " + r.error().message(), exit_failure);
  if (code != 200) return fail("erase", "server answered " + std::to_string(code) + ": " + *r, exit_failure);
  std::cout << *r << "\n";
  return exit_ok;
}

}  // namespace crmd::cli
