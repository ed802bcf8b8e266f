#include "storage/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <memory>

namespace crmd::crypto {
namespace {

struct ctx_free {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, ctx_free>;

const unsigned char* u8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Fetched once: EVP_sha256() and EVP_aes_256_gcm() make OpenSSL 3 look the
// algorithm up again on every init, a visible share of an append's cost.
// Without them nothing can be stored or read, so their absence is fatal.
[[noreturn]] void missing(const char* what) {
  std::fprintf(stderr, "crmd: %s\n", what);
  std::abort();
}
const EVP_MD* sha256_md() {
  static const EVP_MD* md = [] {
    const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (!m) missing("OpenSSL has no SHA256");
    return m;
  }();
  return md;
}
const EVP_CIPHER* aes_gcm() {
  static const EVP_CIPHER* c = [] {
    const EVP_CIPHER* f = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (!f) missing("OpenSSL has no AES-256-GCM");
    return f;
  }();
  return c;
}

// GCM nonces come from RAND_bytes drawn 4 KiB at a time: one RAND_bytes call
// per nonce (locks, a getpid() fork check) cost more than the encryption of
// a small event. A forked child must not reuse its parent's buffered bytes,
// so fork bumps a generation that makes every thread's buffer refill.
std::atomic<uint64_t> fork_generation{0};
void after_fork_in_child() { fork_generation.fetch_add(1); }

void nonce_into(unsigned char* out) {
  // Without the fork handler a child could repeat its parent's nonces.
  static const bool registered = [] {
    if (::pthread_atfork(nullptr, nullptr, after_fork_in_child) != 0) missing("cannot register the nonce buffer's fork handler");
    return true;
  }();
  (void)registered;
  struct pool {
    unsigned char bytes[4096];
    size_t used = sizeof bytes;
    uint64_t generation = 0;
  };
  thread_local pool p;
  uint64_t gen = fork_generation.load(std::memory_order_relaxed);
  if (p.used + gcm_nonce_size > sizeof p.bytes || p.generation != gen) {
    if (RAND_bytes(p.bytes, sizeof p.bytes) != 1) {
      std::fprintf(stderr, "crmd: OpenSSL RAND_bytes failed\n");
      std::abort();
    }
    p.used = 0;
    p.generation = gen;
  }
  std::memcpy(out, p.bytes + p.used, gcm_nonce_size);
  p.used += gcm_nonce_size;
}

}  // namespace

std::string sha256(std::string_view a, std::string_view b) {
  thread_local EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string out(sha256_size, '\0');
  unsigned int len = 0;
  bool ok = ctx && EVP_DigestInit_ex(ctx, sha256_md(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
            EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()), &len) == 1;
  // SHA-256 over memory cannot fail short of OpenSSL itself being broken.
  if (!ok || len != sha256_size) {
    std::fprintf(stderr, "crmd: OpenSSL SHA-256 failed\n");
    std::abort();
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  auto digit = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  };
  if (hex.size() % 2) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(char(hi << 4 | lo));
  }
  return out;
}

std::string base64(std::string_view bytes) {
  // EVP_EncodeBlock writes 4 characters per 3 bytes (padded) plus a NUL.
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

std::optional<std::string> from_base64(std::string_view in) {
  if (in.size() % 4) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    int pad = (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=');
    if (pad && i + 4 != in.size()) return std::nullopt;
    uint32_t n = 0;
    for (int k = 0; k < 4; ++k) {
      int v = k >= 4 - pad ? 0 : value(in[i + k]);
      if (v < 0) return std::nullopt;
      n = n << 6 | uint32_t(v);
    }
    out += char(n >> 16);
    if (pad < 2) out += char(n >> 8 & 0xff);
    if (pad < 1) out += char(n & 0xff);
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::fprintf(stderr, "crmd: OpenSSL RAND_bytes failed\n");
    std::abort();
  }
  return out;
}

result<std::string> seal(std::string_view key, std::string_view plaintext, std::string_view aad) {
  if (key.size() != aes_key_size) return status{errc::invalid_argument, "AES-256 key must be 32 bytes"};
  thread_local cipher_ctx ctx(EVP_CIPHER_CTX_new());
  thread_local bool initialised = false;
  if (!ctx) return status{errc::io_error, "cannot allocate a cipher context"};
  if (!initialised) {
    if (EVP_EncryptInit_ex(ctx.get(), aes_gcm(), nullptr, nullptr, nullptr) != 1)
      return status{errc::io_error, "cannot initialise AES-256-GCM"};
    initialised = true;
  }
  std::string out(gcm_nonce_size + plaintext.size() + gcm_tag_size, '\0');
  nonce_into(reinterpret_cast<unsigned char*>(out.data()));
  auto* ct = reinterpret_cast<unsigned char*>(out.data()) + gcm_nonce_size;
  int len = 0, total = 0;
  bool ok = EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, u8(key), u8(out)) == 1 &&
            (aad.empty() || EVP_EncryptUpdate(ctx.get(), nullptr, &len, u8(aad), int(aad.size())) == 1) &&
            EVP_EncryptUpdate(ctx.get(), ct, &len, u8(plaintext), int(plaintext.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), ct + total, &len) == 1;
  total += len;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, int(gcm_tag_size), ct + total) == 1;
  if (!ok || size_t(total) != plaintext.size())
    return status{errc::io_error, "AES-256-GCM encryption failed"};
  return out;
}

status open_into(std::string_view key, std::string_view sealed, std::string_view aad,
                 std::string& out) {
  if (key.size() != aes_key_size) return {errc::invalid_argument, "AES-256 key must be 32 bytes"};
  if (sealed.size() < gcm_nonce_size + gcm_tag_size)
    return {errc::corruption, "sealed payload shorter than nonce and tag"};
  size_t ct_len = sealed.size() - gcm_nonce_size - gcm_tag_size;
  // One context per thread: creating one costs more than decrypting a small event.
  thread_local cipher_ctx ctx(EVP_CIPHER_CTX_new());
  thread_local bool initialised = false;
  if (!ctx) return {errc::io_error, "cannot allocate a cipher context"};
  if (!initialised) {
    if (EVP_DecryptInit_ex(ctx.get(), aes_gcm(), nullptr, nullptr, nullptr) != 1)
      return {errc::io_error, "cannot initialise AES-256-GCM"};
    initialised = true;
  }
  out.resize(ct_len);
  auto* pt = reinterpret_cast<unsigned char*>(out.data());
  unsigned char tag[gcm_tag_size];
  std::memcpy(tag, sealed.data() + gcm_nonce_size + ct_len, gcm_tag_size);
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, u8(key), u8(sealed)) == 1 &&
            (aad.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &len, u8(aad), int(aad.size())) == 1) &&
            EVP_DecryptUpdate(ctx.get(), pt, &len, u8(sealed) + gcm_nonce_size, int(ct_len)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, int(gcm_tag_size), tag) == 1;
  int fin = 0;
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), pt + len, &fin) == 1;
  if (!ok) {
    out.clear();
    return {errc::corruption, "AES-256-GCM tag does not verify"};
  }
  return status::ok();
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace crmd::crypto
