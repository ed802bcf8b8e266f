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

// For readers that open a store read-only beside a running writer (verify,
// events): reads of db_dir's WAL files end at the first zeroed header. A
// reader of the live WAL could otherwise read one block while it is still
// zero and the next after new records landed in both, and skip the first
// block's records without a word: a hole where the log has none. With the
// files ending at the zeros, it sees a prefix of the log, as it would of an
// ordinary WAL that ends where the writer is.
std::shared_ptr<rocksdb::FileSystem> make_wal_prefix_reader_fs(std::shared_ptr<rocksdb::FileSystem> base,
                                                               std::string db_dir);

// How many leading bytes of a WAL file's contents come before its first
// zeroed header (RocksDB's log format: 32 KiB blocks of records with a
// 7-byte header of crc32 4, length 2, type 1; a block's last 0-6 bytes are
// padding). `data` from offset 0; all of it when no header is zero.
class wal_zero_finder {
 public:
  // Feeds the next bytes of the file; returns how many of them are before
  // the first zeroed header (size() while none is found). A header split
  // between two feeds is judged when whole, so up to 6 of its bytes may
  // already have been counted: RocksDB's log reader reads whole 32 KiB
  // blocks, so only a file ending mid-header splits one, and the reader
  // takes such a tail as the truncated header it is.
  size_t feed(const char* data, size_t size);
  bool found() const { return found_; }

 private:
  uint64_t pos_ = 0;          // file offset of data fed so far
  uint64_t next_header_ = 0;  // file offset of the next record header
  std::string header_;        // a header's first bytes, when split between feeds
  bool found_ = false;
};

// The spare's name inside db_dir (RocksDB ignores names it does not parse).
inline const char* zeroed_wal_spare_name() { return "crmd-wal-spare"; }

}  // namespace crmd
