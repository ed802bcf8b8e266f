// What only the RocksDB log can show: restarts, locking, the on-disk bytes.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "replay/verify.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"
#include "storage/rocks_kv.hpp"
#include "tests/support/events.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using test::note;
using test::one;

result<std::unique_ptr<event_log>> open_at(const std::string& path, bool read_only = false) {
  rocks_options ro;
  ro.path = path;
  ro.read_only = read_only;
  ro.create_if_missing = !read_only;
  auto kv = open_rocks_kv(ro);
  if (!kv) return kv.error();
  return open_event_log(std::move(*kv));
}

TEST(rocks_kv, multi_get_answers_each_key_in_order_and_names_the_missing_ones) {
  test::temp_dir dir;
  rocks_options ro;
  ro.path = dir.sub("db");
  auto kv = open_rocks_kv(ro);
  ASSERT_TRUE(kv) << kv.error().to_string();
  auto b = (*kv)->new_batch();
  b->put(cf::events, "a", "1");
  b->put(cf::events, "c", std::string(5000, 'x'));  // more than one value, one block
  ASSERT_TRUE((*kv)->write(*b, true));
  ASSERT_TRUE((*kv)->flush(cf::events));
  auto b2 = (*kv)->new_batch();
  b2->put(cf::events, "d", "from the memtable");
  ASSERT_TRUE((*kv)->write(*b2, true));
  std::vector<std::string> values;
  auto st = (*kv)->multi_get(cf::events, {"a", "b", "c", "d"}, &values);
  ASSERT_EQ(st.size(), 4u);
  ASSERT_EQ(values.size(), 4u);
  EXPECT_TRUE(st[0]);
  EXPECT_EQ(values[0], "1");
  EXPECT_EQ(st[1].code(), errc::not_found);
  EXPECT_TRUE(st[2]);
  EXPECT_EQ(values[2], std::string(5000, 'x'));
  EXPECT_TRUE(st[3]);
  EXPECT_EQ(values[3], "from the memtable");
}

TEST(rocks_kv, a_sorted_load_puts_and_deletes_over_what_is_there_and_survives_a_restart) {
  test::temp_dir dir;
  rocks_options ro;
  ro.path = dir.sub("db");
  constexpr size_t count = 150000;  // enough for the two halves written at once
  auto key = [](size_t i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "k%08zu", i);
    return std::string(buf);
  };
  {
    auto kv = open_rocks_kv(ro);
    ASSERT_TRUE(kv) << kv.error().to_string();
    // Older values, some still in the memtable: the load must win over them.
    auto b = (*kv)->new_batch();
    for (size_t i = 0; i < count; i += 1000) b->put(cf::projections, key(i), "old");
    b->put(cf::projections, "zz-untouched", "kept");
    ASSERT_TRUE((*kv)->write_unlogged(*b));
    std::vector<std::string> keys;
    for (size_t i = 0; i < count; ++i) keys.push_back(key(i));
    std::vector<sorted_entry> run;
    for (size_t i = 0; i < count; ++i)
      run.push_back({keys[i], i % 3 == 0 ? std::nullopt : std::optional<std::string_view>(keys[i])});
    auto s = (*kv)->load_sorted(cf::projections, run);
    ASSERT_TRUE(s) << s.to_string();
  }
  for (auto& f : std::filesystem::directory_iterator(dir.sub("db")))
    EXPECT_EQ(f.path().filename().string().rfind("crmd-load-", 0), std::string::npos) << f.path();
  auto kv = open_rocks_kv(ro);  // reopened: the loaded files are part of the store
  ASSERT_TRUE(kv) << kv.error().to_string();
  size_t live = 0;
  for (auto it = (*kv)->scan(cf::projections, "k", "l"); it->valid(); it->next()) {
    ++live;
    ASSERT_EQ(it->key(), it->value()) << "every put is there with its value, no old value is";
  }
  EXPECT_EQ(live, count - (count + 2) / 3) << "the deletes hide what was there";
  std::string v;
  EXPECT_EQ((*kv)->get(cf::projections, key(0), &v).code(), errc::not_found) << "deleted over an old value";
  ASSERT_TRUE((*kv)->get(cf::projections, key(1000 + 1), &v));
  EXPECT_EQ(v, key(1001));
  ASSERT_TRUE((*kv)->get(cf::projections, "zz-untouched", &v));
  EXPECT_EQ(v, "kept");
}

