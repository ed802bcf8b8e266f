// Specifications of Twilio webhook signatures: the form body as Twilio sends
// it, the data it signs, the URL variants its SDKs accept, and what is refused.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <vector>

#include "connectors/twilio_signature.hpp"

namespace crmd::connectors::twilio {
namespace {

// Twilio's documented example (twilio.com/docs/usage/security).
const std::string token = "12345";
const std::string url = "https://example.com/myapp.php?foo=1&bar=2";
const form params = {{"CallSid", "CA1234567890ABCDE"},
                     {"Caller", "+14158675310"},
                     {"Digits", "1234"},
                     {"From", "+14158675310"},
                     {"To", "+18005551212"}};
const std::string documented = "L/OH5YylLD5NRKLltdqwSvS0BnU=";

// base64(HMAC-SHA1(key, data)) straight from OpenSSL, not through crmd.
std::string openssl_hmac_sha1_b64(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_NE(HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
                 reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len),
            nullptr);
  unsigned char b64[64];
  int n = EVP_EncodeBlock(b64, mac, static_cast<int>(len));
  return std::string(reinterpret_cast<const char*>(b64), static_cast<size_t>(n));
}

form parsed(std::string_view body) {
  auto f = parse_form(body);
  EXPECT_TRUE(f) << f.error().to_string();
  return f ? *f : form{};
}

void expect_malformed(std::string_view body) {
  auto f = parse_form(body);
  ASSERT_FALSE(f) << "expected refusal for a body of " << body.size() << " bytes";
  EXPECT_EQ(f.error().code(), errc::invalid_argument);
  EXPECT_EQ(f.error().reason(), "malformed_form");
}

// --- signing -------------------------------------------------------------------

TEST(twilio_signature, twilios_documented_example_validates) {
  EXPECT_EQ(signing_string(url, params),
            url + "CallSidCA1234567890ABCDECaller+14158675310Digits1234From+14158675310To+18005551212");
  EXPECT_EQ(compute_signature(token, url, params), documented);
  EXPECT_TRUE(valid_signature(token, url, params, documented));
}

TEST(twilio_signature, the_order_parameters_arrive_in_does_not_matter) {
  form reversed(params.rbegin(), params.rend());
  form shuffled = {params[3], params[0], params[4], params[2], params[1]};
  EXPECT_EQ(compute_signature(token, url, reversed), documented);
  EXPECT_EQ(compute_signature(token, url, shuffled), documented);
  EXPECT_TRUE(valid_signature(token, url, shuffled, documented));
}

TEST(twilio_signature, names_sort_in_byte_order_so_uppercase_comes_first) {
  form f = {{"a", "1"}, {"B", "2"}, {"_", "3"}};
  EXPECT_EQ(signing_string("u", f), "uB2_3a1");
}

TEST(twilio_signature, a_repeated_name_is_signed_once_per_value_with_values_sorted) {
  form f = {{"To", "b"}, {"To", "a"}, {"From", "x"}};
  const std::string u = "https://example.com/voice";
  EXPECT_EQ(signing_string(u, f), u + "Fromx" + "Toa" + "Tob");
  std::string expected = openssl_hmac_sha1_b64(token, u + "FromxToaTob");
  EXPECT_EQ(compute_signature(token, u, f), expected);
  EXPECT_TRUE(valid_signature(token, u, f, expected));
  // Unsorted values are not what Twilio's SDKs sign.
  EXPECT_FALSE(valid_signature(token, u, f, openssl_hmac_sha1_b64(token, u + "FromxTobToa")));
}

TEST(twilio_signature, a_name_repeated_with_one_value_validates_signed_either_way) {
  form f = {{"To", "a"}, {"To", "a"}, {"From", "x"}};
  const std::string u = "https://example.com/voice";
  // twilio-python signs every pair; twilio-node each distinct value once.
  EXPECT_TRUE(valid_signature(token, u, f, openssl_hmac_sha1_b64(token, u + "FromxToaToa")));
  EXPECT_TRUE(valid_signature(token, u, f, openssl_hmac_sha1_b64(token, u + "FromxToa")));
  EXPECT_FALSE(valid_signature(token, u, f, openssl_hmac_sha1_b64(token, u + "Fromx")));
}

TEST(twilio_signature, an_empty_form_signs_the_url_alone) {
  const std::string u = "https://example.com/status?bodySHA256=abc";
  EXPECT_EQ(signing_string(u, {}), u);
  EXPECT_EQ(compute_signature(token, u, {}), openssl_hmac_sha1_b64(token, u));
}

// --- URL variants ----------------------------------------------------------------

TEST(twilio_signature, the_default_https_port_may_be_there_or_not) {
  const std::string with_port = "https://example.com:443/myapp.php?foo=1&bar=2";
  // Twilio signed without the port; the server knows the URL with it.
  EXPECT_TRUE(valid_signature(token, with_port, params, documented));
  // Twilio signed with the port; the server knows the URL without it.
  std::string signed_with_port = compute_signature(token, with_port, params);
  EXPECT_NE(signed_with_port, documented);
  EXPECT_TRUE(valid_signature(token, url, params, signed_with_port));
  EXPECT_TRUE(valid_signature(token, with_port, params, signed_with_port));
}

TEST(twilio_signature, the_default_http_port_may_be_there_or_not) {
  const std::string plain = "http://example.com/myapp.php?foo=1&bar=2";
  const std::string with_port = "http://example.com:80/myapp.php?foo=1&bar=2";
  std::string without = compute_signature(token, plain, params);
  std::string with = compute_signature(token, with_port, params);
  EXPECT_TRUE(valid_signature(token, plain, params, with));
  EXPECT_TRUE(valid_signature(token, with_port, params, without));
  // ":443" is not http's default: it is a port like any other.
  EXPECT_FALSE(valid_signature(token, plain, params, compute_signature(token, "http://example.com:443/myapp.php?foo=1&bar=2", params)));
}

TEST(twilio_signature, a_non_default_port_is_never_stripped_or_swapped) {
  const std::string custom = "https://example.com:8443/myapp.php?foo=1&bar=2";
  EXPECT_EQ(url_variants(custom), std::vector<std::string>{custom});
  EXPECT_TRUE(valid_signature(token, custom, params, compute_signature(token, custom, params)));
  EXPECT_FALSE(valid_signature(token, custom, params, documented));
  EXPECT_FALSE(valid_signature(token, url, params, compute_signature(token, custom, params)));
}

TEST(twilio_signature, credentials_in_the_url_are_not_signed) {
  EXPECT_TRUE(valid_signature(token, "https://user:pass@example.com/myapp.php?foo=1&bar=2", params, documented));
  EXPECT_TRUE(valid_signature(token, "https://user:p@ss@example.com:443/myapp.php?foo=1&bar=2", params, documented));
  EXPECT_FALSE(valid_signature(token, url, params,
                               compute_signature(token, "https://user:pass@example.com/myapp.php?foo=1&bar=2", params)));
}

TEST(twilio_signature, url_variants_lists_the_url_first_then_the_port_toggled) {
  using v = std::vector<std::string>;
  EXPECT_EQ(url_variants("https://h/p?q=1"), (v{"https://h/p?q=1", "https://h:443/p?q=1"}));
  EXPECT_EQ(url_variants("https://h:443/p"), (v{"https://h:443/p", "https://h/p"}));
  EXPECT_EQ(url_variants("http://u:pw@h"), (v{"http://h", "http://h:80"}));
  EXPECT_EQ(url_variants("HTTPS://h?x=a@b"), (v{"HTTPS://h?x=a@b", "HTTPS://h:443?x=a@b"}));
  EXPECT_EQ(url_variants("https://[::1]/p"), (v{"https://[::1]/p", "https://[::1]:443/p"}));
  EXPECT_EQ(url_variants("https://[::1]:443/p"), (v{"https://[::1]:443/p", "https://[::1]/p"}));
  EXPECT_EQ(url_variants("ftp://h/p"), (v{"ftp://h/p"}));
  EXPECT_EQ(url_variants("not a url"), (v{"not a url"}));
  EXPECT_EQ(url_variants(""), (v{""}));
}

// --- refusals --------------------------------------------------------------------

TEST(twilio_signature, a_wrong_or_altered_signature_is_refused) {
  EXPECT_FALSE(valid_signature(token, url, params, "not-a-signature"));
  EXPECT_FALSE(valid_signature(token, url, params, std::string(documented.size(), 'A')));
  std::string one_off = documented;
  one_off[5] = one_off[5] == 'x' ? 'y' : 'x';
  EXPECT_FALSE(valid_signature(token, url, params, one_off));
  EXPECT_FALSE(valid_signature(token, url, params, documented + "="));
  EXPECT_FALSE(valid_signature(token, url, params, documented.substr(0, documented.size() - 1)));
  EXPECT_FALSE(valid_signature(token, url, params, " " + documented));
}

TEST(twilio_signature, an_empty_signature_or_token_is_never_valid) {
  EXPECT_FALSE(valid_signature(token, url, params, ""));
  EXPECT_FALSE(valid_signature("", url, params, compute_signature("", url, params)));
  EXPECT_FALSE(valid_signature("", url, params, documented));
}

TEST(twilio_signature, another_token_is_refused) {
  EXPECT_FALSE(valid_signature("54321", url, params, documented));
}

TEST(twilio_signature, a_changed_added_or_dropped_parameter_is_refused) {
  form changed = params;
  changed[2].second = "1235";
  EXPECT_FALSE(valid_signature(token, url, changed, documented));
  form added = params;
  added.emplace_back("CallStatus", "completed");
  EXPECT_FALSE(valid_signature(token, url, added, documented));
  form dropped(params.begin(), params.end() - 1);
  EXPECT_FALSE(valid_signature(token, url, dropped, documented));
}

TEST(twilio_signature, a_trailing_slash_or_another_query_is_refused) {
  EXPECT_FALSE(valid_signature(token, "https://example.com/myapp.php/?foo=1&bar=2", params, documented));
  EXPECT_FALSE(valid_signature(token, "https://example.com/myapp.php?bar=2&foo=1", params, documented));
  EXPECT_FALSE(valid_signature(token, "http://example.com/myapp.php?foo=1&bar=2", params, documented));
}

// --- parsing the form body -------------------------------------------------------

TEST(twilio_form, plus_is_a_space_and_percent_2b_is_a_plus) {
  // `curl -d From=+1555000` sends the '+' unencoded: it arrives as a space.
  EXPECT_EQ(parsed("From=+1555000"), (form{{"From", " 1555000"}}));
  EXPECT_EQ(parsed("From=%2B1555000"), (form{{"From", "+1555000"}}));
  EXPECT_EQ(parsed("a+b=c+d%20e"), (form{{"a b", "c d e"}}));
}

TEST(twilio_form, a_name_without_equals_or_value_has_an_empty_value) {
  EXPECT_EQ(parsed("a=1&b&c="), (form{{"a", "1"}, {"b", ""}, {"c", ""}}));
  EXPECT_EQ(parsed("a=b=c"), (form{{"a", "b=c"}}));
  EXPECT_EQ(parsed("=v"), (form{{"", "v"}}));
}

TEST(twilio_form, empty_pairs_are_skipped) {
  EXPECT_EQ(parsed("a=1&&b=2&"), (form{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(parsed("&"), form{});
}

TEST(twilio_form, malformed_escapes_are_kept_literally) {
  EXPECT_EQ(parsed("a=%zz&b=100%&c=%4&d=%%41"), (form{{"a", "%zz"}, {"b", "100%"}, {"c", "%4"}, {"d", "%A"}}));
  EXPECT_EQ(parsed("x=%c3%A4"), (form{{"x", "\xC3\xA4"}}));
}

TEST(twilio_form, an_empty_body_is_an_empty_form) {
  auto f = parse_form("");
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->empty());
}

TEST(twilio_form, parameters_keep_the_order_they_arrived_in) {
  EXPECT_EQ(parsed("To=b&From=x&To=a"), (form{{"To", "b"}, {"From", "x"}, {"To", "a"}}));
}

TEST(twilio_form, more_than_a_thousand_pairs_are_refused) {
  std::string body;
  for (size_t i = 0; i < max_form_pairs; ++i) body += "p" + std::to_string(i) + "=v&";
  EXPECT_EQ(parsed(body).size(), max_form_pairs);
  expect_malformed(body + "one=more");
  expect_malformed(body + "b");
}

TEST(twilio_form, text_that_is_not_utf8_is_refused) {
  expect_malformed("a=%FF%FE");
  expect_malformed("%FF=a");
  expect_malformed("a=%C3");            // truncated sequence
  expect_malformed("a=%C0%AF");         // overlong '/'
  expect_malformed("a=%ED%A0%80");      // a UTF-16 surrogate
  expect_malformed("a=%F4%90%80%80");   // above U+10FFFF
  expect_malformed("a=\xFF");           // raw, not escaped
  EXPECT_EQ(parsed("a=%F0%9F%93%9E&b=%E2%82%AC"), (form{{"a", "\xF0\x9F\x93\x9E"}, {"b", "\xE2\x82\xAC"}}));
}

TEST(twilio_form, a_parsed_body_validates_as_twilio_signed_it) {
  auto f = parse_form(
      "CallSid=CA1234567890ABCDE&Caller=%2B14158675310&Digits=1234&From=%2B14158675310&To=%2B18005551212");
  ASSERT_TRUE(f);
  EXPECT_TRUE(valid_signature(token, url, *f, documented));
  // The same body with the '+' unencoded decodes to spaces and no longer matches.
  auto sloppy = parse_form("CallSid=CA1234567890ABCDE&Caller=+14158675310&Digits=1234&From=+14158675310&To=+18005551212");
  ASSERT_TRUE(sloppy);
  EXPECT_FALSE(valid_signature(token, url, *sloppy, documented));
}

}  // namespace
}  // namespace crmd::connectors::twilio
