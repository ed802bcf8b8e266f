// Event log benchmarks, each beside a raw RocksDB baseline measured in the
// same run on the same machine:
//   append   durable appends at 1, 8, 64 concurrent appenders vs raw synced
//            WriteBatches of the same record size from the same threads
//   replay   sequential read + CRC + decode of the whole log vs a raw
//            iterator scan of the same column family
//   crypto   subject-bound (encrypted) events vs plain, for append and replay
// Usage: log_bench [--seconds S] [--events N] [--dir D] [--replay-only] [--quick] [--zeroed-wal-mb N]
//   --zeroed-wal-mb: rocks_options::zeroed_wal_bytes in MiB (0: ordinary WAL files)
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "events/codec.hpp"
#include "events/tenant_events.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"
#include "storage/rocks_kv.hpp"
#include "tests/support/events.hpp"

using namespace crmd;
using clk = std::chrono::steady_clock;

namespace {

double seconds_since(clk::time_point t) {
  return std::chrono::duration<double>(clk::now() - t).count();
}

std::string text_300() { return std::string(290, 'x'); }  // ~300-byte encoded payload

uint64_t zeroed_wal_bytes = rocks_options{}.zeroed_wal_bytes;

std::unique_ptr<event_log> open_log(const std::string& path, bool sync) {
  std::filesystem::remove_all(path);
  rocks_options ro;
  ro.path = path;
  ro.zeroed_wal_bytes = zeroed_wal_bytes;
  auto kv = open_rocks_kv(ro);
  if (!kv) {
    std::fprintf(stderr, "%s\n", kv.error().to_string().c_str());
    std::exit(1);
  }
  log_options lo;
  lo.sync = sync;
  return std::move(*open_event_log(std::move(*kv), lo));
}

// Each thread appends one event per call to its own stream, for `secs`.
double bench_append(const std::string& dir, int threads, double secs, bool encrypted,
                    double* avg_batch = nullptr) {
  auto log = open_log(dir + "/append", true);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::vector<std::thread> ts;
  auto start = clk::now();
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      std::string tenant = "t" + std::to_string(t % 8);
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        std::string subject = encrypted ? tenant + "/lead/L" + std::to_string(t) : "";
        auto r = log->append(test::one(tenant + "/tenant/s" + std::to_string(t),
                                       test::note(text_300(), subject)));
        if (!r) std::abort();
        ++n;
      }
      done += n;
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  stop = true;
  for (auto& t : ts) t.join();
  double el = seconds_since(start);
  auto st = log->stats();
  if (avg_batch) *avg_batch = st.batches ? double(st.events) / st.batches : 0;
  if (st.batches)
    std::fprintf(stderr, "  [%d appenders] per batch: decide %.0f us, write %.0f us, %.1f events\n", threads,
                 double(st.decide_us) / st.batches, double(st.write_us) / st.batches,
                 double(st.events) / st.batches);
  return done / el;
}

// `inflight` appends kept in flight through append_async, each resubmitted
// from its own acknowledgement: how CAF actors use the log (no thread per
// appender), so the writer, not thread switching, is what is measured.
double bench_append_async(const std::string& dir, int inflight, double secs, double* avg_batch) {
  auto log = open_log(dir + "/append-async", true);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::atomic<int> running{inflight};
  auto payload = test::note(text_300());
  std::vector<std::function<void()>> next(inflight);
  for (int t = 0; t < inflight; ++t) {
    std::string tenant = "t" + std::to_string(t % 8);
    std::string stream = tenant + "/tenant/s" + std::to_string(t);
    next[t] = [&, stream, t] {
      log->append_async(test::one(stream, payload), [&, t](result<append_result> r) {
        if (!r) std::abort();
        done.fetch_add(1, std::memory_order_relaxed);
        if (stop.load(std::memory_order_relaxed)) {
          running--;
          return;
        }
        next[t]();
      });
    };
  }
  auto start = clk::now();
  for (auto& f : next) f();
  std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  stop = true;
  double el = seconds_since(start);
  while (running.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto st = log->stats();
  *avg_batch = st.batches ? double(st.events) / st.batches : 0;
  return done / el;
}

// The same threads writing synced single-record WriteBatches straight into RocksDB.
double bench_raw_append(const std::string& dir, int threads, double secs, size_t record_size) {
  std::string path = dir + "/raw";
  std::filesystem::remove_all(path);
  rocksdb::Options o;
  o.create_if_missing = true;
  o.IncreaseParallelism(2);
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(o, path, &db).ok()) std::abort();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0}, seq{0};
  std::vector<std::thread> ts;
  std::string value(record_size, 'v');
  auto start = clk::now();
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        rocksdb::WriteBatch b;
        b.Put(be64(++seq), value);
        if (!db->Write(wo, &b).ok()) std::abort();
        ++n;
      }
      done += n;
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  stop = true;
  for (auto& t : ts) t.join();
  double el = seconds_since(start);
  delete db;
  return done / el;
}

