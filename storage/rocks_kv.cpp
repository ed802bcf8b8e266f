#include "storage/rocks_kv.hpp"

#include "storage/zeroed_wal.hpp"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/convenience.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace crmd {
namespace {

status from_rocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return status::ok();
  if (s.IsNotFound()) return {errc::not_found, what + ": " + s.ToString()};
  if (s.IsCorruption()) return {errc::corruption, what + ": " + s.ToString()};
  return {errc::io_error, what + ": " + s.ToString()};
}

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

// Where a family lives: the views in a database of their own (open_views
// says why), everything else in the log's. A null `views` db means the
// store has none (an old store opened read-only): its views are read from
// the log database's family of that name.
struct routes {
  rocksdb::DB* db = nullptr;
  rocksdb::DB* views = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // the log database's, in cf order
  rocksdb::ColumnFamilyHandle* views_handle = nullptr;
  bool in_views(cf f) const { return f == cf::projections && views; }
  rocksdb::DB* db_of(cf f) const { return in_views(f) ? views : db; }
  rocksdb::ColumnFamilyHandle* handle(cf f) const { return in_views(f) ? views_handle : handles[int(f)]; }
};

struct rocks_batch : kv_batch {
  explicit rocks_batch(const routes* r) : to(r) {}
  void put(cf f, std::string_view k, std::string_view v) override {
    of(f).Put(to->handle(f), slice(k), slice(v));
  }
  void del(cf f, std::string_view k) override { of(f).Delete(to->handle(f), slice(k)); }
  // An empty WriteBatch still holds its 12-byte header: 0 means no entry.
  size_t size_bytes() const override {
    return (log.Count() ? log.GetDataSize() : 0) + (views.Count() ? views.GetDataSize() : 0);
  }
  rocksdb::WriteBatch& of(cf f) { return to->in_views(f) ? views : log; }
  const routes* to;
  rocksdb::WriteBatch log, views;
};

class rocks_iterator : public kv_iterator {
 public:
  rocks_iterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h, std::string lower,
                 std::string upper, bool bulk)
      : upper_(std::move(upper)), upper_slice_(upper_) {
    rocksdb::ReadOptions ro;
    if (!upper_.empty()) ro.iterate_upper_bound = &upper_slice_;
    // A bulk scan reads 2 MiB at a time; a short one leaves it to RocksDB's
    // own readahead, which starts after two sequential block reads (a fixed
    // 2 MiB made every 25-row page read copy 2 MiB: bench/RESULTS.md).
    if (bulk) ro.readahead_size = 2u << 20;
    // Nor does a bulk scan keep what it read: each block is read once, and
    // caching it costs an LRU insert and evicts the views' hot pages.
    if (bulk) ro.fill_cache = false;
    it_.reset(db->NewIterator(ro, h));
    it_->Seek(lower);
  }
  bool valid() const override { return it_->Valid(); }
  void next() override { it_->Next(); }
  std::string_view key() const override { return it_->key().ToStringView(); }
  std::string_view value() const override { return it_->value().ToStringView(); }
  status error() const override { return from_rocks(it_->status(), "scan"); }

 private:
  std::string upper_;
  rocksdb::Slice upper_slice_;  // must outlive the iterator
  std::unique_ptr<rocksdb::Iterator> it_;
};

