// What the parts of an append decision cost on this machine (issue 2's and
// the webhooks' writer thread): sealing a payload, hashing it into the
// chain, and asking RocksDB for a key it does not have (an idempotency key)
// with and without the memtable bloom filter storage/rocks_kv.cpp sets.
// Local only; stops by itself.
//
//   append_probe [--count N] [--dir D]
#include <rocksdb/db.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "storage/crypto.hpp"

namespace {

using clk = std::chrono::steady_clock;
double us_each(clk::time_point t0, size_t n) { return std::chrono::duration<double>(clk::now() - t0).count() / n * 1e6; }

void crypto_parts(size_t n) {
  using namespace crmd;
  std::string key = crypto::random_bytes(crypto::aes_key_size), plain(300, 'x'), aad = "t0/lead/L1";
  size_t sink = 0;
  auto t0 = clk::now();
  for (size_t i = 0; i < n; ++i) sink += crypto::seal(key, plain, aad)->size();
  double seal = us_each(t0, n);
  std::string link(crypto::sha256_size, '\0');
  t0 = clk::now();
  for (size_t i = 0; i < n; ++i) link = crypto::sha256(link, plain);
  double hash = us_each(t0, n);
  std::printf("seal 300 bytes (AES-256-GCM)      %6.2f us\nsha256 link over 300 bytes       %6.2f us   (%zu)\n", seal,
              hash, sink + link.size());
}

void absent_gets(const std::string& dir, bool bloom, size_t n) {
  std::string path = dir + (bloom ? "/bloom" : "/plain");
  std::filesystem::remove_all(path);
  rocksdb::Options o;
  o.create_if_missing = true;
  o.write_buffer_size = 16u << 20;  // crmd's (storage/rocks_kv.cpp)
  if (bloom) {
    o.memtable_prefix_bloom_size_ratio = 0.02;
    o.memtable_whole_key_filtering = true;
  }
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(o, path, &db).ok()) std::exit(1);
  std::mt19937_64 rng(1);
  auto key = [&] {
    std::string k(32, '\0');  // an idempotency key's hash
    for (int i = 0; i < 4; ++i) {
      uint64_t v = rng();
      std::memcpy(&k[i * 8], &v, 8);
    }
    return k;
  };
  rocksdb::WriteOptions w;
  w.disableWAL = true;
  auto t0 = clk::now();
  for (size_t i = 0; i < n; ++i) db->Put(w, key(), std::string(24, 'v'));
  double put = us_each(t0, n);
  std::string v;
  size_t found = 0;
  t0 = clk::now();
  for (size_t i = 0; i < n; ++i) found += db->Get(rocksdb::ReadOptions(), key(), &v).ok();
  double get = us_each(t0, n);
  std::printf("memtable bloom %-3s put %5.2f us, get of an absent key %5.2f us   (%zu keys, %zu found)\n",
              bloom ? "on" : "off", put, get, n, found);
  delete db;
}

}  // namespace

int main(int argc, char** argv) {
  size_t count = 150000;
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--count") count = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--dir") dir = argv[i + 1];
    else return std::fprintf(stderr, "usage: append_probe [--count N] [--dir D]\n"), 2;
  }
  bool own = dir.empty();
  if (own) {
    char tmpl[] = "/tmp/crmd-append-probe-XXXXXX";
    if (!::mkdtemp(tmpl)) return 1;
    dir = tmpl;
  }
  crypto_parts(count);
  for (int round = 0; round < 2; ++round) {
    absent_gets(dir, false, count);
    absent_gets(dir, true, count);
  }
  if (own) std::filesystem::remove_all(dir);
}
