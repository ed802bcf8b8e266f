// Password hashes: PBKDF2-HMAC-SHA256 (OpenSSL), stored as
//   pbkdf2-sha256$<iterations>$<salt, base64url>$<32-byte hash, base64url>
// so a hash keeps verifying after the iteration count is raised for new ones.
// These functions take hundreds of milliseconds at production settings: call
// them on the KDF pool (storage/worker_pool.hpp), never on an I/O or actor thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace crmd::identity {

// OWASP's 2023 figure for PBKDF2-HMAC-SHA256; production refuses fewer.
constexpr uint32_t owasp_pbkdf2_iterations = 600'000;

std::string hash_password(std::string_view password, uint32_t iterations);
// Constant-time in the hash comparison; false for a malformed stored value.
bool verify_password(std::string_view password, std::string_view stored);
// Runs the same KDF work as verifying against a real hash, and fails: used
// when the account does not exist, so that both answers take equally long.
void burn_password_check(std::string_view password, uint32_t iterations);

// Passwords: 10..256 bytes (NIST SP 800-63B length rules; no composition rules).
bool acceptable_password(std::string_view password);

}  // namespace crmd::identity
