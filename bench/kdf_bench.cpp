// Password hashing cost per core: PBKDF2-HMAC-SHA256 at the given rounds
// (default: production's 600000), and HS256 access-token verification.
// Usage: kdf_bench [iterations] [seconds]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "identity/jwt.hpp"
#include "identity/password.hpp"

int main(int argc, char** argv) {
  using namespace crmd::identity;
  using clk = std::chrono::steady_clock;
  uint32_t iterations = argc > 1 ? static_cast<uint32_t>(std::atoi(argv[1])) : owasp_pbkdf2_iterations;
  double seconds = argc > 2 ? std::atof(argv[2]) : 5;
  std::string stored = hash_password("correct horse battery", iterations);
  int n = 0;
  auto t0 = clk::now();
  while (std::chrono::duration<double>(clk::now() - t0).count() < seconds) {
    if (!verify_password("correct horse battery", stored)) return 1;
    ++n;
  }
  double s = std::chrono::duration<double>(clk::now() - t0).count();
  std::printf("pbkdf2-sha256 %u rounds: %.1f ms per check, %.2f checks/s on one core\n", iterations, 1000 * s / n, n / s);

  token_claims c;
  c.user_id = "u1";
  c.tenant = "acme";
  c.role = "agent";
  c.session = "f0123456789abcdef";
  c.csrf = "0123456789abcdef0123456789abcdef";
  c.issued_at = 1;
  c.expires_at = 4'000'000'000;
  std::string secret(32, 'k'), token = sign(c, secret);
  int m = 0;
  t0 = clk::now();
  while (std::chrono::duration<double>(clk::now() - t0).count() < 1) {
    for (int i = 0; i < 1000; ++i) m += verify(token, secret, 1000) ? 1 : 0;
  }
  s = std::chrono::duration<double>(clk::now() - t0).count();
  std::printf("hs256 verify: %.2f us per token (%.0f/s on one core)\n", 1e6 * s / m, m / s);
}
