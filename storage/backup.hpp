// Backups of a data directory, and restoring one into a new directory.
//
// A backup directory holds:
//   db/            a RocksDB checkpoint: the store as of one moment (log,
//                  keys, secrets), hard-linked where possible; not the views,
//                  which the restored store's first `serve` builds from its log
//   recordings/    the call recordings, copied after the checkpoint, so every
//                  recording an event in db/ names is there (a recording is
//                  written before the event that names it)
//   secrets_key    the key that opens the tenant secrets in db/, if any
//   erased_subjects  the erased data subjects (storage/erasure.hpp); restore
//                  adds those erased at the source since the backup
//   manifest.json  {"format":1,"created_at","source","files","bytes"}
// Taken while crmd serve keeps writing: the checkpoint is consistent by
// itself and nothing else in the directory changes once written.
// A backup holds secrets: make_backup creates it with mode 0700.
#pragma once

#include <cstdint>
#include <string>

#include "events/status.hpp"

namespace crmd {

class kv_store;

struct backup_report {
  std::string dir;
  uint64_t files = 0;  // recordings and key files copied (the checkpoint not counted)
  uint64_t bytes = 0;
};

// `target` must not exist yet (errc::conflict, reason "already_exists"); its
// parent must.
result<backup_report> make_backup(kv_store& kv, const std::string& data_dir, const std::string& target);

// Copies a backup into `data_dir`, which must not exist or be empty
// (errc::conflict "already_exists" otherwise). errc::not_found / corruption when
// `backup_dir` is not a backup.
result<backup_report> restore_backup(const std::string& backup_dir, const std::string& data_dir);

}  // namespace crmd
