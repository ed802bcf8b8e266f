#include "storage/zeroed_wal.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <rocksdb/file_system.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace crmd {
namespace {

constexpr uint64_t wal_block = 32768;  // RocksDB's WAL block

std::string without_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// "<dir>/<digits>.log", as RocksDB names its WAL files.
bool is_wal_in(const std::string& dir, const std::string& fname) {
  auto slash = fname.rfind('/');
  if (slash == std::string::npos || without_trailing_slashes(fname.substr(0, slash)) != dir) return false;
  std::string base = fname.substr(slash + 1);
  if (base.size() <= 4 || base.compare(base.size() - 4, 4, ".log") != 0) return false;
  for (size_t i = 0; i + 4 < base.size(); ++i)
    if (base[i] < '0' || base[i] > '9') return false;
  return true;
}

class zeroed_wal_fs final : public rocksdb::FileSystemWrapper {
 public:
  zeroed_wal_fs(std::shared_ptr<rocksdb::FileSystem> base, std::string dir, uint64_t bytes)
      : FileSystemWrapper(std::move(base)),
        dir_(without_trailing_slashes(std::move(dir))),
        spare_(dir_ + "/" + zeroed_wal_spare_name()),
        bytes_((bytes + wal_block - 1) / wal_block * wal_block) {}

  ~zeroed_wal_fs() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (worker_.joinable()) worker_.join();
  }

  const char* Name() const override { return "crmd.zeroed_wal_fs"; }

  void hold() {
    std::lock_guard lock(mu_);
    ++holds_;
  }
  void release() {
    std::lock_guard lock(mu_);
    --holds_;
  }

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* d) override {
    if (!is_wal(fname)) return target()->NewWritableFile(fname, o, result, d);
    bool have = false;
    {
      std::lock_guard lock(mu_);
      // RocksDB makes its first WAL while holding the directory's lock: only
      // now is the directory ours to prepare spares in.
      if (!worker_.joinable())
        worker_ = std::thread([this] {
          ::pthread_setname_np(::pthread_self(), "crmd.walzero");
          run();
        });
      have = ready_ && holds_ == 0;
      if (have) ready_ = false;
    }
    rocksdb::IOStatus s;
    if (have) s = target()->ReuseWritableFile(fname, spare_, o, result, d);
    {
      std::lock_guard lock(mu_);
      wanted_ = true;  // the next WAL's spare
    }
    cv_.notify_one();
    if (have && s.ok()) return s;
    if (have) std::fprintf(stderr, "crmd storage: zeroed WAL file not used: %s\n", s.ToString().c_str());
    return target()->NewWritableFile(fname, o, result, d);
  }

 private:
  bool is_wal(const std::string& fname) const { return is_wal_in(dir_, fname); }

  void run() {
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stop_ || wanted_; });
        if (stop_) return;
        wanted_ = false;
        if (ready_) continue;  // untouched while held: nothing to redo
      }
      if (!prepare()) ::unlink((spare_ + ".tmp").c_str());
    }
  }

  // Writes the spare under a temporary name and renames it when every zero
  // is on disk, so a spare found by its name is always whole.
  bool prepare() {
    std::string tmp = spare_ + ".tmp";
    int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return failed("open " + tmp);
    static const std::vector<char> zeros(1u << 20, 0);
    uint64_t done = 0;
    while (done < bytes_) {
      {
        std::lock_guard lock(mu_);
        if (stop_) break;
      }
      size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), bytes_ - done));
      ssize_t w = ::pwrite(fd, zeros.data(), n, static_cast<off_t>(done));
      if (w <= 0) {
        ::close(fd);
        return failed("write " + tmp);
      }
      // Written back a chunk at a time and paced: one 32 MiB burst would
      // queue in front of the appenders' syncs (p99 of the WhatsApp webhook
      // 10-14 ms against 8-9 unpaced). A WAL lasts seconds under load; this
      // takes about one.
      ::sync_file_range(fd, static_cast<off_t>(done), w,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      done += static_cast<uint64_t>(w);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    bool whole = done == bytes_ && ::fdatasync(fd) == 0;
    ::close(fd);
    if (!whole) return done == bytes_ ? failed("fdatasync " + tmp) : false;  // stopping
    // Named and marked ready at once: a spare seen under its name can be taken.
    std::lock_guard lock(mu_);
    if (::rename(tmp.c_str(), spare_.c_str()) != 0) return failed("rename " + tmp);
    ready_ = true;
    return true;
  }

  bool failed(const std::string& what) {
    std::fprintf(stderr, "crmd storage: preparing a zeroed WAL file: %s: %s\n", what.c_str(), std::strerror(errno));
    return false;
  }

  const std::string dir_, spare_;
  const uint64_t bytes_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, wanted_ = false, ready_ = false;
  int holds_ = 0;
  std::thread worker_;
};


