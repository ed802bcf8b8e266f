// Subject encryption's primitives (storage/crypto.hpp): what the log relies on.
#include <gtest/gtest.h>

#include <set>
#include <string>

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
  auto mine = crypto::seal(key, "parent", "s");
  ASSERT_TRUE(mine);
  std::string theirs(crypto::gcm_nonce_size, '\0');
  ASSERT_EQ(::read(fds[0], theirs.data(), theirs.size()), ssize_t(theirs.size()));
  int st = 0;
  ::waitpid(child, &st, 0);
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_NE(nonce_of(*mine), theirs) << "parent and child sealed under one key with the same nonce";
}

}  // namespace
}  // namespace crmd
