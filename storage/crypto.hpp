// The few cryptographic primitives the log needs, on OpenSSL 3's EVP API.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "events/status.hpp"

namespace crmd::crypto {

constexpr size_t sha256_size = 32;
constexpr size_t aes_key_size = 32;
constexpr size_t gcm_nonce_size = 12;
constexpr size_t gcm_tag_size = 16;

// SHA-256 of a || b.
std::string sha256(std::string_view a, std::string_view b = {});
std::string to_hex(std::string_view bytes);
// Lowercase or uppercase hex digits, even length; nullopt for anything else.
std::optional<std::string> from_hex(std::string_view hex);
// Standard base64 (RFC 4648 §4, padded), as exports and data URLs use it.
std::string base64(std::string_view bytes);
// Strict: padded, no whitespace; nullopt for anything else.
std::optional<std::string> from_base64(std::string_view text);

// Cryptographically secure random bytes; aborts if the CSPRNG fails, since
// no key or nonce may ever be produced from a broken generator.
std::string random_bytes(size_t n);

// AES-256-GCM. The sealed form is nonce(12) | ciphertext | tag(16); `aad` is
// authenticated but not stored.
result<std::string> seal(std::string_view key, std::string_view plaintext, std::string_view aad);
// Decrypts into a caller's buffer, whose capacity is reused; errc::corruption
// when the tag does not verify (wrong key, altered bytes).
status open_into(std::string_view key, std::string_view sealed, std::string_view aad,
                 std::string& out);

bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace crmd::crypto