// A WAL file read up to its first zeroed header (make_wal_prefix_reader_fs).
class prefix_file final : public rocksdb::FSSequentialFileOwnerWrapper {
 public:
  using FSSequentialFileOwnerWrapper::FSSequentialFileOwnerWrapper;
  rocksdb::IOStatus Read(size_t n, const rocksdb::IOOptions& o, rocksdb::Slice* result, char* scratch,
                         rocksdb::IODebugContext* d) override {
    if (finder_.found()) {
      *result = rocksdb::Slice();
      return rocksdb::IOStatus::OK();
    }
    auto s = target()->Read(n, o, result, scratch, d);
    if (s.ok()) *result = rocksdb::Slice(result->data(), finder_.feed(result->data(), result->size()));
    return s;
  }
  // Read through, so the finder sees every byte.
  rocksdb::IOStatus Skip(uint64_t n) override {
    std::vector<char> buf(64 * 1024);
    while (n > 0) {
      rocksdb::Slice got;
      auto s = Read(static_cast<size_t>(std::min<uint64_t>(n, buf.size())), {}, &got, buf.data(), nullptr);
      if (!s.ok() || got.empty()) return s;
      n -= got.size();
    }
    return rocksdb::IOStatus::OK();
  }

 private:
  wal_zero_finder finder_;
};

class prefix_reader_fs final : public rocksdb::FileSystemWrapper {
 public:
  prefix_reader_fs(std::shared_ptr<rocksdb::FileSystem> base, std::string dir)
      : FileSystemWrapper(std::move(base)), dir_(without_trailing_slashes(std::move(dir))) {}
  const char* Name() const override { return "crmd.wal_prefix_reader_fs"; }
  rocksdb::IOStatus NewSequentialFile(const std::string& fname, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* result,
                                      rocksdb::IODebugContext* d) override {
    auto s = target()->NewSequentialFile(fname, o, result, d);
    if (s.ok() && is_wal_in(dir_, fname)) *result = std::make_unique<prefix_file>(std::move(*result));
    return s;
  }

 private:
  const std::string dir_;
};

}  // namespace

size_t wal_zero_finder::feed(const char* data, size_t size) {
  if (found_) return 0;
  constexpr uint64_t header_size = 7;
  const uint64_t end = pos_ + size;
  // header_ holds the file's bytes [next_header_, pos_) when a header was
  // split between two feeds.
  auto byte_at = [&](uint64_t at) {
    return at < pos_ ? header_[at - next_header_] : data[at - pos_];
  };
  for (;;) {
    uint64_t in_block = wal_block - next_header_ % wal_block;
    if (in_block < header_size) {  // a block's padding
      next_header_ += in_block;
      header_.clear();
      continue;
    }
    if (next_header_ + header_size > end) {
      std::string rest;
      for (uint64_t at = next_header_; at < end; ++at) rest.push_back(byte_at(at));
      header_ = std::move(rest);
      break;
    }
    uint32_t length = uint8_t(byte_at(next_header_ + 4)) | uint32_t(uint8_t(byte_at(next_header_ + 5))) << 8;
    uint8_t type = uint8_t(byte_at(next_header_ + 6));
    if (type == 0 && length == 0) {
      found_ = true;
      return next_header_ > pos_ ? static_cast<size_t>(next_header_ - pos_) : 0;
    }
    // Types 5-8 (recycled WAL files) carry a 4-byte log number more.
    next_header_ += (type >= 5 && type <= 8 ? 11 : header_size) + length;
    header_.clear();
  }
  pos_ = end;
  return size;
}

std::shared_ptr<rocksdb::FileSystem> make_wal_prefix_reader_fs(std::shared_ptr<rocksdb::FileSystem> base,
                                                               std::string db_dir) {
  return std::make_shared<prefix_reader_fs>(std::move(base), std::move(db_dir));
}

zeroed_wal make_zeroed_wal_fs(std::shared_ptr<rocksdb::FileSystem> base, std::string db_dir, uint64_t bytes) {
  auto fs = std::make_shared<zeroed_wal_fs>(std::move(base), std::move(db_dir), bytes);
  zeroed_wal out;
  out.hold = [p = fs.get()] { p->hold(); };
  out.release = [p = fs.get()] { p->release(); };
  out.fs = std::move(fs);
  return out;
}

}  // namespace crmd
