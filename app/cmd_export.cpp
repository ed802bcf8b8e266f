// crmd export / crmd verify-export: integrity proofs for auditors
// (replay/export.hpp; the recipe for checking by hand is docs/audit.md).
#include <fstream>
#include <iostream>

#include "app/commands.hpp"
#include "app/data_dir.hpp"
#include "replay/export.hpp"

namespace crmd::cli {
namespace {

const char* export_help = R"(usage: crmd export --tenant T [--out FILE] [--data-dir D]

Writes tenant T's events as JSON lines: each with its exact hashed record
bytes (base64), its hash-chain links and the decoded event, then the keys of
the data subjects it names (so encrypted payloads can be checked), led by
the tenant's stored chain head. Opens the store read-only: works beside a
running server. The file holds personal data; treat it as such.

  --tenant T     the tenant (its canonical id)
  --out FILE     write there instead of standard output
  --data-dir D   data directory (default $CRMD_DATA_DIR, else ./data)
)";

const char* verify_help = R"(usage: crmd verify-export FILE

Checks an export on its own: every link is SHA-256(previous link || body),
the links chain from 32 zero bytes, each line's fields and decoded event are
what its hashed bytes say (decrypting with the exported subject keys), and
the last event is the chain head. Exits 0 when all holds, 1 naming the first
bad line.
)";

}  // namespace

int run_export(const argv_t& argv) {
  auto a = parse(argv, {{"tenant", "out", "data-dir"}, {"help"}, 0});
  if (!a) return fail("export", a.error().message() + " (see crmd export --help)", exit_usage);
  if (a->has("help")) {
    std::cout << export_help;
    return exit_ok;
  }
  auto tenant = a->get("tenant");
  if (!tenant || tenant->empty()) return fail("export", "--tenant is required", exit_usage);
  auto store = open_store(data_dir_from(*a), open_mode::read_only);
  if (!store) return fail("export", store.error().message(), exit_failure);
  std::ofstream file;
  if (auto out = a->get("out")) {
    file.open(*out, std::ios::binary | std::ios::trunc);
    if (!file) return fail("export", "cannot write " + *out, exit_failure);
  }
  std::ostream& out = file.is_open() ? file : std::cout;
  auto n = export_tenant(*store->log, *store->kv, *tenant, out);
  if (!n) return fail("export", n.error().message(), exit_failure);
  if (file.is_open()) std::cerr << "exported " << *n << " events of " << *tenant << "\n";
  return exit_ok;
}

int run_verify_export(const argv_t& argv) {
  auto a = parse(argv, {{}, {"help"}, 1});
  if (!a) return fail("verify-export", a.error().message() + " (see crmd verify-export --help)", exit_usage);
  if (a->has("help")) {
    std::cout << verify_help;
    return exit_ok;
  }
  if (a->positional.size() != 1) return fail("verify-export", "name the export file", exit_usage);
  std::ifstream in(a->positional[0], std::ios::binary);
  if (!in) return fail("verify-export", "cannot read " + a->positional[0], exit_failure);
  auto c = verify_export(in);
  if (!c.ok)
    return fail("verify-export", (c.bad_line ? "line " + std::to_string(c.bad_line) + ": " : std::string()) + c.reason,
                exit_failure);
  std::cout << "ok: " << c.events << " events chained to the head, " << c.decrypted
            << " encrypted payloads proven, " << c.erased << " erased\n";
  return exit_ok;
}

}  // namespace crmd::cli