class rocks_kv : public kv_store {
 public:
  rocks_kv(routes r, bool ro, std::string path, std::unique_ptr<rocksdb::Env> env, zeroed_wal wal)
      : wal_(std::move(wal)), env_(std::move(env)), r_(std::move(r)), read_only_(ro), path_(std::move(path)) {}
  ~rocks_kv() override {
    if (r_.views) {
      r_.views->DestroyColumnFamilyHandle(r_.views_handle);
      r_.views->Close();
      delete r_.views;
    }
    for (auto* h : r_.handles) r_.db->DestroyColumnFamilyHandle(h);
    r_.db->Close();
    delete r_.db;
  }
  status get(cf f, std::string_view key, std::string* value) override {
    return from_rocks(r_.db_of(f)->Get({}, r_.handle(f), slice(key), value), "get");
  }
  std::vector<status> multi_get(cf f, const std::vector<std::string>& keys, std::vector<std::string>* values) override {
    std::vector<rocksdb::Slice> slices;
    slices.reserve(keys.size());
    for (auto& k : keys) slices.emplace_back(k);
    std::vector<rocksdb::PinnableSlice> pinned(keys.size());
    std::vector<rocksdb::Status> st(keys.size());
    r_.db_of(f)->MultiGet({}, r_.handle(f), keys.size(), slices.data(), pinned.data(), st.data(), /*sorted_input=*/true);
    std::vector<status> out;
    out.reserve(keys.size());
    values->resize(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      out.push_back(from_rocks(st[i], "get"));
      if (st[i].ok()) (*values)[i].assign(pinned[i].data(), pinned[i].size());
    }
    return out;
  }
  std::unique_ptr<kv_batch> new_batch() override { return std::make_unique<rocks_batch>(&r_); }
  status write(kv_batch& b, bool sync) override {
    if (read_only_) return {errc::io_error, "store is open read-only"};
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return commit(static_cast<rocks_batch&>(b), wo);
  }
  status write_unlogged(kv_batch& b) override {
    if (read_only_) return {errc::io_error, "store is open read-only"};
    rocksdb::WriteOptions wo;
    wo.disableWAL = true;
    return commit(static_cast<rocks_batch&>(b), wo);
  }
  status flush(cf f) override {
    if (read_only_) return status::ok();
    return from_rocks(r_.db_of(f)->Flush(rocksdb::FlushOptions(), r_.handle(f)), "flush");
  }
  using kv_store::load_sorted;
  status load_sorted(cf f, size_t count, const std::function<sorted_entry(size_t)>& entry) override {
    if (read_only_) return {errc::io_error, "store is open read-only"};
    if (count == 0) return status::ok();
    rocksdb::DB* db = r_.db_of(f);
    rocksdb::Options o(db->GetDBOptions(), db->GetOptions(r_.handle(f)));
    // Two halves written at once (building and compressing the blocks is
    // CPU work; the halves' files do not overlap, as ingestion requires).
    size_t parts = count >= 100000 ? 2 : 1;
    std::vector<std::vector<std::string>> files(parts);
    std::vector<rocksdb::Status> results(parts);
    auto write_part = [&](size_t part) {
      size_t end = part + 1 == parts ? count : count / parts * (part + 1);
      for (size_t i = count / parts * part; i < end;) {
        // Files of a bounded size, so none is rewritten whole by a later
        // compaction. The data directory is ours alone (RocksDB's lock), and
        // RocksDB leaves files not named like its own alone, so a leftover
        // of a crash is overwritten.
        files[part].push_back(path_ + "/crmd-load-" + std::to_string(part) + "-" +
                              std::to_string(files[part].size()) + ".sst");
        rocksdb::SstFileWriter w(rocksdb::EnvOptions(), o, r_.handle(f));
        auto s = w.Open(files[part].back());
        for (size_t bytes = 0; s.ok() && i < end && bytes < (size_t{128} << 20); ++i) {
          sorted_entry e = entry(i);
          s = e.value ? w.Put(slice(e.key), slice(*e.value)) : w.Delete(slice(e.key));
          bytes += e.key.size() + (e.value ? e.value->size() : 0);
        }
        if (s.ok()) s = w.Finish();
        if (!s.ok()) {
          results[part] = s;
          return;
        }
      }
    };
    std::thread second;
    if (parts == 2) second = std::thread(write_part, 1);
    write_part(0);
    if (second.joinable()) second.join();
    std::vector<std::string> all;
    for (auto& p : files) all.insert(all.end(), p.begin(), p.end());
    rocksdb::Status s;
    for (auto& r : results)
      if (!r.ok() && s.ok()) s = r;
    if (s.ok()) {
      rocksdb::IngestExternalFileOptions io;
      io.move_files = true;  // a hard link: nothing copied
      s = db->IngestExternalFile(r_.handle(f), all, io);
    }
    for (auto& name : all) std::remove(name.c_str());  // the links, or the files of a failure
    return from_rocks(s, "load into " + std::string(cf_name(f)));
  }
  std::unique_ptr<kv_iterator> scan(cf f, std::string lower, std::string upper) override {
    return std::make_unique<rocks_iterator>(r_.db_of(f), r_.handle(f), std::move(lower), std::move(upper), false);
  }
  std::unique_ptr<kv_iterator> scan_bulk(cf f, std::string lower, std::string upper) override {
    return std::make_unique<rocks_iterator>(r_.db_of(f), r_.handle(f), std::move(lower), std::move(upper), true);
  }
  status last(cf f, std::string_view lower, std::string_view upper, std::string* key,
              std::string* value) override {
    rocksdb::ReadOptions ro;
    std::string lo(lower);
    rocksdb::Slice lo_slice(lo);
    ro.iterate_lower_bound = &lo_slice;
    std::unique_ptr<rocksdb::Iterator> it(r_.db_of(f)->NewIterator(ro, r_.handle(f)));
    if (upper.empty())
      it->SeekToLast();
    else
      it->SeekForPrev(slice(upper));
    // SeekForPrev lands on `upper` itself when present: step back past it.
    if (it->Valid() && !upper.empty() && it->key().compare(slice(upper)) >= 0) it->Prev();
    if (!it->Valid()) {
      if (!it->status().ok()) return from_rocks(it->status(), "last");
      return {errc::not_found, "empty range"};
    }
    *key = it->key().ToString();
    *value = it->value().ToString();
    return status::ok();
  }
  bool read_only() const override { return read_only_; }

