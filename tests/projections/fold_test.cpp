// The parts of a rebuild that fold without nlohmann or RocksDB in the way:
// contact entries written directly (contact_doc.hpp) and the in-memory fold
// (fold_cache.hpp). Both must give the very bytes and answers the slower
// paths give: the equivalence test compares whole views; these name the
// edge cases.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "projections/contact_doc.hpp"
#include "projections/fold_cache.hpp"
#include "projections/folder.hpp"
#include "projections/json_out.hpp"
#include "projections/view_util.hpp"
#include "storage/kv.hpp"

namespace crmd {
namespace {

using views::contact_doc;
using views::dump_contact;
using views::parse_contact;

nlohmann::json as_json(const contact_doc& c) {
  nlohmann::json j = {{"id", c.id},         {"kind", c.kind},     {"name", c.name},
                      {"phone", c.phone},   {"email", c.email},   {"source", c.source},
                      {"status", c.status}, {"created_at", c.created_at}, {"updated_at", c.updated_at},
                      {"position", c.position}};
  if (c.converted_at) j["converted_at"] = *c.converted_at;
  if (c.deleted) j["deleted"] = true;
  return j;
}

contact_doc sample() {
  return {"L7", "lead", "Avi Cohen", "+972501234567", "avi@example.com", "whatsapp", "new",
          "2026-11-30T10:00:00Z", "2026-11-30T10:05:00Z", {}, false, 12345};
}

TEST(contact_doc, dumps_the_bytes_nlohmann_dumps) {
  auto c = sample();
  std::string out;
  ASSERT_TRUE(dump_contact(c, out));
  EXPECT_EQ(out, views::util::dump(as_json(c)));
  c.converted_at = "2026-12-01T08:00:00Z";
  c.kind = "customer";
  c.deleted = true;
  ASSERT_TRUE(dump_contact(c, out));
  EXPECT_EQ(out, views::util::dump(as_json(c)));
}

TEST(contact_doc, escapes_hebrew_quotes_and_control_characters_as_nlohmann_does) {
  auto c = sample();
  c.name = "אבי \"הגדול\" כהן\\";
  c.email = std::string("tab\there\nnew\x01\x1f\x7f/", 18);
  c.source = "emoji 😀 and é";
  std::string out;
  ASSERT_TRUE(dump_contact(c, out));
  EXPECT_EQ(out, views::util::dump(as_json(c)));
  auto back = parse_contact(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->name, c.name);
  EXPECT_EQ(back->email, c.email);
  EXPECT_EQ(back->source, c.source);
}

TEST(contact_doc, refuses_invalid_utf8_so_that_nlohmann_replaces_it) {
  auto c = sample();
  for (std::string bad : {std::string("\xff"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                          std::string("ab\xe2\x82"), std::string("\xf4\x90\x80\x80")}) {
    c.name = bad;
    std::string out;
    EXPECT_FALSE(dump_contact(c, out)) << "bytes of length " << bad.size();
  }
}

TEST(contact_doc, random_strings_dump_as_nlohmann_and_parse_back) {
  std::mt19937_64 rng(42);
  const std::string alphabet[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x02", "ש", "€", "😀", "\xff"};
  for (int round = 0; round < 2000; ++round) {
    auto c = sample();
    c.name.clear();
    for (int k = rng() % 12; k > 0; --k) c.name += alphabet[rng() % std::size(alphabet)];
    c.position = rng();
    if (rng() % 2) c.converted_at = c.name;
    std::string out;
    bool ok = dump_contact(c, out);
    bool invalid = c.name.find('\xff') != std::string::npos;
    ASSERT_EQ(ok, !invalid) << round;
    if (!ok) continue;
    ASSERT_EQ(out, views::util::dump(as_json(c))) << round;
    auto back = parse_contact(out);
    ASSERT_TRUE(back) << out;
    std::string again;
    ASSERT_TRUE(dump_contact(*back, again));
    EXPECT_EQ(again, out);
  }
}

TEST(contact_doc, parses_only_the_shape_it_writes) {
  std::string good;
  ASSERT_TRUE(dump_contact(sample(), good));
  EXPECT_TRUE(parse_contact(good));
  EXPECT_FALSE(parse_contact(""));
  EXPECT_FALSE(parse_contact("{}"));
  EXPECT_FALSE(parse_contact(good + " "));
  EXPECT_FALSE(parse_contact(good.substr(0, good.size() - 1)));
  auto j = nlohmann::json::parse(good);
  j["extra"] = 1;
  EXPECT_FALSE(parse_contact(views::util::dump(j))) << "an unknown field";
  j = nlohmann::json::parse(good);
  j.erase("status");
  EXPECT_FALSE(parse_contact(views::util::dump(j))) << "a missing field";
  j = nlohmann::json::parse(good);
  j["position"] = "12";
  EXPECT_FALSE(parse_contact(views::util::dump(j))) << "a wrong type";
  EXPECT_FALSE(parse_contact(R"({"id":"\u05e9"})")) << "an escape nlohmann does not write";
}

// --- json_out --------------------------------------------------------------

TEST(json_out, writes_what_util_dump_writes_for_every_kind_of_field) {
  std::string media;
  views::json_out(media).str("caption", "").num("size", uint64_t{0}).str("type", "image").close();
  std::string out = "prefix:";
  views::json_out(out)
      .str("a", "plain")
      .null("b")
      .boolean("c", true)
      .boolean("d", false)
      .num("e", int64_t{-42})
      .num("f", UINT64_MAX)
      .raw("media", media)
      .str_or_null("n", "")
      .str_or_null("o", "x")
      .str("z", "אבי \"כהן\"\n\x01\x7f")
      .close();
  nlohmann::json j = {{"z", "אבי \"כהן\"\n\x01\x7f"}, {"o", "x"}, {"n", nullptr}, {"f", UINT64_MAX},
                      {"e", -42}, {"d", false}, {"c", true}, {"b", nullptr}, {"a", "plain"},
                      {"media", {{"type", "image"}, {"size", 0}, {"caption", ""}}}};
  EXPECT_EQ(out, "prefix:" + views::util::dump(j));
}

TEST(json_out, replaces_invalid_utf8_as_util_dump_does) {
  std::mt19937_64 rng(7);
  const std::string alphabet[] = {"a", "\"", "\\", "\n", "\x02", "ש", "😀", "\xff", "\xc0\xaf", "\xed\xa0\x80",
                                  "\xe2\x82", "\xf4\x90\x80\x80", "\xe2"};
  for (int round = 0; round < 3000; ++round) {
    std::string v;
    for (int k = rng() % 10; k > 0; --k) v += alphabet[rng() % std::size(alphabet)];
    std::string out;
    views::json_out(out).str("k", v).num("position", uint64_t(round)).close();
    ASSERT_EQ(out, views::util::dump(nlohmann::json{{"k", v}, {"position", round}})) << round;
  }
}

TEST(json_out, finds_top_level_fields_and_replaces_a_plain_string_as_parse_change_dump_would) {
  nlohmann::json j = {{"contact_id", nullptr}, {"history", false}, {"id", "m\"1,}"},
                      {"media", {{"caption", "a \"status\":\"x\" b"}, {"size", 3}}}, {"position", 12},
                      {"status", "sent"}, {"text", "\"status\":\"read\", {[\\"}};
  std::string entry = views::util::dump(j);
  auto v = views::plain_string_field(entry, "status");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, "sent");
  EXPECT_FALSE(views::plain_string_field(entry, "text")) << "escapes: not plain";
  EXPECT_FALSE(views::plain_string_field(entry, "position")) << "not a string";
  EXPECT_FALSE(views::find_field(entry, "caption")) << "nested keys are not top-level ones";
  EXPECT_FALSE(views::find_field(entry, "nope"));
  auto media = views::find_field(entry, "media");
  ASSERT_TRUE(media);
  EXPECT_EQ(entry.substr(media->first, media->second - media->first), views::util::dump(j["media"]));
  auto updated = views::with_plain_string_field(entry, "status", "delivered");
  ASSERT_TRUE(updated);
  j["status"] = "delivered";
  EXPECT_EQ(*updated, views::util::dump(j));
  EXPECT_FALSE(views::with_plain_string_field(entry, "status", "a\"b"));
  EXPECT_FALSE(views::with_plain_string_field(entry, "status", "\xd7\x90"));
  for (std::string bad : {"", "{", "{}", "{\"a\"", "{\"a\":", "{\"a\":\"x", "[1]", "{\"b\":1,", "{\"a\":{\"b\":1"})
    EXPECT_FALSE(views::find_field(bad, "a")) << bad;
}

// --- fold_cache ------------------------------------------------------------

std::map<std::string, std::string> family(kv_store& kv) {
  std::map<std::string, std::string> out;
  for (auto it = kv.scan(cf::projections, "", ""); it->valid(); it->next()) out[std::string(it->key())] = it->value();
  return out;
}

TEST(fold_cache, before_a_spill_a_miss_is_an_answer_and_nothing_is_written) {
  auto kv = make_memory_kv();
  auto b = kv->new_batch();
  b->put(cf::projections, "v/x/stale", "left by someone else");
  ASSERT_TRUE(kv->write(*b, false));
  fold_cache cache(1 << 20);
  std::string prefix = "v/x/";
  cache_txn t(*kv, prefix, cache);
  EXPECT_FALSE(t.get("stale")) << "the build's keyspace starts empty: the store is not asked";
  t.put("a", "1");
  EXPECT_EQ(t.get("a"), "1") << "an event reads its own writes";
  t.commit();
  EXPECT_EQ(family(*kv).size(), 1u);
  ASSERT_TRUE(cache.spill(*kv, {{"c/x", "ckpt"}}));
  auto f = family(*kv);
  EXPECT_EQ(f["v/x/a"], "1");
  EXPECT_EQ(f["c/x"], "ckpt");
}

TEST(fold_cache, after_a_spill_misses_fall_through_and_deletes_are_written) {
  auto kv = make_memory_kv();
  fold_cache cache(1);  // every commit passes the budget
  std::string prefix = "v/x/";
  {
    cache_txn t(*kv, prefix, cache);
    t.put("a", "1");
    t.put("b", "2");
    t.commit();
  }
  ASSERT_TRUE(cache.over_budget());
  ASSERT_TRUE(cache.spill(*kv));
  EXPECT_EQ(cache.bytes(), 0u);
  cache_txn t(*kv, prefix, cache);
  EXPECT_EQ(t.get("a"), "1") << "from the store now";
  t.del("a");
  EXPECT_FALSE(t.get("a"));
  t.commit();
  EXPECT_FALSE(cache_txn(*kv, prefix, cache).get("a")) << "the cache's tombstone hides the store's value";
  ASSERT_TRUE(cache.spill(*kv));
  auto f = family(*kv);
  EXPECT_EQ(f.count("v/x/a"), 0u);
  EXPECT_EQ(f["v/x/b"], "2");
}

TEST(fold_cache, a_spill_keeps_counters_and_small_entries_read_and_knows_which_keys_it_wrote) {
  auto kv = make_memory_kv();
  fold_cache cache(1 << 20);
  std::string prefix = "v/x/";
  std::string doc(200, 'd');
  {
    cache_txn t(*kv, prefix, cache);
    t.put("#count", be64(7));
    t.put("doc", doc + doc);
    t.put("#unread", be64(1));
    t.put_counter("#counter", be64(3));  // util::bump's write
    t.commit();
  }
  {
    cache_txn t(*kv, prefix, cache);  // a second event reads them back
    EXPECT_EQ(t.get("#count"), be64(7));
    EXPECT_EQ(t.get("doc"), doc + doc);
  }
  ASSERT_TRUE(cache.spill(*kv));
  EXPECT_GT(cache.bytes(), 0u) << "the counter stays in memory";
  // Change the store behind the cache's back: what the cache answers from
  // the store shows, what it answers itself does not.
  auto b = kv->new_batch();
  b->put(cf::projections, "v/x/#count", "behind");
  b->put(cf::projections, "v/x/doc", "behind");
  b->put(cf::projections, "v/x/never", "behind");
  b->put(cf::projections, "v/x/#unread", "behind");
  b->put(cf::projections, "v/x/#counter", "behind");
  ASSERT_TRUE(kv->write(*b, false));
  {
    cache_txn t(*kv, prefix, cache);
    EXPECT_EQ(t.get("#count"), be64(7)) << "small: kept, not read back";
    EXPECT_EQ(t.get("doc"), "behind") << "large: read back from the store";
    EXPECT_EQ(t.get("#unread"), "behind") << "not read since it was written: not kept";
    EXPECT_EQ(t.get("#counter"), be64(3)) << "a counter is kept, read or not";
    EXPECT_FALSE(t.get("never")) << "no spill wrote it: the filter answers, the store is not asked";
  }
  ASSERT_TRUE(cache.spill(*kv));
  EXPECT_EQ(family(*kv)["v/x/#count"], "behind") << "a clean entry is not written again";
  {
    cache_txn t(*kv, prefix, cache);
    t.put("#count", be64(8));
    t.del("doc");
    t.commit();
  }
  ASSERT_TRUE(cache.spill(*kv));
  auto f = family(*kv);
  EXPECT_EQ(f["v/x/#count"], be64(8)) << "changed after the spill: dirty, written";
  EXPECT_EQ(f.count("v/x/doc"), 0u);
  EXPECT_FALSE(cache_txn(*kv, prefix, cache).get("doc")) << "its delete was written";
}

TEST(fold_cache, the_filter_of_spilled_keys_grows_and_never_forgets_one) {
  auto kv = make_memory_kv();
  fold_cache cache(1);  // the smallest filters: 65536 bits, about 6.5k keys each
  std::string prefix = "v/x/";
  constexpr int keys = 30000;  // three filters' worth
  for (int i = 0; i < keys; i += 1000) {
    cache_txn t(*kv, prefix, cache);
    for (int j = i; j < i + 1000; ++j) t.put("k" + std::to_string(j), "v" + std::to_string(j));
    t.commit();
    ASSERT_TRUE(cache.spill(*kv));
  }
  EXPECT_EQ(cache.bytes(), 0u) << "nothing read, no counters: nothing kept";
  // Keys no spill wrote, put in the store behind the cache's back: the
  // ones that read back are the filters' false positives.
  auto b = kv->new_batch();
  for (int j = 0; j < 10000; ++j) b->put(cf::projections, prefix + "n" + std::to_string(j), "behind");
  ASSERT_TRUE(kv->write(*b, false));
  cache_txn t(*kv, prefix, cache);
  for (int j = 0; j < keys; ++j) ASSERT_EQ(t.get("k" + std::to_string(j)), "v" + std::to_string(j)) << j;
  int through = 0;
  for (int j = 0; j < 10000; ++j) through += t.get("n" + std::to_string(j)).has_value();
  EXPECT_LT(through, 500) << "about 1% a full filter; one filter sized once would let most through";
}

TEST(fold_cache, an_event_left_uncommitted_leaves_nothing) {
  auto kv = make_memory_kv();
  fold_cache cache(1 << 20);
  std::string prefix = "v/x/";
  {
    cache_txn t(*kv, prefix, cache);
    t.put("a", "1");
  }  // apply() failed: no commit
  EXPECT_FALSE(cache_txn(*kv, prefix, cache).get("a"));
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(fold_cache, last_sees_the_event_the_cache_and_the_store_in_that_order) {
  auto kv = make_memory_kv();
  fold_cache cache(1);
  std::string prefix = "v/x/";
  {
    cache_txn t(*kv, prefix, cache);
    for (auto k : {"i/1", "i/2", "i/3", "j/9"}) t.put(k, k);
    t.commit();
  }
  ASSERT_TRUE(cache.spill(*kv));  // i/1..i/3 in the store
  {
    cache_txn w(*kv, prefix, cache);
    w.put("k/1", "v");
    w.commit();
  }
  size_t unordered = cache.bytes();
  cache_txn t(*kv, prefix, cache);
  EXPECT_EQ(t.last("i/", "i0")->first, "i/3");
  EXPECT_GT(cache.bytes(), unordered) << "the ordered index last() builds counts against the budget";
  t.del("i/3");
  EXPECT_EQ(t.last("i/", "i0")->first, "i/2") << "deleted by this event";
  t.commit();
  cache_txn u(*kv, prefix, cache);
  EXPECT_EQ(u.last("i/", "i0")->first, "i/2") << "deleted in the cache, still in the store";
  u.put("i/25", "x");
  EXPECT_EQ(u.last("i/", "i0")->first, "i/25");
  // work_view's forget: delete every key of a range, last first
  while (auto l = u.last("i/", "i0")) u.del(l->first);
  u.commit();
  EXPECT_FALSE(cache_txn(*kv, prefix, cache).last("i/", "i0"));
  EXPECT_EQ(cache_txn(*kv, prefix, cache).last("j/", "j0")->first, "j/9");
}

}  // namespace
}  // namespace crmd

namespace crmd {
namespace {

size_t count_under(kv_store& kv, const std::string& prefix) {
  std::string upper = prefix;
  upper.back() = char(upper.back() + 1);
  size_t n = 0;
  for (auto it = kv.scan(cf::projections, prefix, upper); it->valid(); it->next()) ++n;
  return n;
}

TEST(clear_view, deletes_a_view_bigger_than_a_slice_and_its_checkpoint_and_nothing_else) {
  auto kv = make_memory_kv();
  auto b = kv->new_batch();
  for (int i = 0; i < 25000; ++i) b->put(cf::projections, "v/big/" + be64(i), "x");
  b->put(cf::projections, "v/bigger/1", "another view, whose name extends it");
  b->put(cf::projections, checkpoint_key("big"), be64(25000));
  ASSERT_TRUE(kv->write(*b, true));
  ASSERT_TRUE(clear_view(*kv, "big"));
  EXPECT_EQ(count_under(*kv, "v/big/"), 0u);
  EXPECT_EQ(count_under(*kv, "v/bigger/"), 1u);
  std::string v;
  EXPECT_EQ(kv->get(cf::projections, checkpoint_key("big"), &v).code(), errc::not_found);
}

TEST(delete_some, resumes_after_the_last_key_it_deleted) {
  auto kv = make_memory_kv();
  auto b = kv->new_batch();
  for (int i = 0; i < 7; ++i) b->put(cf::projections, "v/old@1/" + std::to_string(i), "x");
  ASSERT_TRUE(kv->write(*b, true));
  std::string from;
  std::vector<size_t> slices;
  for (;;) {
    auto n = delete_some(*kv, "v/old@1/", 3, from);
    ASSERT_TRUE(n);
    if (*n == 0) break;
    slices.push_back(*n);
    EXPECT_EQ(from, "v/old@1/" + std::to_string(slices.size() * 3 - 3 + *n - 1) + '\0');
  }
  EXPECT_EQ(slices, (std::vector<size_t>{3, 3, 1}));
  EXPECT_EQ(count_under(*kv, "v/old@1/"), 0u);
}

}  // namespace
}  // namespace crmd
