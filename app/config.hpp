// crmd serve's settings: environment variables, overridden by flags.
// docs/configuration.md lists every variable.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "app/cli_args.hpp"
#include "events/status.hpp"

namespace crmd::cli {

struct serve_config {
  std::string env = "development";   // CRMD_ENV: production | development
  std::string bind = "127.0.0.1";     // CRMD_BIND / --bind
  uint16_t port = 8080;               // CRMD_PORT / --port (0: any free port)
  std::string data_dir = "./data";    // CRMD_DATA_DIR / --data-dir
  size_t max_body = 1u << 20;         // CRMD_MAX_BODY_BYTES
  std::chrono::milliseconds consistency_wait{2000};  // CRMD_CONSISTENCY_WAIT_MS
  std::chrono::milliseconds actor_idle{600'000};     // CRMD_ACTOR_IDLE_SECONDS
  std::string admin_token;            // CRMD_ADMIN_TOKEN (generated when unset)
  std::string public_host;            // PUBLIC_HOST, or its other name PUBLIC_BASE_URL
  // CRMD_HTTP_THREADS; unset: half the cores, at least one. The I/O threads
  // only parse and answer: on two cores a second one measured slower (more
  // wake-ups, list page p99 3.7-4.3 ms against 1.8 ms; bench/RESULTS.md).
  size_t http_threads = 0;
  std::string jwt_secret;             // JWT_SECRET (>= 32 bytes; generated when unset outside production)
  uint32_t kdf_iterations = 600'000;  // CRMD_KDF_ITERATIONS (production: at least 600000)
  size_t kdf_threads = 1;             // CRMD_KDF_THREADS
  size_t kdf_queue = 8;               // CRMD_KDF_QUEUE
  uint32_t auth_failures_per_minute = 10;  // CRMD_AUTH_FAILURES_PER_MINUTE
  bool trust_proxy = false;           // CRMD_TRUST_PROXY=true|false
  std::vector<std::string> cors_origins;  // CORS_ORIGINS, comma-separated
  std::string bootstrap_email;        // CRMD_BOOTSTRAP_ADMIN_EMAIL
  std::string bootstrap_password;     // CRMD_BOOTSTRAP_ADMIN_PASSWORD
  std::string stripe_api_base = "https://api.stripe.com";  // STRIPE_API_BASE
  std::string stripe_secret_key;      // STRIPE_SECRET_KEY
  std::string stripe_webhook_secret;  // STRIPE_WEBHOOK_SECRET
  std::string twilio_auth_token;      // TWILIO_AUTH_TOKEN (production: required)
  std::string twilio_account_sid;     // TWILIO_ACCOUNT_SID (recording downloads)
  bool validate_twilio = true;        // VALIDATE_TWILIO_SIGNATURE=false: development only
  // Speech-to-text, primary then fallback: CRMD_STT_{PRIMARY,FALLBACK}_{URL,KEY,MODEL}.
  std::string stt_primary_url, stt_primary_key, stt_primary_model = "whisper-1";
  std::string stt_fallback_url, stt_fallback_key, stt_fallback_model = "whisper-1";
  std::string llm_url, llm_key, llm_model = "gpt-4o-mini";  // CRMD_LLM_{URL,KEY,MODEL}
  std::string baileys_base_url;       // BAILEYS_BASE_URL: the WhatsApp bridge
  std::string internal_secret;        // INTERNAL_SECRET: shared with the bridge, both ways
  std::string whatsapp_verify_token;  // WHATSAPP_VERIFY_TOKEN: Meta's webhook subscription check
  std::string whatsapp_app_secret;    // WHATSAPP_APP_SECRET: X-Hub-Signature-256 on Cloud API webhooks
  // WHATSAPP_GRAPH_BASE: where Cloud API messages are sent ({base}/{phone_number_id}/messages).
  std::string whatsapp_graph_base = "https://graph.facebook.com/v19.0";
  std::string secrets_key;            // CRMD_SECRETS_KEY: 64 hex digits sealing tenant secrets
  int64_t wa_max_qr = 6;              // WA_MAX_QR: QR codes per start without a scan
  int64_t wa_backoff_cap_ms = 60000;  // WA_BACKOFF_CAP_MS: the longest reconnect delay
  int64_t wa_max_failures = 8;        // WA_MAX_FAILURES: failed reconnects in a row, then failed
  int64_t wa_start_timeout_ms = 60000;  // WA_START_TIMEOUT_MS: starting this long -> reconcile
};

using env_fn = std::function<std::string(const char*)>;
std::string real_env(const char* name);

// errc::invalid_argument naming the bad value, or (production) listing every
// missing required setting in one message.
result<serve_config> load_serve_config(const args& a, const env_fn& env = real_env);

// JWT_SECRET, else <data>/jwt_secret (created with mode 0600 when missing).
result<std::string> jwt_secret(const serve_config& c);

// The 32-byte key sealing tenant secrets (storage/secret_store.hpp):
// CRMD_SECRETS_KEY (64 hex digits), else <data>/secrets_key, created with
// mode 0600 when missing. Outside the database, so a copy of the database
// alone opens no secret.
result<std::string> secrets_key(const serve_config& c);

// The operator token: CRMD_ADMIN_TOKEN, else <data>/admin_token, created
// with mode 0600 when missing. `created` says whether it was just made.
result<std::string> admin_token(const serve_config& c, bool& created, std::string& path);

}  // namespace crmd::cli
