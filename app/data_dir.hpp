// The data directory: one folder holds everything crmd stores.
//   <dir>/db/          the RocksDB store (event log, views, keys)
// Later: recordings/, the operator token.
#pragma once

#include <memory>
#include <string>

#include "app/cli_args.hpp"
#include "storage/event_log.hpp"

namespace crmd::cli {

// --data-dir, else $CRMD_DATA_DIR, else ./data
std::string data_dir_from(const args& a);

enum class open_mode {
  create,     // serve: create the directory and store if missing; take the lock
  existing,   // maintenance (rebuild): the store must exist; take the lock
  read_only,  // inspection: the store must exist; no lock, works beside a server
};

struct opened_store {
  std::shared_ptr<kv_store> kv;
  std::unique_ptr<event_log> log;
};

// A clear one-line error for a missing, unreadable or locked directory.
result<opened_store> open_store(const std::string& dir, open_mode mode, log_options options = {});
result<std::unique_ptr<event_log>> open_log(const std::string& dir, open_mode mode,
                                            log_options options = {});

}  // namespace crmd::cli
