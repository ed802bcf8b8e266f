// Specifications of the identity building blocks, on in-memory fakes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "identity/base64url.hpp"
#include "identity/jwt.hpp"
#include "identity/password.hpp"
#include "identity/rate_limiter.hpp"
#include "identity/roles.hpp"
#include "identity/session_store.hpp"
#include "storage/worker_pool.hpp"

namespace crmd::identity {
namespace {

const std::string secret = "0123456789abcdef0123456789abcdef";

token_claims claims(int64_t exp = 2000) {
  token_claims c;
  c.user_id = "u7";
  c.tenant = "acme";
  c.role = "agent";
  c.session = "fam1";
  c.issued_at = 1000;
  c.expires_at = exp;
  return c;
}

// --- base64url ---------------------------------------------------------------

TEST(base64url, round_trips_every_length_and_refuses_foreign_characters) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    auto back = base64url_decode(base64url_encode(bytes));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, bytes);
    bytes.push_back(static_cast<char>(i * 37));
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("ab=="));  // no padding in JWTs
  EXPECT_FALSE(base64url_decode("a+b/"));  // standard alphabet is not base64url
  EXPECT_FALSE(base64url_decode("abcde"));  // impossible length
  EXPECT_FALSE(base64url_decode("-_9"));    // non-zero leftover bits
}

// --- jwt -----------------------------------------------------------------------

TEST(jwt, a_signed_token_verifies_with_every_claim) {
  auto c = claims();
  c.impersonator = "u1";
  c.csrf = "xyz";
  auto v = verify(sign(c, secret), secret, 1500);
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_EQ(v->user_id, "u7");
  EXPECT_EQ(v->tenant, "acme");
  EXPECT_EQ(v->role, "agent");
  EXPECT_EQ(v->session, "fam1");
  EXPECT_EQ(v->impersonator, "u1");
  EXPECT_EQ(v->csrf, "xyz");
  EXPECT_EQ(v->expires_at, 2000);
}

TEST(jwt, an_expired_token_is_refused) {
  auto v = verify(sign(claims(2000), secret), secret, 2000);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), errc::unauthenticated);
  EXPECT_EQ(v.error().reason(), "token_expired");
}

TEST(jwt, another_secret_or_a_changed_payload_is_refused) {
  auto t = sign(claims(), secret);
  EXPECT_FALSE(verify(t, "another secret of at least 32 bytes!!", 1500));
  auto d1 = t.find('.'), d2 = t.rfind('.');
  auto forged = claims();
  forged.role = "owner";
  std::string body = base64url_encode(nlohmann::json{{"sub", "u7"}, {"tid", "acme"}, {"role", "owner"},
                                                     {"sid", "fam1"}, {"iat", 1000}, {"exp", 2000}}.dump());
  auto v = verify(t.substr(0, d1 + 1) + body + t.substr(d2), secret, 1500);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().reason(), "invalid_token");
}

TEST(jwt, alg_none_and_every_other_algorithm_is_refused_even_if_signed) {
  std::string payload = base64url_encode(nlohmann::json{{"sub", "u7"}, {"tid", "acme"}, {"role", "owner"},
                                                        {"sid", "f"}, {"iat", 1}, {"exp", 99999}}.dump());
  for (std::string alg : {"none", "HS512", "RS256", "hs256", ""}) {
    std::string header = base64url_encode("{\"alg\":\"" + alg + "\",\"typ\":\"JWT\"}");
    EXPECT_FALSE(verify(header + "." + payload + ".", secret, 10)) << alg;
    // The same token with a valid HS256 signature over it is still refused.
    auto good = sign(claims(99999), secret);
    EXPECT_FALSE(verify(header + "." + payload + good.substr(good.rfind('.')), secret, 10)) << alg;
  }
}

TEST(jwt, garbage_is_refused_without_throwing) {
  for (std::string t : std::vector<std::string>{"", ".", "..", "a.b.c", "a.b.c.d", std::string(5000, 'a'),
                                                "\xff\xfe.\x01.\x02", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.sig",
                                                "eyJhbGciOiJIUzI1NiJ9..", "e30.e30.e30"})
    EXPECT_FALSE(verify(t, secret, 1500)) << t;
}

