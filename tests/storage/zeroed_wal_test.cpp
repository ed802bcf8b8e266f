// WAL files written into zeroed space (storage/zeroed_wal.hpp): a synced
// write into such a file does not make it longer, and a crash image of a
// store whose WAL ends in zeros recovers every synced write.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/kv.hpp"
#include "storage/rocks_kv.hpp"
#include "storage/zeroed_wal.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/zeroed_wal.hpp"

namespace crmd {
namespace {

constexpr uint64_t spare_bytes = 1u << 20;

std::unique_ptr<kv_store> open_kv(const std::string& path, uint64_t zeroed = spare_bytes) {
  rocks_options ro;
  ro.path = path;
  ro.zeroed_wal_bytes = zeroed;
  auto kv = open_rocks_kv(ro);
  EXPECT_TRUE(kv) << kv.error().to_string();
  return kv ? std::move(*kv) : nullptr;
}

void put_synced(kv_store& kv, const std::string& key, const std::string& value) {
  auto b = kv.new_batch();
  b->put(cf::meta, key, value);
  ASSERT_TRUE(kv.write(*b, true));
}

uint64_t size_of(const std::string& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// The WAL files of a RocksDB folder, by name.
std::vector<std::string> wal_files(const std::string& path) {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::directory_iterator(path))
    if (e.path().extension() == ".log") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

ino_t inode_of(const std::string& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0 ? st.st_ino : 0;
}

bool wait_for_spare(const std::string& path) {
  std::string spare = path + "/" + zeroed_wal_spare_name();
  for (int i = 0; i < 500 && size_of(spare) != spare_bytes; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return size_of(spare) == spare_bytes;
}


TEST(zeroed_wal, a_new_wal_is_a_zeroed_spare_and_synced_writes_do_not_grow_it) {
  test::temp_dir dir;
  std::string path = dir.sub("db");
  auto kv = open_kv(path);
  // The first WAL is made while RocksDB opens: an ordinary file, and the
  // first spare is prepared after it.
  ASSERT_TRUE(wait_for_spare(path));
  ino_t spare = inode_of(path + "/" + zeroed_wal_spare_name());
  put_synced(*kv, "first", "in the first WAL");
  ASSERT_TRUE(kv->flush(cf::meta));  // a memtable switch: the next WAL
  auto wals = wal_files(path);
  ASSERT_FALSE(wals.empty());
  std::string wal = wals.back();
  EXPECT_EQ(inode_of(wal), spare) << "the new WAL is not the spare file";
  EXPECT_EQ(size_of(wal), spare_bytes);
  for (int i = 0; i < 50; ++i) put_synced(*kv, "k" + std::to_string(i), std::string(300, 'v'));
  EXPECT_EQ(size_of(wal), spare_bytes) << "synced writes made the zeroed WAL longer";
  // The spare went into the WAL, and another is prepared for the next one.
  EXPECT_TRUE(wait_for_spare(path));
}

TEST(zeroed_wal, a_crash_image_with_a_zero_tailed_wal_recovers_every_synced_write) {
  test::temp_dir dir;
  std::string path = dir.sub("db"), image = dir.sub("image");
  auto kv = open_kv(path);
  ASSERT_TRUE(test::switch_to_zeroed_wal(*kv, path));
  for (int i = 0; i < 200; ++i) put_synced(*kv, "k" + std::to_string(i), "v" + std::to_string(i));
  ASSERT_TRUE(wait_for_spare(path));  // the next spare is whole: nothing is being written
  // What a crash leaves: the files as they are while the store is open, the
  // WAL never closed (so never truncated) and ending in zeros.
  std::filesystem::copy(path, image, std::filesystem::copy_options::recursive);
  auto wals = wal_files(image);
  ASSERT_FALSE(wals.empty());
  ASSERT_EQ(size_of(wals.back()), spare_bytes);
  {
    std::ifstream in(wals.back(), std::ios::binary);
    in.seekg(static_cast<std::streamoff>(spare_bytes - 4096));
    std::string tail(4096, 'x');
    in.read(tail.data(), 4096);
    EXPECT_EQ(tail, std::string(4096, '\0'));
  }
  kv.reset();
  // Recovery reads the records and skips the zeros; ordinary WAL files from
  // here on, so nothing of this test's mechanism helps the reopen.
  auto again = open_kv(image, 0);
  ASSERT_TRUE(again);
  for (int i = 0; i < 200; ++i) {
    std::string v;
    ASSERT_TRUE(again->get(cf::meta, "k" + std::to_string(i), &v)) << i;
    EXPECT_EQ(v, "v" + std::to_string(i));
  }
  put_synced(*again, "after", "the crash");
}

TEST(zeroed_wal, a_store_refused_by_the_lock_leaves_the_owners_spare_alone) {
  test::temp_dir dir;
  std::string path = dir.sub("db");
  auto owner = open_kv(path);
  ASSERT_TRUE(wait_for_spare(path));
  std::filesystem::remove(path + "/" + zeroed_wal_spare_name());  // so a second preparer would show
  rocks_options ro;
  ro.path = path;
  ro.zeroed_wal_bytes = spare_bytes;
  auto second = open_rocks_kv(ro);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), errc::busy);
  EXPECT_FALSE(std::filesystem::exists(path + "/" + zeroed_wal_spare_name()));
  EXPECT_FALSE(std::filesystem::exists(path + "/" + zeroed_wal_spare_name() + ".tmp"));
}

TEST(zeroed_wal, a_checkpoint_copies_an_ordinary_wal_being_appended_to) {
  test::temp_dir dir;
  std::string path = dir.sub("db"), copy = dir.sub("copy");
  auto kv = open_kv(path);
  ASSERT_TRUE(wait_for_spare(path));
  put_synced(*kv, "before", "the copy");
  // The checkpoint flushes, so a new WAL is made while it holds: an ordinary
  // file, whose size bounds what the copy reads.
  ASSERT_TRUE(kv->checkpoint(copy));
  auto wals = wal_files(path);
  ASSERT_FALSE(wals.empty());
  EXPECT_LT(size_of(wals.back()), spare_bytes);
  EXPECT_EQ(size_of(path + "/" + zeroed_wal_spare_name()), spare_bytes) << "the spare was kept for later";
  put_synced(*kv, "after", "the copy");
  ASSERT_TRUE(kv->flush(cf::meta));  // no longer held: the spare again
  EXPECT_EQ(size_of(wal_files(path).back()), spare_bytes);
  kv.reset();
  auto restored = open_kv(copy, 0);
  ASSERT_TRUE(restored);
  std::string v;
  EXPECT_TRUE(restored->get(cf::meta, "before", &v));
  EXPECT_EQ(restored->get(cf::meta, "after", &v).code(), errc::not_found);
}

// A record of RocksDB's WAL format with a given type and body (crc not checked here).
std::string wal_record(uint8_t type, size_t length, char fill) {
  std::string r = {'c', 'r', 'c', '!', char(length & 0xff), char(length >> 8), char(type)};
  return r + std::string(length, fill);
}

size_t feed_in_pieces(const std::string& file, size_t piece) {
  wal_zero_finder f;
  size_t kept = 0;
  for (size_t at = 0; at < file.size() && !f.found(); at += piece) {
    size_t n = std::min(piece, file.size() - at);
    kept += f.feed(file.data() + at, n);
  }
  return kept;
}

TEST(wal_zero_finder, ends_a_file_at_its_first_zeroed_header_in_any_chunking) {
  constexpr size_t block = 32768;
  std::string file = wal_record(1, 100, 'a') + wal_record(1, 0, 'b');  // an empty record is no end
  size_t first_zero = file.size();
  file += std::string(block - file.size(), '\0');   // the rest of block 0: zeros
  file += wal_record(1, 50, 'z');                    // records that landed later, in block 1
  for (size_t piece : {size_t(4096), block, file.size()})
    EXPECT_EQ(feed_in_pieces(file, piece), first_zero) << "pieces of " << piece;
  // A header split between two reads: its first bytes were already given
  // out (at most 6, a truncated header to the reader), never what follows.
  for (size_t piece : {size_t(1), size_t(5), size_t(7)}) {
    EXPECT_GE(feed_in_pieces(file, piece), first_zero) << "pieces of " << piece;
    EXPECT_LE(feed_in_pieces(file, piece), first_zero + 6) << "pieces of " << piece;
  }
}

TEST(wal_zero_finder, skips_a_blocks_padding_and_follows_records_across_blocks) {
  constexpr size_t block = 32768;
  // A record spanning two blocks (first, last), then one ending 3 bytes
  // before the block's end: 3 bytes of padding, not a zero header.
  std::string file = wal_record(2, block - 7, 'a') + wal_record(4, 100, 'b');
  file += wal_record(1, block - file.size() % block - 7 - 3, 'c');
  ASSERT_EQ(file.size() % block, block - 3);
  file += std::string(3, '\0') + wal_record(1, 10, 'd');
  size_t whole = file.size();
  file += std::string(100, '\0');
  for (size_t piece : {size_t(1), size_t(6), size_t(4096), block}) {
    EXPECT_GE(feed_in_pieces(file, piece), whole) << "pieces of " << piece;
    EXPECT_LE(feed_in_pieces(file, piece), whole + 6) << "pieces of " << piece;
  }
  EXPECT_EQ(feed_in_pieces(file, block), whole);
  EXPECT_EQ(feed_in_pieces(file.substr(0, whole), block), whole) << "no zeros at all";
}

TEST(zeroed_wal, a_checkpoint_of_a_quiet_store_does_not_copy_an_empty_zeroed_wal) {
  // The current WAL is a zeroed spare nothing was written to since the
  // switch: RocksDB would not make a new one for the checkpoint's flush.
  test::temp_dir dir;
  std::string path = dir.sub("db"), copy = dir.sub("copy");
  auto kv = open_kv(path);
  ASSERT_TRUE(test::switch_to_zeroed_wal(*kv, path));
  ASSERT_EQ(size_of(wal_files(path).back()), spare_bytes);
  ASSERT_TRUE(kv->checkpoint(copy));
  EXPECT_LT(size_of(wal_files(path).back()), spare_bytes) << "appends still go to a zeroed WAL the copy read whole";
  for (auto& w : wal_files(copy)) EXPECT_LT(size_of(w), spare_bytes) << w;
}

TEST(zeroed_wal, a_reader_beside_the_writer_never_sees_records_past_a_zeroed_block) {
  // What a read-only open (verify, events) may read of the live WAL: one
  // block read while the writer had not reached its end (zeros there), the
  // next after later records landed in it. RocksDB skips the rest of a block
  // at a zero header; if the next block then starts with a whole record it
  // is applied, with the records in between missed without a word. Built
  // here from a real WAL: "a", zeros to the end of block 0, then a copy of
  // the record that followed "a" ("b") at the start of block 1.
  constexpr size_t block = 32768;
  test::temp_dir dir;
  std::string path = dir.sub("db"), image = dir.sub("image");
  auto kv = open_kv(path);
  ASSERT_TRUE(test::switch_to_zeroed_wal(*kv, path));
  put_synced(*kv, "a", "before");
  std::string wal = wal_files(path).back();
  auto read_all = [](const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  size_t a_end = read_all(wal).find_last_not_of('\0') + 1;
  put_synced(*kv, "b", "after");
  ASSERT_TRUE(wait_for_spare(path));
  std::filesystem::copy(path, image, std::filesystem::copy_options::recursive);
  kv.reset();
  std::string image_wal = image + "/" + std::filesystem::path(wal).filename().string();
  std::string bytes = read_all(image_wal);
  size_t b_len = uint8_t(bytes[a_end + 4]) | size_t(uint8_t(bytes[a_end + 5])) << 8;
  ASSERT_EQ(bytes[a_end + 6], 1) << "b is one whole record";
  std::string b_record = bytes.substr(a_end, 7 + b_len);
  std::string seen = bytes.substr(0, a_end) + std::string(block - a_end, '\0') + b_record;
  seen += std::string(bytes.size() - seen.size(), '\0');
  {
    std::ofstream out(image_wal, std::ios::binary | std::ios::trunc);
    out.write(seen.data(), static_cast<std::streamsize>(seen.size()));
  }
  rocks_options ro;
  ro.path = image;
  ro.read_only = true;
  ro.create_if_missing = false;
  auto reader = open_rocks_kv(ro);
  ASSERT_TRUE(reader) << reader.error().to_string();
  std::string v;
  EXPECT_TRUE((*reader)->get(cf::meta, "a", &v));
  EXPECT_EQ((*reader)->get(cf::meta, "b", &v).code(), errc::not_found) << "a record past a zeroed block was read";
}

}  // namespace
}  // namespace crmd
