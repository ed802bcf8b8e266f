// Specifications of the Stripe connector: webhook signatures, and the
// PaymentIntent client against a fake Stripe on 127.0.0.1 (never the internet).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "connectors/stripe_client.hpp"
#include "connectors/stripe_signature.hpp"
#include "tests/support/fake_http_server.hpp"

namespace crmd::connectors {
namespace {

const std::string secret = "whsec_test_secret";
const std::string body = R"({"id":"evt_1","type":"payment_intent.succeeded"})";
constexpr int64_t t0 = 1700000000;
// HMAC-SHA256("whsec_test_secret", "1700000000." + body), computed outside crmd.
const std::string known_v1 = "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31";

void expect_refused(const status& s, const std::string& why) {
  ASSERT_FALSE(s) << "expected refusal for: " << why;
  EXPECT_EQ(s.code(), errc::invalid_argument);
  EXPECT_EQ(s.reason(), "invalid_signature");
  EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
}

// --- signatures ----------------------------------------------------------------

TEST(stripe_signature, a_header_stripe_would_send_verifies) {
  EXPECT_EQ(stripe_signature_header(body, secret, t0), "t=1700000000,v1=" + known_v1);
  EXPECT_TRUE(verify_stripe_signature("t=1700000000,v1=" + known_v1, body, secret, t0 + 10));
  // Within tolerance either side (clock skew), and at its edge.
  EXPECT_TRUE(verify_stripe_signature(stripe_signature_header(body, secret, t0), body, secret, t0 + 300));
  EXPECT_TRUE(verify_stripe_signature(stripe_signature_header(body, secret, t0), body, secret, t0 - 300));
}

TEST(stripe_signature, another_secret_is_refused) {
  expect_refused(verify_stripe_signature(stripe_signature_header(body, "whsec_other", t0), body, secret, t0),
                 "no v1 signature matches");
}

TEST(stripe_signature, a_tampered_body_or_timestamp_is_refused) {
  auto h = stripe_signature_header(body, secret, t0);
  expect_refused(verify_stripe_signature(h, body + " ", secret, t0), "no v1 signature matches");
  expect_refused(verify_stripe_signature(R"({"id":"evt_2","type":"payment_intent.succeeded"})", body, secret, t0),
                 "no t");
  expect_refused(verify_stripe_signature("t=1700000001,v1=" + known_v1, body, secret, t0), "no v1 signature matches");
}

TEST(stripe_signature, an_old_or_future_timestamp_is_refused_even_when_signed) {
  auto h = stripe_signature_header(body, secret, t0);
  expect_refused(verify_stripe_signature(h, body, secret, t0 + 301), "too old");
  expect_refused(verify_stripe_signature(h, body, secret, t0 - 301), "future");
  EXPECT_TRUE(verify_stripe_signature(h, body, secret, t0 + 3600, 3600));
  expect_refused(verify_stripe_signature(h, body, secret, t0, -1), "negative tolerance");
}

TEST(stripe_signature, any_matching_v1_is_enough_while_secrets_roll) {
  std::string other(64, 'a');
  EXPECT_TRUE(verify_stripe_signature("t=1700000000,v1=" + other + ",v1=" + known_v1, body, secret, t0));
  EXPECT_TRUE(verify_stripe_signature("t=1700000000,v1=" + known_v1 + ",v1=" + other, body, secret, t0));
  EXPECT_TRUE(verify_stripe_signature("v1=" + known_v1 + ",v0=abc,t=1700000000,x=y", body, secret, t0));
  expect_refused(verify_stripe_signature("t=1700000000,v1=" + other + ",v1=" + other, body, secret, t0),
                 "no v1 signature matches");
}

TEST(stripe_signature, a_missing_header_t_or_v1_is_refused) {
  expect_refused(verify_stripe_signature("", body, secret, t0), "missing header");
  expect_refused(verify_stripe_signature("v1=" + known_v1, body, secret, t0), "no t");
  expect_refused(verify_stripe_signature("t=1700000000", body, secret, t0), "no v1");
  expect_refused(verify_stripe_signature("t=1700000000,v1", body, secret, t0), "no v1");
}

TEST(stripe_signature, v0_and_other_schemes_do_not_count) {
  expect_refused(verify_stripe_signature("t=1700000000,v0=" + known_v1, body, secret, t0), "no v1");
  expect_refused(verify_stripe_signature("t=1700000000,V1=" + known_v1, body, secret, t0), "no v1");
  expect_refused(verify_stripe_signature("t=1700000000,v2=" + known_v1, body, secret, t0), "no v1");
}

TEST(stripe_signature, garbage_headers_are_refused_without_harm) {
  for (const std::string& h : std::vector<std::string>{",,,", "=", "t=", "t=,v1=", "garbage", "t=abc,v1=" + known_v1, "t=-5,v1=" + known_v1,
                        "t=+1700000000,v1=" + known_v1, "t= 1700000000,v1=" + known_v1,
                        "t=99999999999999999999,v1=" + known_v1, std::string("t=17\0" "00000000,v1=", 17) + known_v1,
                        "t=1700000000,v1=", "t=1700000000,v1=zz" + known_v1.substr(2),
                        "t=1700000000,v1=" + known_v1 + " ", "t=1700000000,v1=" + std::string(known_v1.size(), 'A')})
    EXPECT_FALSE(verify_stripe_signature(h, body, secret, t0)) << h;
  // Uppercase hex is not what Stripe sends (its SDKs compare the lowercase text).
  std::string upper = known_v1;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(verify_stripe_signature("t=1700000000,v1=" + upper, body, secret, t0));
}

TEST(stripe_signature, a_repeated_t_is_refused_even_if_one_would_verify) {
  auto h = stripe_signature_header(body, secret, t0);
  expect_refused(verify_stripe_signature(h + ",t=1700000000", body, secret, t0), "more than one t");
  expect_refused(verify_stripe_signature("t=1," + h, body, secret, t0), "more than one t");
}

TEST(stripe_signature, huge_headers_are_refused_unread) {
  std::string huge = stripe_signature_header(body, secret, t0) + "," + std::string(1 << 20, 'x');
  expect_refused(verify_stripe_signature(huge, body, secret, t0), "too long");
  std::string many = "t=1700000000";
  for (int i = 0; i < 100; ++i) many += ",v1=" + std::string(64, 'b');
  expect_refused(verify_stripe_signature(many + ",v1=" + known_v1, body, secret, t0), "too many v1");
}

// --- client --------------------------------------------------------------------

const std::string intent_json =
    R"({"id":"pi_123","object":"payment_intent","client_secret":"pi_123_secret_abc","status":"requires_payment_method","amount":1999,"currency":"usd"})";

payment_intent_request request() {
  payment_intent_request r;
  r.amount = 1999;
  r.currency = "usd";
  r.metadata = {{"invoice_id", "inv 1/ä&=+"}, {"tenant_id", "acme"}};
  r.idempotency_key = "inv-1-attempt-1";
  return r;
}

stripe_options options(const test::fake_http_server& s, long timeout_ms = 5000) {
  stripe_options o;
  o.api_base = s.base_url();
  o.secret_key = "sk_test_123";
  o.timeout_ms = timeout_ms;
  return o;
}

TEST(stripe_client, creates_a_payment_intent_with_auth_idempotency_key_and_encoded_form) {
  test::fake_http_server stripe([](const test::fake_request&) { return test::fake_response{200, intent_json}; });
  auto pi = create_payment_intent(options(stripe), request());
  ASSERT_TRUE(pi) << pi.error().to_string();
  EXPECT_EQ(pi->id, "pi_123");
  EXPECT_EQ(pi->client_secret, "pi_123_secret_abc");
  EXPECT_EQ(pi->status, "requires_payment_method");
  EXPECT_EQ(pi->amount, 1999);
  EXPECT_EQ(pi->currency, "usd");

  auto reqs = stripe.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/v1/payment_intents");
  EXPECT_EQ(reqs[0].header("authorization"), "Bearer sk_test_123");
  EXPECT_EQ(reqs[0].header("idempotency-key"), "inv-1-attempt-1");
  EXPECT_EQ(reqs[0].header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(reqs[0].body,
            "amount=1999&currency=usd&metadata[invoice_id]=inv%201%2F%C3%A4%26%3D%2B&metadata[tenant_id]=acme");
}

TEST(stripe_client, a_declined_card_is_an_error_value_with_stripes_message) {
  test::fake_http_server stripe([](const test::fake_request&) {
    return test::fake_response{
        402, R"({"error":{"type":"card_error","code":"card_declined","message":"Your card was declined."}})"};
  });
  auto pi = create_payment_intent(options(stripe), request());
  ASSERT_FALSE(pi);
  EXPECT_EQ(pi.error().code(), errc::invalid_argument);
  EXPECT_EQ(pi.error().message(), "Your card was declined.");
  EXPECT_EQ(pi.error().reason(), "card_declined");
}

TEST(stripe_client, server_errors_conflicts_and_odd_bodies_map_to_their_codes) {
  // The idempotency key picks the fake's answer, so the handler needs no shared state.
  const std::map<std::string, test::fake_response> answers = {
      {"k500", {500, R"({"error":{"message":"Something went wrong on Stripe's end."}})"}},
      {"k409", {409, R"({"error":{"type":"idempotency_error","message":"Another request is in progress."}})"}},
      {"k429", {429, R"({"error":{"code":"rate_limit","message":"Too many requests."}})"}},
      {"k400", {400, "not json"}},
      {"k200", {200, R"({"id":"pi_1","amount":"1999"})"}},
  };
  test::fake_http_server stripe([&](const test::fake_request& r) { return answers.at(r.header("idempotency-key")); });
  auto call = [&](const std::string& key) {
    auto r = request();
    r.idempotency_key = key;
    return create_payment_intent(options(stripe), r);
  };
  auto pi = call("k500");
  ASSERT_FALSE(pi);
  EXPECT_EQ(pi.error().code(), errc::io_error);
  EXPECT_EQ(pi.error().message(), "Something went wrong on Stripe's end.");

  pi = call("k409");
  ASSERT_FALSE(pi);
  EXPECT_EQ(pi.error().code(), errc::conflict);
  EXPECT_EQ(pi.error().message(), "Another request is in progress.");

  pi = call("k429");
  ASSERT_FALSE(pi);
  EXPECT_EQ(pi.error().code(), errc::io_error);
  EXPECT_EQ(pi.error().reason(), "rate_limit");

  pi = call("k400");
  ASSERT_FALSE(pi);
  EXPECT_EQ(pi.error().code(), errc::invalid_argument);
  EXPECT_EQ(pi.error().message(), "Stripe answered HTTP 400");
  EXPECT_EQ(pi.error().reason(), "stripe_error");

  pi = call("k200");
  ASSERT_FALSE(pi);
  EXPECT_EQ(pi.error().code(), errc::io_error);
  EXPECT_EQ(stripe.requests().size(), 5u);
}

TEST(stripe_client, a_closed_port_or_a_slow_server_is_an_io_error) {
  // Bound but not listening: connections are refused, and no one else can
  // take the port while the socket is held.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  stripe_options o;
  o.api_base = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  o.secret_key = "sk_test_123";
  auto pi = create_payment_intent(o, request());
  ::close(fd);
  ASSERT_FALSE(pi);
  EXPECT_EQ(pi.error().code(), errc::io_error);
  EXPECT_EQ(pi.error().message().find("sk_test_123"), std::string::npos);

  test::fake_http_server slow([](const test::fake_request&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    return test::fake_response{200, intent_json};
  });
  auto started = std::chrono::steady_clock::now();
  pi = create_payment_intent(options(slow, 150), request());
  ASSERT_FALSE(pi);
  EXPECT_EQ(pi.error().code(), errc::io_error);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(550));
}

TEST(stripe_client, malformed_requests_are_refused_before_anything_is_sent) {
  test::fake_http_server stripe([](const test::fake_request&) { return test::fake_response{200, intent_json}; });
  auto check = [&](auto change) {
    auto r = request();
    auto o = options(stripe);
    change(r, o);
    auto pi = create_payment_intent(o, r);
    ASSERT_FALSE(pi);
    EXPECT_EQ(pi.error().code(), errc::invalid_argument);
    EXPECT_EQ(pi.error().reason(), "invalid_request");
  };
  check([](payment_intent_request& r, stripe_options&) { r.amount = 0; });
  check([](payment_intent_request& r, stripe_options&) { r.currency = "USD"; });
  check([](payment_intent_request& r, stripe_options&) { r.currency = "usdx"; });
  check([](payment_intent_request& r, stripe_options&) { r.idempotency_key.clear(); });
  check([](payment_intent_request& r, stripe_options&) { r.idempotency_key = std::string(256, 'k'); });
  check([](payment_intent_request& r, stripe_options&) { r.idempotency_key = "k\r\nX-Evil: 1"; });
  check([](payment_intent_request&, stripe_options& o) { o.secret_key.clear(); });
  check([](payment_intent_request&, stripe_options& o) { o.api_base = "file:///etc/passwd"; });
  EXPECT_TRUE(stripe.requests().empty());
}

}  // namespace
}  // namespace crmd::connectors
