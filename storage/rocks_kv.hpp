// The RocksDB kv_store. Included by storage and its tests only, so RocksDB's
// headers stay out of everything else.
#pragma once

#include <memory>
#include <string>

#include "storage/kv.hpp"

namespace rocksdb {
class Env;
}

namespace crmd {

struct rocks_options {
  // The data directory's RocksDB folder.
  std::string path;
  // serve creates a new store; inspection commands must not invent an empty one.
  bool create_if_missing = true;
  // Inspection commands (events, verify) open without taking the lock, so they
  // also work beside a running server; writes then fail with errc::io_error.
  bool read_only = false;
  // Block cache shared by all column families; small because the log is read
  // sequentially and views keep their own hot set.
  size_t block_cache_bytes = 32u << 20;
  // Tests inject a FileSystem wrapper through an Env to observe syncs.
  rocksdb::Env* env = nullptr;
  // Size of the zeroed space each new WAL file of the log's database is
  // written into (zeroed_wal.hpp): a synced append then never grows the
  // file, so its fdatasync writes no inode. Above the ~19 MiB a WAL reaches
  // between memtable switches under webhook load. 0: ordinary WAL files.
  uint64_t zeroed_wal_bytes = 32u << 20;
};

// errc::busy when another process holds the directory's lock,
// errc::not_found when it does not exist and create_if_missing is false.
result<std::unique_ptr<kv_store>> open_rocks_kv(const rocks_options& options);

}  // namespace crmd
