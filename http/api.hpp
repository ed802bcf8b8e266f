// crmd's HTTP API on plain types (http_types.hpp): routes, authentication,
// JSON errors, read-your-writes. No RESTinio, no CAF.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "events/status.hpp"
#include "http/call_pipeline.hpp"
#include "http/http_types.hpp"

namespace crmd {
class runtime;
class projection_runner;
class kv_store;
class event_log;
class clock;
}  // namespace crmd

namespace crmd::http {

struct api_options {
  std::string admin_token;  // CRMD_ADMIN_TOKEN (or generated into the data directory)
  std::string jwt_secret;   // JWT_SECRET (or generated into the data directory); >= 32 bytes
  // Access tokens live this long (the web client refreshes on 401).
  std::chrono::seconds access_ttl{900};
  // Impersonation tokens: short, and never refreshed.
  std::chrono::seconds impersonation_ttl{300};
  // A login's refresh-token family lives this long without use.
  std::chrono::hours refresh_ttl{24 * 30};
  // CRMD_KDF_ITERATIONS: PBKDF2-HMAC-SHA256 rounds for new password hashes.
  uint32_t kdf_iterations = 600'000;
  // CRMD_KDF_THREADS / CRMD_KDF_QUEUE: the password pool; full -> 503 + Retry-After.
  size_t kdf_threads = 1;
  size_t kdf_queue = 8;
  // CRMD_AUTH_FAILURES_PER_MINUTE: failed sign-ins per client address and per account.
  uint32_t auth_failures_per_minute = 10;
  // CRMD_TRUST_PROXY: take the client address from X-Forwarded-For.
  bool trust_proxy = false;
  // CORS_ORIGINS: exact origins allowed to call with credentials.
  std::vector<std::string> cors_origins;
  // Cookies carry Secure when PUBLIC_HOST is https.
  bool secure_cookies = false;
  // STRIPE_API_BASE / STRIPE_SECRET_KEY / STRIPE_WEBHOOK_SECRET.
  std::string stripe_api_base = "https://api.stripe.com";
  std::string stripe_secret_key, stripe_webhook_secret;
  // The data directory: call recordings live under <data_dir>/recordings/<tenant>/.
  std::string data_dir;
  // TWILIO_AUTH_TOKEN / TWILIO_ACCOUNT_SID: webhook signatures and recording downloads.
  std::string twilio_auth_token, twilio_account_sid;
  // PUBLIC_HOST: scheme and host Twilio calls ("https://crm.example.com"); the
  // signed URL is this + path + query. Empty: the request's own Host.
  std::string public_host;
  // VALIDATE_TWILIO_SIGNATURE=false: development only, and loudly.
  bool validate_twilio = true;
  // INTERNAL_SECRET: the WhatsApp bridge's X-Internal-Secret (empty: its webhook refuses everything).
  std::string internal_secret;
  // BAILEYS_BASE_URL: where POST /api/wa/send hands messages to the bridge.
  std::string baileys_base_url;
  // WHATSAPP_VERIFY_TOKEN / WHATSAPP_APP_SECRET: Meta's Cloud API webhook
  // (subscription check; X-Hub-Signature-256). Empty: refused.
  std::string whatsapp_verify_token, whatsapp_app_secret;
  // WHATSAPP_GRAPH_BASE: Cloud API sends go to {base}/{phone_number_id}/messages.
  std::string whatsapp_graph_base = "https://graph.facebook.com/v19.0";
  // 32 bytes sealing tenant secrets (storage/secret_store.hpp); empty: a
  // request to store one is refused with 503.
  std::string secrets_key;
  // Recording downloads, speech-to-text and summaries (http/call_pipeline.hpp).
  call_pipeline_options calls;
  std::string revision;     // the build's git revision, sent as X-Revision
  // CRMD_MAX_BODY_BYTES: larger bodies get 413 JSON.
  size_t max_body = 1u << 20;
  // CRMD_CONSISTENCY_WAIT_MS: how long a read waits for the views to include
  // the caller's acknowledged writes before answering 503.
  std::chrono::milliseconds consistency_wait = std::chrono::milliseconds(2000);
  bool log_rejections = true;  // one stderr line per 4xx/5xx
};

struct api_deps {
  runtime& rt;
  projection_runner& runner;
  kv_store& views;  // the whole store: views, and the sessions family
  event_log& log;
};

// What a route needs from its caller (api_internal.hpp has the policy).
struct route_info {
  std::string method, pattern;
  std::string scope;   // open | signed_in | tenant | system
  std::string perm;    // for tenant routes: the permission (identity/roles.hpp)
  std::string module;  // for tenant routes: the module it belongs to, or empty
};

// Every route with its policy, without a running API (for docs and tests).
std::vector<route_info> route_table();

class api {
 public:
  api(api_deps deps, api_options options);
  ~api();
  // Loads the refresh-token store; call once before serving.
  status start();
  // Finishes the password and session jobs in flight and takes no more;
  // call after the server stopped and before the runtime and log stop.
  void stop();
  void handle(http_request req, std::shared_ptr<responder> out);
  // The 503 the server sends when a request is not answered in time.
  http_response timeout_response(const http_request& req) const;
  std::vector<route_info> routes() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace crmd::http
