// Tests that append into a WAL made from a zeroed spare
// (storage/zeroed_wal.hpp), as crmd does after its first memtable switch.
#pragma once

#include <unistd.h>

#include <string>

#include "storage/kv.hpp"
#include "storage/zeroed_wal.hpp"

namespace crmd::test {

// RocksDB makes a store's first WAL while it opens (an ordinary file) and the
// first spare is prepared only after that: waits up to 5 s for the spare
// (named only once whole), then a synced write and a flush start a new WAL,
// made from it. Whether the spare came and the write and the flush succeeded.
// Free of gtest: the crash test's child process uses it too.
inline bool switch_to_zeroed_wal(kv_store& kv, const std::string& path) {
  std::string spare = path + "/" + zeroed_wal_spare_name();
  for (int i = 0; i < 500 && ::access(spare.c_str(), F_OK) != 0; ++i) ::usleep(10000);
  if (::access(spare.c_str(), F_OK) != 0) return false;
  auto b = kv.new_batch();
  b->put(cf::meta, "zeroed-wal-switch", "");
  return kv.write(*b, true).is_ok() && kv.flush(cf::meta).is_ok();
}

}  // namespace crmd::test