  // The views live in a database of their own, in <path>/views: a views
  // batch (a dozen keys an event, written unlogged) then never holds the
  // write queue that every synced append waits in, and the views' flushes
  // and compaction debt cannot stall appends (RocksDB throttles a whole
  // database when one family falls behind). Nothing writes the two at once
  // (commit() refuses), and the views are derived: a store from before the
  // split gets an empty views database, its old views family is emptied, and
  // serve rebuilds the views from the log. An old store opened read-only
  // keeps reading its old family.
  status open_views(const rocksdb::DBOptions& log_options, const rocksdb::ColumnFamilyOptions& family, bool ro) {
    std::string path = path_ + "/views";
    struct stat st {};
    bool exists = ::stat(path.c_str(), &st) == 0;
    if (!exists && errno != ENOENT) return {errc::io_error, "cannot look at " + path + ": " + std::strerror(errno)};
    if (!exists && ro) return status::ok();
    if (!exists)  // before the views database is made, so a crash in between empties it again
      if (auto s = empty_family(r_.handles[int(cf::projections)]); !s) return s;
    rocksdb::DBOptions o = log_options;
    o.create_if_missing = true;
    // Tiered (universal) compaction: views are mostly written once (an
    // audit entry, a message, a timeline item) and read by point and by short
    // page, so leveled compaction's rewrites bought little and cost half a
    // core under sustained webhook load (bench/RESULTS.md, session 18).
    rocksdb::ColumnFamilyOptions vf = family;
    vf.compaction_style = rocksdb::kCompactionStyleUniversal;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs{{rocksdb::kDefaultColumnFamilyName, vf},
                                                     {cf_name(cf::projections), vf}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    auto s = ro ? rocksdb::DB::OpenForReadOnly(o, path, cfs, &handles, &db) : rocksdb::DB::Open(o, path, cfs, &handles, &db);
    if (!s.ok()) return from_rocks(s, "open " + path);
    db->DestroyColumnFamilyHandle(handles[0]);
    r_.views = db;
    r_.views_handle = handles[1];
    return status::ok();
  }
  status purge() override {
    if (read_only_) return {errc::io_error, "store is open read-only"};
    rocksdb::FlushOptions fo;
    fo.wait = true;
    if (auto s = from_rocks(r_.db->Flush(fo, r_.handles), "flush"); !s) return s;
    if (r_.views)
      if (auto s = from_rocks(r_.views->Flush(fo, r_.views_handle), "flush views"); !s) return s;
    rocksdb::CompactRangeOptions co;
    co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    for (cf f : {cf::keys, cf::snapshots})
      if (auto s = from_rocks(r_.db->CompactRange(co, r_.handles[int(f)], nullptr, nullptr), "compact"); !s) return s;
    return status::ok();
  }
  status checkpoint(const std::string& dir) override {
    // The log's database alone: the first writer to open the copy finds no
    // views/ and builds the views from the copied log (open_views). A copy
    // of the views taken apart from the log's could hold positions the log
    // copy lacks, or a person erased between the two copies.
    rocksdb::Checkpoint* raw = nullptr;
    auto s = rocksdb::Checkpoint::Create(r_.db, &raw);
    if (!s.ok()) return from_rocks(s, "checkpoint");
    std::unique_ptr<rocksdb::Checkpoint> cp(raw);
    // New WAL files are ordinary ones meanwhile, so the WAL appended to
    // during the copy is copied up to the bytes written when it was listed
    // (zeroed_wal.hpp).
    struct held {
      const zeroed_wal& w;
      explicit held(const zeroed_wal& z) : w(z) {
        if (w.hold) w.hold();
      }
      ~held() {
        if (w.release) w.release();
      }
    } hold_spares(wal_);
    if (wal_.hold) {
      // RocksDB makes a new WAL at the flush only when the current one holds
      // a record: a quiet store's current WAL may be a zeroed one with none,
      // and the copy would then read it at its full size while appends land.
      auto b = new_batch();
      b->put(cf::meta, "checkpoint", "");
      if (auto w = write(*b, true); !w) return w;
    }
    // log_size_for_flush 0: memtables are flushed first, so writes made
    // without the WAL (snapshots) are in the copy too.
    return from_rocks(cp->CreateCheckpoint(dir, 0), "checkpoint");
  }

 private:
  // One batch is one database's atomic write: the views and the log are two.
  status commit(rocks_batch& b, const rocksdb::WriteOptions& wo) {
    bool log = b.log.Count() > 0, views = b.views.Count() > 0;
    if (log && views)
      return {errc::invalid_argument, "a batch may not write the views and the log at once (two databases)"};
    return from_rocks(views ? r_.views->Write(wo, &b.views) : r_.db->Write(wo, &b.log), "write");
  }
  status empty_family(rocksdb::ColumnFamilyHandle* h) {
    std::unique_ptr<rocksdb::Iterator> it(r_.db->NewIterator({}, h));
    it->SeekToFirst();
    if (!it->Valid()) return from_rocks(it->status(), "scan the old views");
    std::string first = it->key().ToString();
    it->SeekToLast();
    if (!it->Valid()) return from_rocks(it->status(), "scan the old views");
    std::string end = it->key().ToString() + '\0';
    it.reset();
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (auto s = r_.db->DeleteRange(wo, h, first, end); !s.ok()) return from_rocks(s, "empty the old views");
    rocksdb::Slice lo(first), hi(end);  // frees most of it now (files below level 0), the rest at compaction
    return from_rocks(rocksdb::DeleteFilesInRange(r_.db, h, &lo, &hi, true), "empty the old views");
  }

  zeroed_wal wal_;                      // its hold/release, when env_ has one
  std::unique_ptr<rocksdb::Env> env_;  // when crmd made its own; outlives the databases
  routes r_;
  bool read_only_;
  std::string path_;  // the data directory: bulk loads write their files there
};

}  // namespace

