// Where a synced RocksDB batch spends its time on this machine (issue 2's
// 100k events/s question), with crmd's two writes per event (a record and a
// stream-index entry) and nothing of crmd: loopback/disk only, stops by itself.
//
//   wal_probe [--seconds S] [--value-bytes N] [--dir D]
//
// Each line runs in a fresh RocksDB under D (default: a new temp directory,
// removed at exit):
//   synced      one thread writes synced batches of B events back to back
//   split       the same batch written unsynced, then SyncWAL(): the time of each
//   pipelined   one thread writes unsynced batches of at most B events while
//               another syncs the WAL; at most F events written and not yet
//               synced (F events "in flight", as F appenders would keep)
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

namespace {

using clk = std::chrono::steady_clock;
double seconds = 3;
size_t value_bytes = 426;
std::string dir;

std::string be64(uint64_t v) {
  std::string k(8, '\0');
  for (int b = 0; b < 8; ++b) k[7 - b] = char(v >> (8 * b));
  return k;
}

struct store {
  rocksdb::DB* db = nullptr;
  uint64_t next = 1;
  std::string value = std::string(value_bytes, 'x');
  explicit store(const std::string& name) {
    std::filesystem::remove_all(dir + "/" + name);
    rocksdb::Options o;
    o.create_if_missing = true;
    if (!rocksdb::DB::Open(o, dir + "/" + name, &db).ok()) std::exit(1);
  }
  ~store() { delete db; }
  void fill(rocksdb::WriteBatch& b, size_t events) {
    for (size_t i = 0; i < events; ++i, ++next) {
      b.Put(be64(next), value);
      b.Put("t0/wa/main/" + be64(next), be64(next));
    }
  }
};

double since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

void synced(size_t batch) {
  store s("synced");
  rocksdb::WriteOptions w;
  w.sync = true;
  uint64_t n = 0;
  auto t0 = clk::now();
  while (since(t0) < seconds) {
    rocksdb::WriteBatch b;
    s.fill(b, batch);
    s.db->Write(w, &b);
    n += batch;
  }
  std::printf("synced     batch %3zu             %8.0f events/s\n", batch, n / since(t0));
}

void split(size_t batch) {
  store s("split");
  double write = 0, sync = 0;
  uint64_t n = 0, batches = 0;
  auto t0 = clk::now();
  while (since(t0) < seconds) {
    rocksdb::WriteBatch b;
    s.fill(b, batch);
    auto a = clk::now();
    s.db->Write(rocksdb::WriteOptions(), &b);
    auto m = clk::now();
    s.db->SyncWAL();
    write += std::chrono::duration<double>(m - a).count();
    sync += since(m);
    n += batch, ++batches;
  }
  std::printf("split      batch %3zu             %8.0f events/s   write %4.0f us, sync %4.0f us a batch\n", batch,
              n / since(t0), write / batches * 1e6, sync / batches * 1e6);
}

void pipelined(size_t batch, size_t in_flight) {
  store s("pipelined");
  std::mutex mu;
  std::condition_variable cv;
  uint64_t written = 0, durable = 0, syncs = 0;
  bool stop = false;
  std::thread syncer([&] {
    for (;;) {
      uint64_t upto;
      {
        std::unique_lock l(mu);
        cv.wait(l, [&] { return stop || written > durable; });
        if (stop) return;
        upto = written;
      }
      s.db->SyncWAL();
      {
        std::lock_guard l(mu);
        durable = upto, ++syncs;
      }
      cv.notify_all();
    }
  });
  auto t0 = clk::now();
  while (since(t0) < seconds) {
    uint64_t room;
    {
      std::unique_lock l(mu);
      cv.wait(l, [&] { return written - durable < in_flight; });
      room = in_flight - (written - durable);
    }
    size_t k = std::min<uint64_t>(room, batch);
    rocksdb::WriteBatch b;
    s.fill(b, k);
    s.db->Write(rocksdb::WriteOptions(), &b);
    {
      std::lock_guard l(mu);
      written += k;
    }
    cv.notify_all();
  }
  double secs = since(t0);
  {
    std::lock_guard l(mu);
    stop = true;
  }
  cv.notify_all();
  syncer.join();
  std::printf("pipelined  batch %3zu, %3zu in flight %8.0f durable events/s   %.1f events a sync\n", batch, in_flight,
              durable / secs, syncs ? double(durable) / syncs : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (a == "--value-bytes") value_bytes = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--dir") dir = argv[i + 1];
    else return std::fprintf(stderr, "usage: wal_probe [--seconds S] [--value-bytes N] [--dir D]\n"), 2;
  }
  bool own = dir.empty();
  if (own) {
    char tmpl[] = "/tmp/crmd-wal-probe-XXXXXX";
    if (!::mkdtemp(tmpl)) return 1;
    dir = tmpl;
  }
  std::printf("value %zu bytes + a stream-index entry per event, %.0f s a line\n", value_bytes, seconds);
  synced(1);
  synced(64);
  split(1);
  split(64);
  pipelined(64, 64);
  pipelined(16, 64);
  pipelined(64, 128);
  if (own) std::filesystem::remove_all(dir);
}