TEST(rocks_log, positions_versions_chains_and_keys_survive_a_restart) {
  test::temp_dir dir;
  std::string path = dir.sub("db");
  {
    auto log = open_at(path);
    ASSERT_TRUE(log);
    ASSERT_TRUE((*log)->append(one("acme/tenant/acme", note("1"), no_stream, "k1")));
    ASSERT_TRUE((*log)->append(one("acme/tenant/acme", note("2", "acme/lead/L1"), 1)));
  }
  auto log = open_at(path);
  ASSERT_TRUE(log) << log.error().to_string();
  EXPECT_EQ((*log)->last_position(), 2u);
  auto dup = (*log)->append(one("acme/tenant/acme", note("1"), no_stream, "k1"));
  ASSERT_TRUE(dup);
  EXPECT_TRUE(dup->deduplicated);
  EXPECT_EQ(dup->first_position, 1u);
  auto stale = (*log)->append(one("acme/tenant/acme", note("3"), 1));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code(), errc::conflict);
  auto next = (*log)->append(one("acme/tenant/acme", note("3", "acme/lead/L1"), 2));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->first_position, 3u);
  auto evs = (*log)->read_all(1, 10);
  ASSERT_TRUE(evs);
  EXPECT_EQ((*evs)[1].payload, note("2").payload);  // the key survived too
  auto rep = verify_log(**log);
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->ok) << rep->reason;
}

TEST(rocks_log, a_second_writer_on_the_same_directory_is_refused_clearly) {
  test::temp_dir dir;
  auto first = open_at(dir.sub("db"));
  ASSERT_TRUE(first);
  auto second = open_at(dir.sub("db"));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), errc::busy);
  EXPECT_NE(second.error().message().find("in use"), std::string::npos);
}

TEST(rocks_log, a_reader_works_beside_the_writer) {
  test::temp_dir dir;
  auto writer = open_at(dir.sub("db"));
  ASSERT_TRUE(writer);
  ASSERT_TRUE((*writer)->append(one("acme/tenant/acme", note("1"))));
  auto reader = open_at(dir.sub("db"), true);
  ASSERT_TRUE(reader) << reader.error().to_string();
  EXPECT_EQ((*reader)->last_position(), 1u);
  auto w = (*reader)->append(one("acme/tenant/acme", note("2")));
  EXPECT_FALSE(w);
}

TEST(rocks_log, a_missing_store_is_not_invented_by_readers) {
  test::temp_dir dir;
  auto r = open_at(dir.sub("nothing"), true);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::not_found);
  EXPECT_FALSE(std::filesystem::exists(dir.sub("nothing")));
}

TEST(rocks_log, a_store_from_a_newer_format_is_refused_and_left_alone) {
  test::temp_dir dir;
  {
    auto log = open_at(dir.sub("db"));
    ASSERT_TRUE(log);
    ASSERT_TRUE((*log)->append(one("acme/tenant/acme", note("1"))));
  }
  {
    rocks_options ro;
    ro.path = dir.sub("db");
    auto kv = open_rocks_kv(ro);
    ASSERT_TRUE(kv);
    auto b = (*kv)->new_batch();
    b->put(cf::meta, "format", be64(99));
    ASSERT_TRUE((*kv)->write(*b, true));
  }
  auto log = open_at(dir.sub("db"));
  ASSERT_FALSE(log);
  EXPECT_EQ(log.error().code(), errc::unsupported);
  rocks_options ro;
  ro.path = dir.sub("db");
  auto kv = open_rocks_kv(ro);
  ASSERT_TRUE(kv);
  std::string v;
  ASSERT_TRUE((*kv)->get(cf::events, be64(1), &v));
  std::string fmt;
  ASSERT_TRUE((*kv)->get(cf::meta, "format", &fmt));
  EXPECT_EQ(read_be64(fmt), 99u);
}

std::string slurp_dir(const std::string& path) {
  std::string all;
  for (auto& f : std::filesystem::recursive_directory_iterator(path)) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), {});
  }
  return all;
}

TEST(rocks_log, no_personal_data_reaches_the_disk_in_clear) {
  // A phone number sits in an idempotency key (a WhatsApp message key) and in
  // a subject-bound payload; neither may be found in any file of the store.
  const std::string phone = "972501234567";
  test::temp_dir dir;
  {
    auto log = open_at(dir.sub("db"));
    ASSERT_TRUE(log);
    auto lead = test::make_event(ev::lead_created{"L1", "Dana", "+" + phone, "dana@example.com", "whatsapp"},
                                 "acme/lead/L1");
    ASSERT_TRUE((*log)->append(one("acme/tenant/acme", lead, any_version,
                                   "wa/acme/main/" + phone + "@s.whatsapp.net/3EB0ABC")));
  }
  std::string bytes = slurp_dir(dir.sub("db"));
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes.find(phone), std::string::npos);
  EXPECT_EQ(bytes.find("dana@example.com"), std::string::npos);
  EXPECT_NE(bytes.find("acme/tenant/acme"), std::string::npos);  // the search itself works
}

}  // namespace
}  // namespace crmd