result<std::unique_ptr<kv_store>> open_rocks_kv(const rocks_options& o) {
  struct stat st {};
  if (::stat(o.path.c_str(), &st) != 0) {
    if (!o.create_if_missing)
      return status{errc::not_found, "no crmd store at " + o.path};
  } else if (!S_ISDIR(st.st_mode)) {
    return status{errc::invalid_argument, o.path + " is not a directory"};
  }

  rocksdb::DBOptions dbo;
  dbo.create_if_missing = o.create_if_missing;
  dbo.create_missing_column_families = true;
  dbo.max_open_files = 256;
  dbo.keep_log_file_num = 3;
  dbo.max_total_wal_size = 64u << 20;
  dbo.IncreaseParallelism(2);
  if (o.env) dbo.env = o.env;
  std::unique_ptr<rocksdb::Env> own_env;
  zeroed_wal wal;
  if (!o.read_only && o.zeroed_wal_bytes > 0) {
    wal = make_zeroed_wal_fs(dbo.env->GetFileSystem(), o.path, o.zeroed_wal_bytes);
    own_env = rocksdb::NewCompositeEnv(wal.fs);
    dbo.env = own_env.get();
  } else if (o.read_only) {  // maybe beside a writer whose WAL ends in zeros
    own_env = rocksdb::NewCompositeEnv(make_wal_prefix_reader_fs(dbo.env->GetFileSystem(), o.path));
    dbo.env = own_env.get();
  }
  // The log's and the views' databases (open_views) share the Env's pools,
  // each scheduling up to two jobs: room for both, so a long compaction of
  // the views never leaves the log's waiting for a thread.
  dbo.env->SetBackgroundThreads(4, rocksdb::Env::Priority::LOW);
  dbo.env->SetBackgroundThreads(2, rocksdb::Env::Priority::HIGH);
  // Flushes and compactions are background work: on two cores they must not
  // take the CPU from appends and requests (they still get any idle CPU).
  dbo.env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW);
  dbo.env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::HIGH);

  auto cache = rocksdb::NewLRUCache(o.block_cache_bytes);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // No implicit readahead: a short scan (a page) would pay a readahead(2)
  // call per file it touches; long scans ask for it (scan_bulk).
  table.max_auto_readahead_size = 0;
  rocksdb::ColumnFamilyOptions base;
  base.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  base.compression = rocksdb::kLZ4Compression;
  base.write_buffer_size = 16u << 20;
  base.max_write_buffer_number = 3;
  // A bloom filter over each memtable's keys: most point reads outside the
  // events family ask for keys that do not exist (a new idempotency key, a
  // new contact), and without it each such read walks the memtable's skip
  // list, cache miss after cache miss. 2% of the write buffer: 13-16 bits a
  // key for the small entries of dedup, streams and views.
  base.memtable_prefix_bloom_size_ratio = 0.02;
  base.memtable_whole_key_filtering = true;

  // The events family is read by position only, and every position asked
  // for exists: a bloom filter there never says no, yet costs 10 bits a
  // record to keep in memory and to load when a file is opened.
  rocksdb::BlockBasedTableOptions events_table = table;
  events_table.filter_policy.reset();
  rocksdb::ColumnFamilyOptions events_options = base;
  events_options.memtable_prefix_bloom_size_ratio = 0;  // likewise
  events_options.memtable_whole_key_filtering = false;
  events_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(events_table));

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs{{rocksdb::kDefaultColumnFamilyName, base}};
  for (int i = 0; i < cf_count; ++i) cfs.push_back({cf_name(cf(i)), cf(i) == cf::events ? events_options : base});
  // Every family already in the store must be opened, ours or not.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(dbo, o.path, &existing).ok()) {
    for (auto& name : existing) {
      bool known = false;
      for (auto& d : cfs) known = known || d.name == name;
      if (!known) cfs.push_back({name, base});
    }
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = o.read_only ? rocksdb::DB::OpenForReadOnly(dbo, o.path, cfs, &handles, &db)
                                  : rocksdb::DB::Open(dbo, o.path, cfs, &handles, &db);
  if (!s.ok()) {
    std::string text = s.ToString();
    if (s.IsIOError() && text.find("lock") != std::string::npos)
      return status{errc::busy, "data directory " + o.path +
                                    " is in use by another crmd process (" + text + ")"};
    if (o.read_only && s.IsInvalidArgument())  // a read-only open cannot create families
      return status{errc::not_found, "no crmd store at " + o.path + " (" + text + ")"};
    return from_rocks(s, "open " + o.path);
  }
  // handles[0] is the default family; ours follow in enum order.
  routes r;
  r.db = db;
  r.handles.assign(handles.begin() + 1, handles.begin() + 1 + cf_count);
  db->DestroyColumnFamilyHandle(handles[0]);
  for (size_t i = 1 + cf_count; i < handles.size(); ++i) db->DestroyColumnFamilyHandle(handles[i]);
  auto kv = std::make_unique<rocks_kv>(std::move(r), o.read_only, o.path, std::move(own_env), std::move(wal));
  if (auto v = kv->open_views(dbo, base, o.read_only); !v) return v;
  return std::unique_ptr<kv_store>(std::move(kv));
}

}  // namespace crmd