// The ceiling for any group commit on this disk: one thread writing synced
// batches of `per` records plus a stream-index entry each (what crmd writes),
// with no deciding, no queueing and no waking of callers.
double bench_raw_batches(const std::string& dir, int per, double secs, size_t record_size) {
  std::string path = dir + "/raw-batches";
  std::filesystem::remove_all(path);
  rocksdb::Options o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.IncreaseParallelism(2);
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs{{"default", {}}, {"streams", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(o, path, cfs, &hs, &db).ok()) std::abort();
  std::string value(record_size, 'v');
  uint64_t seq = 0, n = 0;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  auto start = clk::now();
  while (seconds_since(start) < secs) {
    rocksdb::WriteBatch b;
    for (int i = 0; i < per; ++i) {
      ++seq;
      b.Put(hs[0], be64(seq), value);
      b.Put(hs[1], "t" + std::to_string(seq % 64) + "/tenant/s" + std::to_string(seq % 64) + '\0' + be64(seq), be64(seq));
    }
    if (!db->Write(wo, &b).ok()) std::abort();
    n += per;
  }
  double el = seconds_since(start);
  for (auto* h : hs) db->DestroyColumnFamilyHandle(h);
  delete db;
  return n / el;
}

void fill(event_log& log, uint64_t events, bool encrypted) {
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (uint64_t i = t; i < events; i += 4) {
        std::string tenant = "t" + std::to_string(i % 16);
        auto req = test::one(tenant + "/tenant/" + tenant,
                             test::note(text_300(), encrypted ? tenant + "/lead/L" + std::to_string(i % 1000) : ""));
        log.append_async(std::move(req), [](result<append_result> r) {
          if (!r) std::abort();
        });
      }
    });
  for (auto& t : ts) t.join();
  while (log.last_position() < events) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

// Read + CRC + decrypt (if bound) + decode every event into its variant.
double bench_replay(event_log& log, uint64_t* count) {
  uint64_t n = 0, bytes = 0;
  auto start = clk::now();
  ev::tenant_event scratch;  // reused, as a projection runner does
  auto s = log.scan(1, [&](const log_entry& e) {
    if (!codec::decode_into(e.record.type, e.record.schema_version, e.payload, scratch)) std::abort();
    bytes += std::get<ev::note_added>(scratch).text.size();
    ++n;
    return true;
  });
  if (!s || bytes == 0) std::abort();
  *count = n;
  return n / seconds_since(start);
}

// Settles the LSM tree (flush + full compaction) so that both replay
// measurements read the same files with no background work running.
void compact_all(const std::string& path) {
  std::vector<std::string> names;
  rocksdb::DBOptions dbo;
  if (!rocksdb::DB::ListColumnFamilies(dbo, path, &names).ok()) std::abort();
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  rocksdb::ColumnFamilyOptions cfo;
  cfo.compression = rocksdb::kLZ4Compression;  // as crmd's own options
  for (auto& n : names) cfs.push_back({n, cfo});
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(dbo, path, cfs, &hs, &db).ok()) std::abort();
  for (auto* h : hs) {
    db->Flush({}, h);
    db->CompactRange({}, h, nullptr, nullptr);
  }
  for (auto* h : hs) db->DestroyColumnFamilyHandle(h);
  delete db;
}

