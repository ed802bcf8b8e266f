// Subject encryption's primitives (storage/crypto.hpp): what the log relies on.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "storage/crypto.hpp"

namespace crmd {
namespace {

std::string nonce_of(const std::string& sealed) { return sealed.substr(0, crypto::gcm_nonce_size); }

TEST(crypto, a_sealed_payload_opens_with_its_key_and_aad_only) {
  auto key = crypto::random_bytes(crypto::aes_key_size);
  auto sealed = crypto::seal(key, "שלום, customer", "t1/lead/L1");
  ASSERT_TRUE(sealed);
  std::string out;
  ASSERT_TRUE(crypto::open_into(key, *sealed, "t1/lead/L1", out));
  EXPECT_EQ(out, "שלום, customer");
  EXPECT_FALSE(crypto::open_into(key, *sealed, "t1/lead/L2", out)) << "another subject's aad";
  EXPECT_FALSE(crypto::open_into(crypto::random_bytes(crypto::aes_key_size), *sealed, "t1/lead/L1", out));
  auto flipped = *sealed;
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_FALSE(crypto::open_into(key, flipped, "t1/lead/L1", out));
}

TEST(crypto, nonces_are_never_repeated_across_many_seals_and_keys) {
  // Nonces are drawn from a buffer of random bytes, refilled as it runs out.
  std::set<std::string> seen;
  auto k1 = crypto::random_bytes(crypto::aes_key_size), k2 = crypto::random_bytes(crypto::aes_key_size);
  for (int i = 0; i < 5000; ++i) {
    auto a = crypto::seal(i % 2 ? k1 : k2, "payload", "s");
    ASSERT_TRUE(a);
    EXPECT_TRUE(seen.insert(nonce_of(*a)).second) << "nonce repeated at seal " << i;
  }
}

TEST(crypto, one_context_seals_under_changing_keys_and_aads) {
  // The cipher context is set up once per thread and re-keyed per seal: no
  // key, nonce or AAD may carry over from the seal before.
  std::vector<std::string> keys;
  for (int i = 0; i < 3; ++i) keys.push_back(crypto::random_bytes(crypto::aes_key_size));
  const char* aads[] = {"t1/lead/L1", "", "t2/customer/C9", ""};
  for (int i = 0; i < 300; ++i) {
    const auto& key = keys[i % 3];
    std::string aad = aads[i % 4], plain(std::string(size_t(i % 70), char('a' + i % 26)));
    auto sealed = crypto::seal(key, plain, aad);
    ASSERT_TRUE(sealed);
    std::string out;
    ASSERT_TRUE(crypto::open_into(key, *sealed, aad, out)) << "seal " << i;
    EXPECT_EQ(out, plain);
    EXPECT_FALSE(crypto::open_into(keys[(i + 1) % 3], *sealed, aad, out)) << "seal " << i << " under another key";
  }
}

TEST(crypto, threads_never_share_a_nonce) {
  auto key = crypto::random_bytes(crypto::aes_key_size);
  std::vector<std::vector<std::string>> per(4);
  std::vector<std::thread> ts;
  for (auto& mine : per)
    ts.emplace_back([&key, &mine] {
      for (int i = 0; i < 2000; ++i) mine.push_back(nonce_of(*crypto::seal(key, "p", "s")));
    });
  for (auto& t : ts) t.join();
  std::set<std::string> seen;
  for (auto& mine : per)
    for (auto& n : mine) EXPECT_TRUE(seen.insert(n).second) << "a nonce repeated across threads";
}

TEST(crypto, a_forked_child_does_not_reuse_the_parents_buffered_nonces) {
  auto key = crypto::random_bytes(crypto::aes_key_size);
  ASSERT_TRUE(crypto::seal(key, "fills this thread's nonce buffer", "s"));
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto sealed = crypto::seal(key, "child", "s");
    std::string n = sealed ? nonce_of(*sealed) : std::string(crypto::gcm_nonce_size, '\0');
    ssize_t w = ::write(fds[1], n.data(), n.size());
    ::_exit(w == ssize_t(n.size()) ? 0 : 1);
  }
  ::close(fds[1]);  // a child that dies makes the read end, not hang
  auto mine = crypto::seal(key, "parent", "s");
  ASSERT_TRUE(mine);
  std::string theirs(crypto::gcm_nonce_size, '\0');
  ssize_t got = ::read(fds[0], theirs.data(), theirs.size());
  int st = 0;
  ::waitpid(child, &st, 0);
  ::close(fds[0]);
  ASSERT_EQ(got, ssize_t(theirs.size()));
  EXPECT_NE(nonce_of(*mine), theirs) << "parent and child sealed under one key with the same nonce";
}

}  // namespace
}  // namespace crmd
