// Proves the sync itself, which a SIGKILL test cannot (the page cache survives
// a killed process): a FileSystem wrapper records every byte RocksDB appends
// to its write-ahead log and how far each log file was synced. Each
// acknowledged append's unique bytes must lie inside the synced prefix at the
// moment the appender sees the acknowledgement.
#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/event_log.hpp"
#include "storage/rocks_kv.hpp"
#include "tests/support/events.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/zeroed_wal.hpp"

namespace crmd {
namespace {

struct wal_record {
  std::mutex mu;
  std::map<std::string, std::pair<std::string, size_t>> files;  // name -> (bytes, synced length)
  size_t syncs = 0;
  size_t reused = 0;  // WAL files made from a zeroed spare (storage/zeroed_wal.hpp)
};

class recording_file : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  recording_file(std::unique_ptr<rocksdb::FSWritableFile> f, std::string name, wal_record* rec)
      : FSWritableFileOwnerWrapper(std::move(f)), name_(std::move(name)), rec_(rec) {}
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* d) override {
    auto s = target()->Append(data, o, d);
    std::lock_guard lock(rec_->mu);
    rec_->files[name_].first.append(data.data(), data.size());
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* d) override {
    auto s = target()->Append(data, o, v, d);
    std::lock_guard lock(rec_->mu);
    rec_->files[name_].first.append(data.data(), data.size());
    return s;
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    // The length is taken before the sync starts: only bytes appended before
    // it are guaranteed durable by it.
    size_t len = appended();
    auto s = target()->Sync(o, d);
    if (s.ok()) mark_synced(len);
    return s;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    size_t len = appended();
    auto s = target()->Fsync(o, d);
    if (s.ok()) mark_synced(len);
    return s;
  }

 private:
  size_t appended() {
    std::lock_guard lock(rec_->mu);
    return rec_->files[name_].first.size();
  }
  void mark_synced(size_t len) {
    std::lock_guard lock(rec_->mu);
    auto& f = rec_->files[name_];
    f.second = std::max(f.second, len);
    rec_->syncs++;
  }
  std::string name_;
  wal_record* rec_;
};

class recording_fs : public rocksdb::FileSystemWrapper {
 public:
  recording_fs(std::shared_ptr<rocksdb::FileSystem> base, wal_record* rec)
      : FileSystemWrapper(std::move(base)), rec_(rec) {}
  const char* Name() const override { return "recording_fs"; }
  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* d) override {
    auto s = target()->NewWritableFile(fname, o, result, d);
    if (s.ok() && fname.size() > 4 && fname.compare(fname.size() - 4, 4, ".log") == 0)
      *result = std::make_unique<recording_file>(std::move(*result), fname, rec_);
    return s;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* d) override {
    auto s = target()->ReuseWritableFile(fname, old, o, result, d);
    if (s.ok()) *result = std::make_unique<recording_file>(std::move(*result), fname, rec_);
    if (s.ok()) {
      std::lock_guard lock(rec_->mu);
      ++rec_->reused;
    }
    return s;
  }

 private:
  wal_record* rec_;
};

// RocksDB's WAL is a sequence of 32 KiB blocks of fragments, each with a
// 7-byte header (crc32 4, length 2, type 1), so a record's bytes may be split
// by a block boundary. Reassemble the fragments' data, remembering where in
// the file each logical byte lives.
struct unframed {
  std::string data;
  std::vector<size_t> file_offset;  // of each byte of `data`
};
unframed unframe(const std::string& file) {
  constexpr size_t block = 32768, header = 7;
  unframed out;
  size_t pos = 0;
  while (pos + header <= file.size()) {
    size_t in_block = block - pos % block;
    if (in_block < header) {  // trailer padding
      pos += in_block;
      continue;
    }
    size_t len = uint8_t(file[pos + 4]) | (size_t(uint8_t(file[pos + 5])) << 8);
    uint8_t type = uint8_t(file[pos + 6]);
    if (type == 0 && len == 0) {  // zeroed (preallocated) space
      pos += in_block;
      continue;
    }
    size_t start = pos + header;
    size_t end = std::min(start + len, file.size());
    for (size_t i = start; i < end; ++i) {
      out.data.push_back(file[i]);
      out.file_offset.push_back(i);
    }
    pos = start + len;
  }
  return out;
}

// Where is `marker` in the recorded WAL bytes, and is it inside the synced prefix?
enum class found { synced, unsynced, absent };
found where(wal_record& rec, const std::string& marker) {
  std::lock_guard lock(rec.mu);
  for (auto& [name, f] : rec.files) {
    auto u = unframe(f.first);
    auto at = u.data.find(marker);
    if (at == std::string::npos) continue;
    size_t last_byte = u.file_offset[at + marker.size() - 1];
    return last_byte < f.second ? found::synced : found::unsynced;
  }
  return found::absent;
}

struct outcome {
  int synced = 0, unsynced = 0, absent = 0;
};

outcome run_appenders(bool sync, wal_record& rec, const std::string& path) {
  auto fs = std::make_shared<recording_fs>(rocksdb::FileSystem::Default(), &rec);
  auto env = rocksdb::NewCompositeEnv(fs);
  rocks_options ro;
  ro.path = path;
  ro.env = env.get();
  ro.zeroed_wal_bytes = 1u << 20;
  auto kv = open_rocks_kv(ro);
  EXPECT_TRUE(kv) << kv.error().to_string();
  // The appends go into a WAL made from a zeroed spare, as in production.
  EXPECT_TRUE(test::switch_to_zeroed_wal(**kv, path));
  log_options lo;
  lo.sync = sync;
  auto log = open_event_log(std::move(*kv), lo);
  EXPECT_TRUE(log);
  outcome out;
  std::mutex mu;
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        std::string marker = "marker-" + std::to_string(t) + "-" + std::to_string(i) + "-end";
        auto r = (*log)->append(test::one("acme/tenant/t" + std::to_string(t), test::note(marker)));
        ASSERT_TRUE(r);
        auto w = where(rec, marker);  // checked the moment the ack is seen
        std::lock_guard lock(mu);
        (w == found::synced ? out.synced : w == found::unsynced ? out.unsynced : out.absent)++;
      }
    });
  for (auto& t : ts) t.join();
  log->reset();
  return out;
}

TEST(durability, every_acknowledged_append_was_synced_before_its_ack) {
  test::temp_dir dir;
  wal_record rec;
  // The default options: an event log is durable unless a caller opts out.
  auto out = run_appenders(log_options{}.sync, rec, dir.sub("db"));
  EXPECT_EQ(out.synced, 8 * 40);
  EXPECT_EQ(out.unsynced, 0);
  EXPECT_EQ(out.absent, 0);
  EXPECT_GT(rec.syncs, 0u);
  EXPECT_EQ(rec.reused, 1u) << "the appends did not go into a zeroed WAL";
  // Group commit: fewer syncs than appends.
  EXPECT_LT(rec.syncs, size_t(8 * 40));
}

TEST(durability, the_check_catches_unsynced_acknowledgements) {
  // The control: with OS-buffered writes the same check must fail, or the
  // test above would prove nothing.
  test::temp_dir dir;
  wal_record rec;
  auto out = run_appenders(false, rec, dir.sub("db"));
  EXPECT_EQ(out.absent, 0);
  EXPECT_GT(out.unsynced, 0);
}

}  // namespace
}  // namespace crmd
