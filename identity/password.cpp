#include "identity/password.hpp"

#include <openssl/evp.h>

#include <vector>

#include "events/text.hpp"
#include "identity/base64url.hpp"
#include "storage/crypto.hpp"

namespace crmd::identity {
namespace {

constexpr size_t hash_bytes = 32;
constexpr size_t salt_bytes = 16;
// A stored value claiming more than this is treated as malformed rather
// than letting one row cost minutes of CPU.
constexpr uint64_t max_iterations = 10'000'000;

std::string pbkdf2(std::string_view password, std::string_view salt, uint32_t iterations) {
  std::string out(hash_bytes, '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                    static_cast<int>(iterations), EVP_sha256(), static_cast<int>(out.size()),
                    reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    auto p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) return out;
    s.remove_prefix(p + 1);
  }
}

}  // namespace

std::string hash_password(std::string_view password, uint32_t iterations) {
  std::string salt = crypto::random_bytes(salt_bytes);
  return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + base64url_encode(salt) + "$" +
         base64url_encode(pbkdf2(password, salt, iterations));
}

bool verify_password(std::string_view password, std::string_view stored) {
  auto parts = split(stored, '$');
  if (parts.size() != 4 || parts[0] != "pbkdf2-sha256") return false;
  uint64_t iterations = 0;
  if (!parse_u64(parts[1], iterations) || iterations == 0 || iterations > max_iterations) return false;
  auto salt = base64url_decode(parts[2]);
  auto want = base64url_decode(parts[3]);
  if (!salt || !want || want->size() != hash_bytes) return false;
  return crypto::constant_time_equal(pbkdf2(password, *salt, static_cast<uint32_t>(iterations)), *want);
}

void burn_password_check(std::string_view password, uint32_t iterations) {
  static const std::string salt(salt_bytes, 'x');
  volatile char sink = pbkdf2(password, salt, iterations)[0];
  (void)sink;
}

bool acceptable_password(std::string_view password) { return password.size() >= 10 && password.size() <= 256; }

}  // namespace crmd::identity
