#include "identity/jwt.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "identity/base64url.hpp"
#include "storage/crypto.hpp"

namespace crmd::identity {
namespace {

using json = nlohmann::json;

// The one header crmd writes; its encoding is fixed, so it is computed once.
const std::string& header_b64() {
  static const std::string h = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  return h;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

status invalid(const char* why) {
  return {errc::unauthenticated, std::string("the access token is not valid (") + why + ")", "invalid_token"};
}

bool get_string(const json& j, const char* name, std::string& out, bool required) {
  auto it = j.find(name);
  if (it == j.end()) return !required;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

bool get_int(const json& j, const char* name, int64_t& out) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) return false;
  out = it->get<int64_t>();
  return true;
}

}  // namespace

std::string sign(const token_claims& c, std::string_view secret) {
  json p = {{"sub", c.user_id}, {"tid", c.tenant}, {"role", c.role}, {"sid", c.session},
            {"iat", c.issued_at}, {"exp", c.expires_at}};
  if (!c.impersonator.empty()) p["imp"] = c.impersonator;
  if (!c.csrf.empty()) p["csrf"] = c.csrf;
  if (c.generation) p["gen"] = c.generation;
  return sign_payload(p.dump(), secret);
}

std::string sign_payload(std::string_view payload_json, std::string_view secret) {
  std::string signing_input = header_b64() + "." + base64url_encode(payload_json);
  return signing_input + "." + base64url_encode(hmac_sha256(secret, signing_input));
}

result<token_claims> verify(std::string_view token, std::string_view secret, int64_t now_s) {
  if (token.size() > max_token_bytes) return invalid("too long");
  auto d1 = token.find('.');
  if (d1 == std::string_view::npos) return invalid("not a JWT");
  auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) return invalid("not a JWT");
  // The algorithm is decided by crmd, never by the token: anything but the
  // exact HS256 header is refused before any signature is computed.
  auto header = base64url_decode(token.substr(0, d1));
  if (!header) return invalid("bad header");
  auto h = json::parse(*header, nullptr, false);
  if (!h.is_object() || !h.contains("alg") || h["alg"] != "HS256") return invalid("algorithm must be HS256");
  if (h.contains("crit")) return invalid("unsupported critical header");
  auto sig = base64url_decode(token.substr(d2 + 1));
  if (!sig || !crypto::constant_time_equal(*sig, hmac_sha256(secret, token.substr(0, d2))))
    return invalid("bad signature");
  auto payload = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  if (!payload) return invalid("bad payload");
  auto p = json::parse(*payload, nullptr, false);
  if (!p.is_object()) return invalid("bad payload");
  token_claims c;
  if (!get_string(p, "sub", c.user_id, true) || !get_string(p, "tid", c.tenant, true) ||
      !get_string(p, "role", c.role, true) || !get_string(p, "sid", c.session, true) ||
      !get_string(p, "imp", c.impersonator, false) || !get_string(p, "csrf", c.csrf, false) ||
      !get_int(p, "iat", c.issued_at) || !get_int(p, "exp", c.expires_at) || c.user_id.empty())
    return invalid("missing or mistyped claims");
  if (auto g = p.find("gen"); g != p.end()) {
    if (!g->is_number_unsigned() || g->get<uint64_t>() > UINT32_MAX) return invalid("missing or mistyped claims");
    c.generation = static_cast<uint32_t>(g->get<uint64_t>());
  }
  if (now_s >= c.expires_at)
    return status{errc::unauthenticated, "the access token has expired; refresh it", "token_expired"};
  return c;
}

std::optional<token_claims> verified_tokens::find(const std::string& token, int64_t now_s) const {
  std::lock_guard lock(mu_);
  auto it = map_.find(token);
  if (it == map_.end() || now_s >= it->second.expires_at) return std::nullopt;
  return it->second;
}

void verified_tokens::put(const std::string& token, const token_claims& c) {
  std::lock_guard lock(mu_);
  // Past capacity, start over: cheaper than an LRU, and a miss only costs
  // one verification.
  if (map_.size() >= capacity_) map_.clear();
  map_.emplace(token, c);
}

}  // namespace crmd::identity
