// The views' own database (storage/rocks_kv.cpp, open_views): where the
// views family lives, what one batch may write, how an older store (views
// inside the log's database) is taken over, and what a copy holds.
#include <gtest/gtest.h>

#include <rocksdb/db.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "storage/kv.hpp"
#include "storage/rocks_kv.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

std::unique_ptr<kv_store> open_kv(const std::string& path, bool read_only = false) {
  rocks_options ro;
  ro.path = path;
  ro.read_only = read_only;
  ro.create_if_missing = !read_only;
  auto kv = open_rocks_kv(ro);
  EXPECT_TRUE(kv) << kv.error().to_string();
  return kv ? std::move(*kv) : nullptr;
}

std::string get(kv_store& kv, cf f, const std::string& key) {
  std::string v;
  auto s = kv.get(f, key, &v);
  return s ? v : "<" + std::string(s.code() == errc::not_found ? "absent" : s.to_string()) + ">";
}

// A RocksDB database opened raw, every family, to look past rocks_kv.
struct raw_db {
  raw_db(const std::string& path, bool read_only) {
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies({}, path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (auto& n : names) cfs.push_back({n, {}});
    auto s = read_only ? rocksdb::DB::OpenForReadOnly({}, path, cfs, &handles, &db)
                       : rocksdb::DB::Open({}, path, cfs, &handles, &db);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  ~raw_db() {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  rocksdb::ColumnFamilyHandle* family(const std::string& name) const {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return handles[i];
    ADD_FAILURE() << "no family " << name;
    return handles[0];
  }
  std::vector<std::string> names;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
};

// The keys of one family of a RocksDB database.
std::vector<std::string> raw_keys(const std::string& path, const std::string& family) {
  raw_db raw(path, true);
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(raw.db->NewIterator({}, raw.family(family)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) out.push_back(it->key().ToString());
  return out;
}

// Puts `key` into the log database's own "projections" family, as a store
// from before the split kept its views.
void put_in_old_views_family(const std::string& path, const std::string& key, const std::string& value) {
  raw_db raw(path, false);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  EXPECT_TRUE(raw.db->Put(wo, raw.family("projections"), key, value).ok());
}

TEST(views_db, the_views_live_in_their_own_database_and_survive_a_restart) {
  test::temp_dir dir;
  std::string path = dir.sub("db");
  {
    auto kv = open_kv(path);
    auto log = kv->new_batch();
    log->put(cf::events, "e1", "event");
    ASSERT_TRUE(kv->write(*log, true));
    auto views = kv->new_batch();
    views->put(cf::projections, "v/x/1", "view");
    ASSERT_TRUE(kv->write(*views, true));
  }
  auto kv = open_kv(path);
  EXPECT_EQ(get(*kv, cf::events, "e1"), "event");
  EXPECT_EQ(get(*kv, cf::projections, "v/x/1"), "view");
  kv.reset();
  EXPECT_EQ(raw_keys(path + "/views", "projections"), std::vector<std::string>{"v/x/1"});
  EXPECT_TRUE(raw_keys(path, "projections").empty());  // the log's database holds none
  EXPECT_EQ(raw_keys(path, "events"), std::vector<std::string>{"e1"});
}

TEST(views_db, a_batch_over_the_views_and_the_log_is_refused_and_writes_nothing) {
  test::temp_dir dir;
  auto kv = open_kv(dir.sub("db"));
  auto b = kv->new_batch();
  b->put(cf::events, "e1", "event");
  b->put(cf::projections, "v/x/1", "view");
  auto s = kv->write(*b, true);
  EXPECT_EQ(s.code(), errc::invalid_argument) << s.to_string();
  EXPECT_EQ(kv->write_unlogged(*b).code(), errc::invalid_argument);
  EXPECT_EQ(get(*kv, cf::events, "e1"), "<absent>");
  EXPECT_EQ(get(*kv, cf::projections, "v/x/1"), "<absent>");
}

TEST(views_db, an_older_store_keeps_its_views_for_readers_and_a_writer_starts_them_afresh) {
  test::temp_dir dir;
  std::string path = dir.sub("db");
  {
    auto kv = open_kv(path);
    auto b = kv->new_batch();
    b->put(cf::events, "e1", "event");
    ASSERT_TRUE(kv->write(*b, true));
  }
  // Turn it into a store from before the split: views in the log's database.
  std::filesystem::remove_all(path + "/views");
  put_in_old_views_family(path, "c/contacts", "checkpoint 7");
  put_in_old_views_family(path, "v/contacts/t0/1", "a contact");

  // A reader (verify, events) takes nothing over: it reads the old views.
  {
    auto ro = open_kv(path, true);
    EXPECT_EQ(get(*ro, cf::projections, "v/contacts/t0/1"), "a contact");
  }
  EXPECT_FALSE(std::filesystem::exists(path + "/views"));

  // A writer (serve, rebuild) starts the views empty, to be folded from
  // the log again, and empties the old family.
  {
    auto kv = open_kv(path);
    EXPECT_EQ(get(*kv, cf::projections, "c/contacts"), "<absent>");
    EXPECT_EQ(get(*kv, cf::projections, "v/contacts/t0/1"), "<absent>");
    EXPECT_EQ(get(*kv, cf::events, "e1"), "event");
    auto b = kv->new_batch();
    b->put(cf::projections, "c/contacts", "checkpoint 1");
    ASSERT_TRUE(kv->write(*b, true));
  }
  EXPECT_TRUE(raw_keys(path, "projections").empty());
  // The next open finds the views database and leaves it alone.
  auto kv = open_kv(path);
  EXPECT_EQ(get(*kv, cf::projections, "c/contacts"), "checkpoint 1");
}

TEST(views_db, a_checkpoint_copies_the_log_and_the_copy_starts_its_views_afresh) {
  test::temp_dir dir;
  auto kv = open_kv(dir.sub("db"));
  auto log = kv->new_batch();
  log->put(cf::events, "e1", "event");
  ASSERT_TRUE(kv->write(*log, true));
  auto views = kv->new_batch();
  views->put(cf::projections, "v/x/1", "view");
  ASSERT_TRUE(kv->write_unlogged(*views));
  ASSERT_TRUE(kv->checkpoint(dir.sub("copy")));
  EXPECT_FALSE(std::filesystem::exists(dir.sub("copy") + "/views"));
  {
    auto ro = open_kv(dir.sub("copy"), true);
    EXPECT_EQ(get(*ro, cf::events, "e1"), "event");
    EXPECT_EQ(get(*ro, cf::projections, "v/x/1"), "<absent>");
  }
  auto copy = open_kv(dir.sub("copy"));  // a writer: serve after a restore
  EXPECT_EQ(get(*copy, cf::events, "e1"), "event");
  EXPECT_EQ(get(*copy, cf::projections, "v/x/1"), "<absent>");
  EXPECT_TRUE(std::filesystem::exists(dir.sub("copy") + "/views"));
  EXPECT_EQ(get(*kv, cf::projections, "v/x/1"), "view");  // the source keeps its views
}

TEST(rocks_kv, an_empty_batch_has_no_bytes_so_callers_can_skip_writing_it) {
  test::temp_dir dir;
  auto kv = open_kv(dir.sub("db"));
  auto b = kv->new_batch();
  EXPECT_EQ(b->size_bytes(), 0u);
  b->del(cf::requests, "k");
  EXPECT_GT(b->size_bytes(), 0u);
  auto v = kv->new_batch();
  v->put(cf::projections, "v/x", "1");
  EXPECT_GT(v->size_bytes(), 0u);
}

}  // namespace
}  // namespace crmd