TEST(jwt, correctly_signed_tokens_with_missing_or_mistyped_claims_are_refused) {
  EXPECT_TRUE(verify(sign_payload(R"({"sub":"u7","tid":"acme","role":"agent","sid":"f","iat":1,"exp":99})", secret),
                     secret, 10))
      << "the control is accepted";
  for (std::string p : {R"({"sub":"u7","tid":"acme","role":"agent","sid":"f","iat":1,"exp":"99"})",
                        R"({"sub":"u7","tid":"acme","role":"agent","sid":"f","iat":1})",
                        R"({"sub":7,"tid":"acme","role":"agent","sid":"f","iat":1,"exp":99})",
                        R"({"sub":"","tid":"acme","role":"agent","sid":"f","iat":1,"exp":99})",
                        R"({"tid":"acme","role":"agent","sid":"f","iat":1,"exp":99})", R"([1,2])", R"("x")"}) {
    auto v = verify(sign_payload(p, secret), secret, 10);
    ASSERT_FALSE(v) << p;
    EXPECT_EQ(v.error().reason(), "invalid_token") << p;
  }
}

// --- passwords -------------------------------------------------------------------

TEST(password, a_hash_verifies_its_password_only) {
  auto h = hash_password("correct horse battery", 1000);
  EXPECT_EQ(h.rfind("pbkdf2-sha256$1000$", 0), 0u);
  EXPECT_TRUE(verify_password("correct horse battery", h));
  EXPECT_FALSE(verify_password("correct horse batterY", h));
  EXPECT_NE(h, hash_password("correct horse battery", 1000)) << "salted";
  EXPECT_EQ(h.find("correct"), std::string::npos);
}

TEST(password, malformed_stored_values_never_verify) {
  for (std::string s : {"", "plain", "pbkdf2-sha256$x$AAAA$AAAA", "pbkdf2-sha256$0$AAAA$AAAA",
                        "pbkdf2-sha256$99999999999$AAAA$AAAA", "bcrypt$10$x$y", "pbkdf2-sha256$10$!!$AAAA"})
    EXPECT_FALSE(verify_password("whatever12", s)) << s;
}

TEST(password, length_rules) {
  EXPECT_FALSE(acceptable_password("short"));
  EXPECT_TRUE(acceptable_password("ten chars!"));
  EXPECT_FALSE(acceptable_password(std::string(257, 'x')));
}

// --- worker pool -------------------------------------------------------------------

}  // namespace
}  // namespace crmd::identity

