// Specifications of the secret store (storage/secret_store.hpp) on the
// in-memory kv.
#include <gtest/gtest.h>

#include "storage/crypto.hpp"
#include "storage/kv.hpp"
#include "storage/secret_store.hpp"

namespace crmd {
namespace {

const std::string box(32, '\x42');
const std::string token = "EAAGm0PX4ZCpsBAMZCtoken0123456789abcdef";

void put(kv_store& kv, const std::string& key, const std::string& value) {
  auto b = kv.new_batch();
  b->put(cf::meta, key, value);
  ASSERT_TRUE(kv.write(*b, true));
}

TEST(secret_store, a_sealed_secret_reads_back_and_is_not_stored_in_clear) {
  auto kv = make_memory_kv();
  auto sealed = secrets::seal(box, "acme", secrets::whatsapp_graph_token, token);
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->find(token), std::string::npos);
  put(*kv, secrets::meta_key("acme", secrets::whatsapp_graph_token), *sealed);
  auto back = secrets::read(*kv, box, "acme", secrets::whatsapp_graph_token);
  ASSERT_TRUE(back);
  ASSERT_TRUE(*back);
  EXPECT_EQ(**back, token);
}

TEST(secret_store, a_missing_secret_is_none_not_an_error) {
  auto kv = make_memory_kv();
  auto back = secrets::read(*kv, box, "acme", secrets::whatsapp_graph_token);
  ASSERT_TRUE(back);
  EXPECT_FALSE(*back);
}

TEST(secret_store, another_key_or_another_tenants_slot_does_not_open_it) {
  auto kv = make_memory_kv();
  auto sealed = secrets::seal(box, "acme", secrets::whatsapp_graph_token, token);
  ASSERT_TRUE(sealed);
  put(*kv, secrets::meta_key("acme", secrets::whatsapp_graph_token), *sealed);
  // A database copied to a node with a different secrets key opens nothing.
  auto other_key = secrets::read(*kv, std::string(32, '\x43'), "acme", secrets::whatsapp_graph_token);
  ASSERT_FALSE(other_key);
  EXPECT_EQ(other_key.error().code(), errc::corruption);
  // A sealed value moved into another tenant's slot is refused, not used.
  put(*kv, secrets::meta_key("beta", secrets::whatsapp_graph_token), *sealed);
  auto moved = secrets::read(*kv, box, "beta", secrets::whatsapp_graph_token);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code(), errc::corruption);
}

TEST(secret_store, a_key_of_the_wrong_size_seals_nothing) {
  EXPECT_FALSE(secrets::seal("short", "acme", secrets::whatsapp_graph_token, token));
}

TEST(secret_store, people_see_only_the_last_four_characters) {
  EXPECT_EQ(secrets::hint(token), "cdef");
  EXPECT_EQ(secrets::hint("abc"), "***");
}

}  // namespace
}  // namespace crmd
