// crmd backup / crmd restore: consistent copies of a data directory.
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "app/data_dir.hpp"
#include "app/server_file.hpp"
#include "replay/verify.hpp"
#include "storage/backup.hpp"

namespace crmd::cli {
namespace {

const char* backup_help = R"(usage: crmd backup DIR [--data-dir D]

Writes a consistent copy of the data directory D into DIR (which must not
exist): a RocksDB checkpoint of the whole store, the call recordings and the
secrets key. Works while crmd serve runs on D (through the server, with the
operator token) or on a stopped store. The copy is then verified (every
record and hash chain) before the command succeeds. DIR holds secrets: it is
created with mode 0700.

  --data-dir D   data directory (default $CRMD_DATA_DIR, else ./data)
)";

const char* restore_help = R"(usage: crmd restore DIR --data-dir NEW

Restores the backup in DIR into the data directory NEW, which must not
exist or be empty, then verifies it. Start crmd serve --data-dir NEW to use
it; views catch up from the log by themselves.
)";

// Verifies the store in `dir` and prints one summary line.
int verify_and_report(const std::string& cmd, const std::string& dir, const backup_report& r) {
  auto log = open_log(dir, open_mode::read_only);
  if (!log) return fail(cmd, "the copy does not open: " + log.error().message(), exit_failure);
  auto rep = verify_log(**log, nullptr);
  if (!rep) return fail(cmd, rep.error().to_string(), exit_failure);
  if (!rep->ok)
    return fail(cmd, "the copy is broken at position " + std::to_string(rep->first_bad_position) + ": " + rep->reason,
                exit_failure);
  std::cout << nlohmann::json{{"ok", true},
                              {"dir", r.dir},
                              {"events", rep->events_checked},
                              {"last_position", (*log)->last_position()},
                              {"tenants", rep->tenants},
                              {"files", r.files},
                              {"bytes", r.bytes}}
                   .dump()
            << "\n";
  return exit_ok;
}

}  // namespace

int run_backup(const argv_t& argv) {
  auto a = parse(argv, {{"data-dir"}, {"help"}, 1});
  if (!a) return fail("backup", a.error().message() + " (see crmd backup --help)", exit_usage);
  if (a->has("help")) {
    std::cout << backup_help;
    return exit_ok;
  }
  if (a->positional.size() != 1) return fail("backup", "name the backup directory (see crmd backup --help)", exit_usage);
  std::string dir = data_dir_from(*a), target = a->positional[0];
  backup_report r;
  if (auto srv = find_server(dir)) {
    long code = 0;
    auto res = operator_request(*srv, "POST", "/api/admin/backup", operator_token(dir),
                                nlohmann::json{{"dir", target}}.dump(), &code);
    if (!res) return fail("backup", "server pid " + std::to_string(srv->pid) + ": " + res.error().message(), exit_failure);
    if (code != 200) return fail("backup", "server answered " + std::to_string(code) + ": " + *res, exit_failure);
    auto j = nlohmann::json::parse(*res, nullptr, false);
    if (!j.is_object()) return fail("backup", "server answered " + *res, exit_failure);
    r.dir = j.value("dir", target);
    r.files = j.value("files", uint64_t(0));
    r.bytes = j.value("bytes", uint64_t(0));
  } else {
    auto store = open_store(dir, open_mode::existing);
    if (!store) return fail("backup", store.error().message(), exit_failure);
    auto made = make_backup(*store->kv, dir, target);
    if (!made) return fail("backup", made.error().message(), exit_failure);
    r = *made;
  }
  return verify_and_report("backup", r.dir, r);
}

int run_restore(const argv_t& argv) {
  auto a = parse(argv, {{"data-dir"}, {"help"}, 1});
  if (!a) return fail("restore", a.error().message() + " (see crmd restore --help)", exit_usage);
  if (a->has("help")) {
    std::cout << restore_help;
    return exit_ok;
  }
  if (a->positional.size() != 1 || !a->get("data-dir"))
    return fail("restore", "usage: crmd restore DIR --data-dir NEW", exit_usage);
  std::string to = *a->get("data-dir");
  if (find_server(to)) return fail("restore", "crmd serve is running on " + to, exit_failure);
  auto r = restore_backup(a->positional[0], to);
  if (!r) return fail("restore", r.error().message(), exit_failure);
  return verify_and_report("restore", to, *r);
}

}  // namespace crmd::cli