namespace crmd {
namespace {

TEST(worker_pool, refuses_work_beyond_threads_plus_queue_and_runs_what_it_took) {
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::atomic<int> ran{0};
  {
    worker_pool pool(1, 1);
    EXPECT_TRUE(pool.try_submit([&] { gate.wait(); ++ran; }));
    EXPECT_TRUE(pool.try_submit([&] { ++ran; }));
    EXPECT_FALSE(pool.try_submit([&] { ++ran; })) << "one running, one queued: full";
    release.set_value();
    while (pool.pending() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_TRUE(pool.try_submit([&] { ++ran; })) << "room again once they finished";
  }
  EXPECT_EQ(ran.load(), 3);
}

}  // namespace
}  // namespace crmd

namespace crmd::identity {
namespace {

// --- rate limiter -------------------------------------------------------------------

TEST(rate_limiter, ten_failures_a_minute_then_retry_after_until_the_window_ends) {
  manual_clock t;
  rate_limiter rl({10, 60'000'000, 1000}, t);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(rl.retry_after_s("1.2.3.4"), 0);
    rl.record("1.2.3.4");
  }
  EXPECT_EQ(rl.retry_after_s("1.2.3.4"), 60);
  EXPECT_EQ(rl.retry_after_s("5.6.7.8"), 0) << "keys are independent";
  t.advance(45'000'000);
  EXPECT_EQ(rl.retry_after_s("1.2.3.4"), 15);
  t.advance(15'000'000);
  EXPECT_EQ(rl.retry_after_s("1.2.3.4"), 0);
}

TEST(rate_limiter, admit_counts_and_refuses_past_the_limit_and_memory_stays_bounded) {
  manual_clock t;
  rate_limiter rl({2, 1'000'000, 4}, t);
  EXPECT_TRUE(rl.admit("a"));
  EXPECT_TRUE(rl.admit("a"));
  EXPECT_FALSE(rl.admit("a"));
  for (int i = 0; i < 100; ++i) rl.record("k" + std::to_string(i));  // never grows past max_keys
  t.advance(1'000'000);
  EXPECT_TRUE(rl.admit("a"));
}

TEST(rate_limiter, a_flood_of_fresh_keys_does_not_reset_a_lockout) {
  manual_clock t;
  rate_limiter rl({3, 60'000'000, 10}, t);
  for (int i = 0; i < 3; ++i) rl.record("victim@x.test");
  ASSERT_GT(rl.retry_after_s("victim@x.test"), 0);
  for (int i = 0; i < 1000; ++i) rl.record("fresh" + std::to_string(i) + "@x.test");
  EXPECT_GT(rl.retry_after_s("victim@x.test"), 0);
}

// --- roles -------------------------------------------------------------------

TEST(roles, the_permission_table_of_the_issue) {
  EXPECT_TRUE(allowed(role::agent, perm::crm_write));
  EXPECT_TRUE(allowed(role::agent, perm::messages_send));
  EXPECT_FALSE(allowed(role::agent, perm::crm_delete));
  EXPECT_FALSE(allowed(role::agent, perm::users_read));
  EXPECT_FALSE(allowed(role::agent, perm::prompts_write));
  EXPECT_TRUE(allowed(role::manager, perm::crm_delete));
  EXPECT_TRUE(allowed(role::manager, perm::prompts_write));
  EXPECT_FALSE(allowed(role::manager, perm::tenant_settings));
  EXPECT_TRUE(allowed(role::owner, perm::tenant_settings));
  EXPECT_FALSE(allowed(role::owner, perm::admin));
  for (auto p : all_perms()) EXPECT_TRUE(allowed(role::system_admin, p));
}

TEST(roles, users_are_managed_only_by_higher_ranks) {
  EXPECT_TRUE(may_manage(role::manager, role::agent));
  EXPECT_FALSE(may_manage(role::manager, role::manager));
  EXPECT_FALSE(may_manage(role::agent, role::agent));
  EXPECT_TRUE(may_manage(role::owner, role::manager));
  EXPECT_FALSE(may_manage(role::owner, role::owner));
  EXPECT_TRUE(may_manage(role::system_admin, role::owner));
  for (auto r : all_roles()) EXPECT_EQ(parse_role(role_name(r)), r);
  EXPECT_FALSE(parse_role("root"));
}

// --- refresh tokens -----------------------------------------------------------------

TEST(session_store, rotation_spends_the_token_and_reuse_revokes_the_family) {
  manual_clock t;
  auto kv = make_memory_kv();
  session_store s(*kv, 3600'000'000, t);
  ASSERT_TRUE(s.load());
  auto first = s.start("u1", "acme");
  ASSERT_TRUE(first);
  auto second = s.rotate(first->token);
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_EQ(second->family, first->family);
  EXPECT_EQ(second->user_id, "u1");
  EXPECT_NE(second->token, first->token);
  EXPECT_FALSE(s.revoked(first->family));

  auto replay = s.rotate(first->token);  // a copy of the spent token
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().reason(), "refresh_reused");
  EXPECT_TRUE(s.revoked(first->family));
  auto after = s.rotate(second->token);  // the family is gone, the good copy too
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().reason(), "refresh_invalid");

  session_store reopened(*kv, 3600'000'000, t);  // the revocation is durable
  ASSERT_TRUE(reopened.load());
  EXPECT_TRUE(reopened.revoked(first->family));
}

TEST(session_store, expired_unknown_and_stored_only_as_hashes) {
  manual_clock t;
  auto kv = make_memory_kv();
  session_store s(*kv, 1'000'000, t);
  auto g = s.start("u1", "acme");
  ASSERT_TRUE(g);
  EXPECT_FALSE(s.rotate("not a token"));
  EXPECT_FALSE(s.rotate(""));
  auto it = kv->scan(cf::sessions, "", "");
  for (; it->valid(); it->next()) {
    EXPECT_EQ(std::string(it->key()).find(g->token), std::string::npos);
    EXPECT_EQ(std::string(it->value()).find(g->token), std::string::npos);
  }
  t.advance(1'000'001);
  EXPECT_FALSE(s.rotate(g->token));
}

}  // namespace
}  // namespace crmd::identity

namespace crmd::identity {
namespace {

TEST(verified_tokens, a_hit_still_expires_and_capacity_is_bounded) {
  verified_tokens cache(2);
  token_claims c;
  c.user_id = "u1";
  c.expires_at = 100;
  cache.put("t1", c);
  ASSERT_TRUE(cache.find("t1", 99));
  EXPECT_EQ(cache.find("t1", 99)->user_id, "u1");
  EXPECT_FALSE(cache.find("t1", 100)) << "expired while cached";
  EXPECT_FALSE(cache.find("t2", 1));
  cache.put("t2", c);
  cache.put("t3", c);  // over capacity: starts over
  EXPECT_FALSE(cache.find("t1", 1));
  EXPECT_TRUE(cache.find("t3", 1));
}

}  // namespace
}  // namespace crmd::identity
