// Write-ahead log files written into space zeroed beforehand.
//
// Why: every acknowledged append waits for an fdatasync of the log
// database's WAL. When that write makes the file longer, the new size is
// metadata the data cannot be read without, so the file system must also
// write the inode (ext4 here: a second, synchronous request per sync). When
// the bytes overwrite space that already exists, only the data goes:
// build/bench/fsync_probe measured 282-323 us a synced 6-16 KiB write into
// zeroed space against 365-393 us into space appended or only fallocate'd
// (what RocksDB does; bench/RESULTS.md, session 19). RocksDB's own WAL
// recycling would reuse old files, but RocksDB 7.8 switches it off under the
// point-in-time recovery crmd relies on.
//
// Contract:
// - Only new WAL files ("<number>.log") directly inside `db_dir` are
//   affected; every other file goes to the base file system untouched.
// - A new WAL is a spare file of `bytes` zeros, written and fdatasync'd in the
//   background, then renamed to the WAL's name (RocksDB's ReuseWritableFile:
//   opened without truncation, written from offset 0; RocksDB fsyncs the
//   directory before it acknowledges the first synced write into it). When no
//   spare is ready the WAL is made the ordinary way: never a wait.
// - After a crash the WAL ends in zeros. RocksDB's log reader skips zeroed
//   blocks as the preallocated space they are (a zero header is no record),
//   so recovery reads every synced record and stops at the first torn one,
//   exactly as for a WAL that simply ends there. A WAL closed normally is
//   truncated to its length by RocksDB.
// - The spare is prepared only after RocksDB created its first WAL, that is
//   after it took the directory's lock, so a second process refused by the
//   lock never touches the first one's files.
// - While held (hold()/release(), counted), new WAL files are ordinary ones.
//   A copy of a live store (RocksDB's checkpoint) reads the WAL being
//   appended to up to the size it had when listed: for an ordinary file
//   that bounds the copy to bytes already written, for a zeroed one it does
//   not, and a block read while still zero followed by one read after new
//   records landed would leave a hole the reader silently skips.
// - `bytes` is rounded up to whole 32 KiB WAL blocks: a zeroed tail of 1-6
//   bytes would read as a truncated header.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace rocksdb {
class FileSystem;
}

namespace crmd {

struct zeroed_wal {
  // Wraps the base file system; owns the thread preparing spares (stopped
  // when it is destroyed, after the databases using it are closed).
  std::shared_ptr<rocksdb::FileSystem> fs;
  // Valid while `fs` lives.
  std::function<void()> hold, release;
};

zeroed_wal make_zeroed_wal_fs(std::shared_ptr<rocksdb::FileSystem> base, std::string db_dir, uint64_t bytes);

// The spare's name inside db_dir (RocksDB ignores names it does not parse).
inline const char* zeroed_wal_spare_name() { return "crmd-wal-spare"; }

}  // namespace crmd
