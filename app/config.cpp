#include "app/config.hpp"

#include <tuple>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

#include "events/text.hpp"
#include "storage/crypto.hpp"

namespace crmd::cli {
std::string real_env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

result<serve_config> load_serve_config(const args& a, const env_fn& env) {
  serve_config c;
  auto pick = [&](const char* flag, const char* var) -> std::string {
    if (flag)
      if (auto v = a.get(flag)) return *v;
    return env(var);
  };
  if (auto v = env("CRMD_ENV"); !v.empty()) c.env = v;
  if (c.env != "production" && c.env != "development")
    return status{errc::invalid_argument, "CRMD_ENV must be production or development, not '" + c.env + "'"};
  if (auto v = pick("bind", "CRMD_BIND"); !v.empty()) c.bind = v;
  if (auto v = pick("port", "CRMD_PORT"); !v.empty()) {
    uint64_t p = 0;
    if (!parse_u64(v, p) || p > 65535) return status{errc::invalid_argument, "port must be 0..65535, not '" + v + "'"};
    c.port = static_cast<uint16_t>(p);
  }
  if (auto v = pick("data-dir", "CRMD_DATA_DIR"); !v.empty()) c.data_dir = v;
  struct numeric {
    const char* var;
    uint64_t min, max;
    std::function<void(uint64_t)> set;
  };
  for (auto& n : std::vector<numeric>{
           {"CRMD_MAX_BODY_BYTES", 1024, 64u << 20, [&](uint64_t v) { c.max_body = v; }},
           {"CRMD_CONSISTENCY_WAIT_MS", 0, 60'000, [&](uint64_t v) { c.consistency_wait = std::chrono::milliseconds(v); }},
           {"CRMD_ACTOR_IDLE_SECONDS", 1, 86'400 * 7, [&](uint64_t v) { c.actor_idle = std::chrono::seconds(v); }},
           {"CRMD_HTTP_THREADS", 1, 64, [&](uint64_t v) { c.http_threads = v; }},
           {"CRMD_KDF_ITERATIONS", 1000, 10'000'000, [&](uint64_t v) { c.kdf_iterations = static_cast<uint32_t>(v); }},
           {"CRMD_KDF_THREADS", 1, 16, [&](uint64_t v) { c.kdf_threads = v; }},
           {"CRMD_KDF_QUEUE", 0, 1024, [&](uint64_t v) { c.kdf_queue = v; }},
           {"CRMD_AUTH_FAILURES_PER_MINUTE", 1, 100'000,
            [&](uint64_t v) { c.auth_failures_per_minute = static_cast<uint32_t>(v); }}}) {
    auto v = env(n.var);
    if (v.empty()) continue;
    uint64_t x = 0;
    if (!parse_u64(v, x) || x < n.min || x > n.max)
      return status{errc::invalid_argument, std::string(n.var) + " must be an integer from " + std::to_string(n.min) +
                                                " to " + std::to_string(n.max) + ", not '" + v + "'"};
    n.set(x);
  }
  if (c.http_threads == 0) c.http_threads = std::max(1u, std::thread::hardware_concurrency() / 2);
  c.admin_token = env("CRMD_ADMIN_TOKEN");
  c.jwt_secret = env("JWT_SECRET");
  if (!c.jwt_secret.empty() && c.jwt_secret.size() < 32)
    return status{errc::invalid_argument, "JWT_SECRET must be at least 32 bytes"};
  if (auto v = env("CRMD_TRUST_PROXY"); !v.empty()) {
    if (v != "true" && v != "false")
      return status{errc::invalid_argument, "CRMD_TRUST_PROXY must be true or false, not '" + v + "'"};
    c.trust_proxy = v == "true";
  }
  std::string cors = env("CORS_ORIGINS");
  for (std::string_view rest = cors; !rest.empty();) {
    auto comma = rest.find(',');
    std::string o(rest.substr(0, comma));
    while (!o.empty() && o.front() == ' ') o.erase(0, 1);
    while (!o.empty() && (o.back() == ' ' || o.back() == '/')) o.pop_back();
    // Credentials are sent to listed origins only; a wildcard would send them everywhere.
    if (o == "*" || (o.rfind("http://", 0) != 0 && o.rfind("https://", 0) != 0))
      return status{errc::invalid_argument, "CORS_ORIGINS lists exact origins like https://app.example.com, not '" + o + "'"};
    c.cors_origins.push_back(o);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (auto v = env("STRIPE_API_BASE"); !v.empty()) c.stripe_api_base = v;
  c.stripe_secret_key = env("STRIPE_SECRET_KEY");
  c.stripe_webhook_secret = env("STRIPE_WEBHOOK_SECRET");
  c.bootstrap_email = env("CRMD_BOOTSTRAP_ADMIN_EMAIL");
  c.bootstrap_password = env("CRMD_BOOTSTRAP_ADMIN_PASSWORD");
  if (c.bootstrap_email.empty() != c.bootstrap_password.empty())
    return status{errc::invalid_argument,
                  "set both CRMD_BOOTSTRAP_ADMIN_EMAIL and CRMD_BOOTSTRAP_ADMIN_PASSWORD, or neither"};
  c.twilio_auth_token = env("TWILIO_AUTH_TOKEN");
  c.twilio_account_sid = env("TWILIO_ACCOUNT_SID");
  if (auto v = env("VALIDATE_TWILIO_SIGNATURE"); !v.empty()) {
    if (v != "true" && v != "false")
      return status{errc::invalid_argument, "VALIDATE_TWILIO_SIGNATURE must be true or false, not '" + v + "'"};
    c.validate_twilio = v == "true";
  }
  auto set = [&](const char* name, std::string& field) {
    if (auto v = env(name); !v.empty()) field = v;
  };
  set("CRMD_STT_PRIMARY_URL", c.stt_primary_url);
  set("CRMD_STT_PRIMARY_KEY", c.stt_primary_key);
  set("CRMD_STT_PRIMARY_MODEL", c.stt_primary_model);
  set("CRMD_STT_FALLBACK_URL", c.stt_fallback_url);
  set("CRMD_STT_FALLBACK_KEY", c.stt_fallback_key);
  set("CRMD_STT_FALLBACK_MODEL", c.stt_fallback_model);
  set("CRMD_LLM_URL", c.llm_url);
  set("CRMD_LLM_KEY", c.llm_key);
  set("CRMD_LLM_MODEL", c.llm_model);
  c.baileys_base_url = env("BAILEYS_BASE_URL");
  c.internal_secret = env("INTERNAL_SECRET");
  c.whatsapp_verify_token = env("WHATSAPP_VERIFY_TOKEN");
  c.whatsapp_app_secret = env("WHATSAPP_APP_SECRET");
  if (auto g = env("WHATSAPP_GRAPH_BASE"); !g.empty()) {
    if (g.rfind("http://", 0) != 0 && g.rfind("https://", 0) != 0)
      return status{errc::invalid_argument, "WHATSAPP_GRAPH_BASE must be an http(s) URL, not '" + g + "'"};
    while (!g.empty() && g.back() == '/') g.pop_back();
    c.whatsapp_graph_base = g;
  }
  c.secrets_key = env("CRMD_SECRETS_KEY");
  if (!c.secrets_key.empty() &&
      (c.secrets_key.size() != 64 || c.secrets_key.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos))
    return status{errc::invalid_argument, "CRMD_SECRETS_KEY must be 64 hex digits (32 bytes)"};
  for (auto [name, field, lo, hi] : {std::tuple{"WA_MAX_QR", &c.wa_max_qr, int64_t{1}, int64_t{100}},
                                     std::tuple{"WA_BACKOFF_CAP_MS", &c.wa_backoff_cap_ms, int64_t{1000}, int64_t{3'600'000}},
                                     std::tuple{"WA_MAX_FAILURES", &c.wa_max_failures, int64_t{1}, int64_t{1000}},
                                     std::tuple{"WA_START_TIMEOUT_MS", &c.wa_start_timeout_ms, int64_t{1000}, int64_t{3'600'000}}}) {
    auto v = env(name);
    if (v.empty()) continue;
    char* end = nullptr;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (*end != '\0' || n < lo || n > hi)
      return status{errc::invalid_argument, std::string(name) + " must be an integer in " + std::to_string(lo) + ".." +
                                                std::to_string(hi) + ", not '" + v + "'"};
    *field = n;
  }
  c.public_host = env("PUBLIC_HOST");
  if (c.public_host.empty()) c.public_host = env("PUBLIC_BASE_URL");

  if (c.env == "production") {
    std::vector<std::string> missing;
    if (c.public_host.empty()) missing.push_back("PUBLIC_HOST (or PUBLIC_BASE_URL)");
    if (c.jwt_secret.empty()) missing.push_back("JWT_SECRET");
    if (c.twilio_auth_token.empty()) missing.push_back("TWILIO_AUTH_TOKEN");
    if (!missing.empty()) {
      std::string list;
      for (auto& m : missing) list += (list.empty() ? "" : ", ") + m;
      return status{errc::invalid_argument, "production mode needs these settings: " + list};
    }
    if (!c.validate_twilio)
      return status{errc::invalid_argument, "VALIDATE_TWILIO_SIGNATURE=false is refused in production"};
    if (c.kdf_iterations < 600'000)
      return status{errc::invalid_argument, "CRMD_KDF_ITERATIONS must be at least 600000 in production"};
  }
  return c;
}

namespace {

// Reads a secret from `path`, or writes a new random one there (mode 0600).
result<std::string> secret_file(const std::string& path, bool& created, size_t min_size) {
  created = false;
  std::ifstream in(path);
  std::string token;
  if (in && std::getline(in, token) && token.size() >= min_size) return token;
  token = crypto::to_hex(crypto::random_bytes(32));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return status{errc::io_error, "cannot write " + path};
  std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == ssize_t(line.size()) && ::fsync(fd) == 0;
  ::fchmod(fd, 0600);
  ::close(fd);
  if (!ok) return status{errc::io_error, "cannot write " + path};
  created = true;
  return token;
}

}  // namespace

result<std::string> jwt_secret(const serve_config& c) {
  if (!c.jwt_secret.empty()) return c.jwt_secret;
  bool created = false;
  return secret_file(c.data_dir + "/jwt_secret", created, 32);
}

result<std::string> secrets_key(const serve_config& c) {
  std::string hex = c.secrets_key;
  if (hex.empty()) {
    bool created = false;
    auto f = secret_file(c.data_dir + "/secrets_key", created, 64);
    if (!f) return f;
    hex = *f;
  }
  auto key = crypto::from_hex(hex);
  if (hex.size() != 64 || !key) return status{errc::invalid_argument, "the secrets key must be 64 hex digits"};
  return *key;
}

result<std::string> admin_token(const serve_config& c, bool& created, std::string& path) {
  created = false;
  path.clear();
  if (!c.admin_token.empty()) {
    if (c.admin_token.size() < 16) return status{errc::invalid_argument, "CRMD_ADMIN_TOKEN must be at least 16 characters"};
    return c.admin_token;
  }
  path = c.data_dir + "/admin_token";
  return secret_file(path, created, 16);
}

}  // namespace crmd::cli
