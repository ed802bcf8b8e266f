#include "connectors/stripe_signature.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>

#include "storage/crypto.hpp"

namespace crmd::connectors {
namespace {

status invalid(const std::string& why) {
  return {errc::invalid_argument, "the Stripe-Signature header is not valid (" + why + ")", "invalid_signature"};
}

// Lowercase hex HMAC-SHA256 of "<t>.<raw_body>" under `secret`.
std::string expected_v1(std::string_view raw_body, std::string_view secret, int64_t t) {
  std::string payload = std::to_string(t);
  payload.push_back('.');
  payload.append(raw_body);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // On failure the result is empty, which the caller refuses (an empty v1
  // must never match it).
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), out, &len))
    len = 0;
  return crypto::to_hex(std::string_view(reinterpret_cast<const char*>(out), len));
}

// Decimal digits only (no sign, no spaces), within int64.
bool parse_seconds(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// |a - b| without signed overflow: the true difference of two int64 values
// always fits in a uint64.
uint64_t distance(int64_t a, int64_t b) {
  return a >= b ? static_cast<uint64_t>(a) - static_cast<uint64_t>(b)
                : static_cast<uint64_t>(b) - static_cast<uint64_t>(a);
}

}  // namespace

status verify_stripe_signature(std::string_view header, std::string_view raw_body, std::string_view secret,
                               int64_t now_s, int64_t tolerance_s) {
  if (header.empty()) return invalid("missing header");
  if (header.size() > max_stripe_signature_header_bytes) return invalid("header too long");

  bool have_t = false;
  int64_t t = 0;
  std::string_view v1s[64];  // more v1 items than this is not a real header
  size_t n_v1 = 0;
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view item = header.substr(pos, comma - pos);
    pos = comma + 1;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "t") {
      // Two timestamps make the header ambiguous (which one was signed, which
      // one is aged?), so it is refused rather than resolved.
      if (have_t) return invalid("more than one t");
      if (!parse_seconds(value, t)) return invalid("t is not a unix timestamp");
      have_t = true;
    } else if (key == "v1") {
      if (n_v1 == std::size(v1s)) return invalid("too many v1 signatures");
      v1s[n_v1++] = value;
    }
  }
  if (!have_t) return invalid("no t");
  if (n_v1 == 0) return invalid("no v1 signature");

  std::string expected = expected_v1(raw_body, secret, t);
  if (expected.empty()) return invalid("the signature could not be computed");
  bool match = false;
  // Every candidate is compared (no early exit), each in constant time.
  for (size_t i = 0; i < n_v1; ++i) match |= crypto::constant_time_equal(v1s[i], expected);
  if (!match) return invalid("no v1 signature matches");

  if (tolerance_s < 0) return invalid("negative tolerance");
  if (distance(now_s, t) > static_cast<uint64_t>(tolerance_s))
    return invalid(t < now_s ? "timestamp too old" : "timestamp too far in the future");
  return status::ok();
}

std::string stripe_signature_header(std::string_view raw_body, std::string_view secret, int64_t t) {
  return "t=" + std::to_string(t) + ",v1=" + expected_v1(raw_body, secret, t);
}

}  // namespace crmd::connectors