// A plain rocksdb::Iterator over the "events" column family, nothing else.
struct raw_scanner {
  explicit raw_scanner(const std::string& path) {
    std::vector<std::string> names;
    rocksdb::DBOptions dbo;
    if (!rocksdb::DB::ListColumnFamilies(dbo, path, &names).ok()) std::abort();
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (auto& n : names) cfs.push_back({n, rocksdb::ColumnFamilyOptions()});
    if (!rocksdb::DB::OpenForReadOnly(dbo, path, cfs, &hs, &db).ok()) std::abort();
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == "events") events = hs[i];
  }
  ~raw_scanner() {
    for (auto* h : hs) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  double scan(uint64_t* count) {
    uint64_t n = 0, bytes = 0;
    auto start = clk::now();
    rocksdb::ReadOptions ro;
    ro.readahead_size = 2u << 20;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, events));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      bytes += it->value().size();
      ++n;
    }
    if (bytes == 0) std::abort();
    *count = n;
    return n / seconds_since(start);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyHandle* events = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  double secs = 3;
  uint64_t events = 1'000'000;
  std::string dir = "/tmp/crmd-bench";
  bool replay_only = false, quick = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--replay-only") replay_only = true;
    else if (a == "--quick") quick = true;
    else if (a == "--seconds" && has_value) secs = std::atof(argv[++i]);
    else if (a == "--events" && has_value) events = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--dir" && has_value) dir = argv[++i];
    else if (a == "--zeroed-wal-mb" && has_value) zeroed_wal_bytes = std::strtoull(argv[++i], nullptr, 10) << 20;
    else {
      std::fprintf(stderr,
                   "usage: log_bench [--seconds S] [--events N] [--dir D] [--replay-only] [--quick] [--zeroed-wal-mb N]\n");
      return 2;
    }
  }
  std::filesystem::create_directories(dir);

  // The stored size of one of our records, so the raw baseline writes the same.
  size_t record_size = 0;
  {
    auto log = open_log(dir + "/probe", false);
    log->append(test::one("t0/tenant/s0", test::note(text_300())));
    log->scan_records(1, [&](uint64_t, std::string_view v) { record_size = v.size(); return true; });
  }
  std::printf("record size %zu bytes (payload ~300); zeroed WAL files of %llu MiB\n\n", record_size,
              static_cast<unsigned long long>(zeroed_wal_bytes >> 20));

  if (quick) {  // the goal's line alone, beside the ceiling of the same moment, three times
    for (int round = 0; round < 3; ++round) {
      double batch = 0;
      double ours = bench_append_async(dir, 64, secs, &batch);
      double ceiling = bench_raw_batches(dir, 64, secs, record_size);
      std::printf("64 in flight %8.0f events/s (avg batch %.1f)   raw single-writer ceiling %8.0f   ratio %.2f\n",
                  ours, batch, ceiling, ours / ceiling);
    }
    std::filesystem::remove_all(dir);
    return 0;
  }

  if (!replay_only) {
  std::printf("== durable append (events/s; every ack after fsync) ==\n");
  std::printf("%-10s %12s %12s %8s %10s\n", "appenders", "crmd", "raw rocksdb", "ratio", "avg batch");
  for (int threads : {1, 8, 64}) {
    double batch = 0;
    double ours = bench_append(dir, threads, secs, false, &batch);
    double raw = bench_raw_append(dir, threads, secs, record_size);
    std::printf("%-10d %12.0f %12.0f %8.2f %10.1f\n", threads, ours, raw, ours / raw, batch);
  }

  std::printf("\n== durable append, async appenders (the actor model; events/s) ==\n");
  std::printf("%-10s %12s %12s %8s %10s\n", "in flight", "crmd", "raw (threads)", "ratio", "avg batch");
  for (int inflight : {1, 8, 64}) {
    double batch = 0;
    double ours = bench_append_async(dir, inflight, secs, &batch);
    double raw = bench_raw_append(dir, inflight, secs, record_size);
    std::printf("%-10d %12.0f %12.0f %8.2f %10.1f\n", inflight, ours, raw, ours / raw, batch);
  }

  std::printf("\n== ceiling: one raw writer, synced batches of 64 records + index entries ==\n");
  std::printf("%.0f events/s\n", bench_raw_batches(dir, 64, secs, record_size));

  std::printf("\n== encryption overhead, append at 64 appenders (events/s) ==\n");
  double plain = bench_append(dir, 64, secs, false);
  double sealed = bench_append(dir, 64, secs, true);
  std::printf("plain %.0f  encrypted %.0f  ratio %.2f\n", plain, sealed, sealed / plain);

  }
  std::printf("\n== replay: read + CRC + decode of %llu events ==\n", (unsigned long long)events);
  for (bool encrypted : {false, true}) {
    std::string path = dir + (encrypted ? "/replay-enc" : "/replay");
    {
      auto log = open_log(path, false);
      fill(*log, events, encrypted);
    }
    compact_all(path);
    uint64_t n1 = 0, n2 = 0;
    double ours = 0, raw = 0;
    {
      rocks_options ro;
      ro.path = path;
      ro.read_only = true;
      auto kv = open_rocks_kv(ro);
      auto log = open_event_log(std::move(*kv));
      raw_scanner baseline(path);
      // Alternate the two, first passes warm the caches; best of the rest,
      // so noise on this shared machine hits both sides alike.
      for (int pass = 0; pass < 6; ++pass) {
        double a = bench_replay(**log, &n1);
        double b = baseline.scan(&n2);
        if (pass > 0) {
          ours = std::max(ours, a);
          raw = std::max(raw, b);
        }
      }
    }
    std::printf("%-10s crmd %10.0f ev/s   raw scan %10.0f ev/s   ratio %.2f   (%llu events)\n",
                encrypted ? "encrypted" : "plain", ours, raw, ours / raw, (unsigned long long)n1);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
