// The crmd binary run from tests against a data directory of their own,
// with a seeded store and raw access to its records (tests/app/*).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "storage/kv.hpp"
#include "storage/rocks_kv.hpp"
#include "tests/support/events.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd::test {

inline size_t lines(const std::string& s) { return size_t(std::count(s.begin(), s.end(), '\n')); }

class cli : public ::testing::Test {
 protected:
  test::process_result crmd(std::vector<std::string> args) {
    args.insert(args.begin(), CRMD_BINARY);
    return run(args, dir_.path());
  }
  // A store with events of two tenants, one subject erased.
  void seed() {
    std::filesystem::create_directories(data());
    auto kv = open_store();
    ASSERT_TRUE(kv);
    auto log = open_event_log(std::move(*kv));
    ASSERT_TRUE(log);
    auto& l = **log;
    ASSERT_TRUE(l.append(test::one("acme/tenant/acme",
                                   test::make_event(ev::tenant_created{"acme", "\xd7\x90\xd7\xa7\xd7\x9e\xd7\x94", {"1"}}))));
    ASSERT_TRUE(l.append(test::one("beta/tenant/beta", test::make_event(ev::tenant_created{"beta", "Beta", {}}))));
    ASSERT_TRUE(l.append(test::one("acme/tenant/acme",
                                   test::make_event(ev::lead_created{"L1", "Dana", "+972501234567", "", "phone"},
                                                    "acme/lead/L1"))));
    ASSERT_TRUE(l.append(test::one("acme/tenant/acme",
                                   test::make_event(ev::lead_created{"L2", "Noa", "+972502222222", "", "phone"},
                                                    "acme/lead/L2"))));
    ASSERT_TRUE(l.erase_subject("acme/lead/L2"));
  }
  // The data directory's store, opened directly (crmd not running).
  result<std::unique_ptr<kv_store>> open_store(bool read_only = false) {
    rocks_options ro;
    ro.path = data() + "/db";
    ro.read_only = read_only;
    ro.create_if_missing = !read_only;
    return open_rocks_kv(ro);
  }
  void put_raw(uint64_t pos, const std::string& value) {
    auto kv = open_store();
    ASSERT_TRUE(kv);
    auto b = (*kv)->new_batch();
    b->put(cf::events, be64(pos), value);
    ASSERT_TRUE((*kv)->write(*b, true));
  }
  std::string get_raw(uint64_t pos) {
    auto kv = open_store();
    std::string v;
    EXPECT_TRUE((*kv)->get(cf::events, be64(pos), &v));
    return v;
  }
  // Every entry of every family of the log's store, "family/key" -> value,
  // read only: what "nothing stored was changed" compares.
  std::map<std::string, std::string> stored() {
    std::map<std::string, std::string> all;
    auto kv = open_store(true);
    EXPECT_TRUE(kv) << (kv ? "" : kv.error().message());
    if (!kv) return all;
    for (int f = 0; f < cf_count; ++f)
      for (auto it = (*kv)->scan(static_cast<cf>(f), "", ""); it->valid(); it->next())
        all[std::string(cf_name(static_cast<cf>(f))) + "/" + std::string(it->key())] = std::string(it->value());
    return all;
  }
  std::string data() { return dir_.sub("data"); }
  test::temp_dir dir_;
};

}  // namespace crmd::test
