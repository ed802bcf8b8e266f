// crmd serve: storage -> projections -> actors -> HTTP, until SIGINT/SIGTERM.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "actors/runtime.hpp"
#include "app/commands.hpp"
#include "app/config.hpp"
#include "app/data_dir.hpp"
#include "app/server_file.hpp"
#include "app/users.hpp"
#include "connectors/bridge_client.hpp"
#include "http/api.hpp"
#include "http/http_types.hpp"
#include "projections/runner.hpp"
#include "storage/erasure.hpp"
#include "projections/views.hpp"

namespace crmd::cli {
namespace {
const char* help = R"(usage: crmd serve [--data-dir D] [--bind ADDR] [--port N]

Runs crmd: the event log in D (created if needed), its views, the actors and
the HTTP API, until SIGINT or SIGTERM, then finishes the requests in flight
and exits 0. Settings come from the environment (docs/configuration.md);
flags override them.

  --data-dir D   data directory (default $CRMD_DATA_DIR, else ./data)
  --bind ADDR    listen address (default $CRMD_BIND, else 127.0.0.1)
  --port N       listen port (default $CRMD_PORT, else 8080; 0 = any free port)
)";
}  // namespace

namespace {

// The session actors' bridge, on the libcurl client.
class bridge_adapter : public wa::bridge {
 public:
  explicit bridge_adapter(connectors::bridge_options o) : o_(std::move(o)) {}
  status start(const std::string& tenant, const std::string& session, bool restart, int64_t max_qr) override {
    return connectors::bridge_start(o_, tenant, session, restart, max_qr);
  }
  status logout(const std::string& tenant, const std::string& session) override {
    return connectors::bridge_logout(o_, tenant, session);
  }
  result<wa::bridge_status> status_of(const std::string& tenant, const std::string& session) override {
    auto a = connectors::bridge_status(o_, tenant, session);
    if (!a) return a.error();
    return wa::bridge_status{a->state, a->me_id, a->me_name, 0};
  }

 private:
  connectors::bridge_options o_;
};

}  // namespace

int run_serve(const argv_t& argv) {
  auto a = parse(argv, {{"data-dir", "bind", "port"}, {"help"}, 0});
  if (!a) return fail("serve", a.error().message() + " (see crmd serve --help)", exit_usage);
  if (a->has("help")) {
    std::cout << help;
    return exit_ok;
  }
  // Block the stop signals before any thread starts, then wait for them here.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto cfg = load_serve_config(*a);
  if (!cfg) return fail("serve", cfg.error().message(), exit_usage);

  auto store = open_store(cfg->data_dir, open_mode::create);
  if (!store) return fail("serve", store.error().message(), exit_failure);
  bool created = false;
  std::string token_path;
  auto token = admin_token(*cfg, created, token_path);
  if (!token) return fail("serve", token.error().message(), exit_failure);
  if (!token_path.empty())
    std::cout << "crmd serve: operator token " << (created ? "created in " : "read from ") << token_path << std::endl;

  // A store restored from a backup older than an erasure: erase again.
  auto reerased = reerase_listed(*store->log, *store->kv, cfg->data_dir);
  if (!reerased) return fail("serve", "erasure list: " + reerased.error().message(), exit_failure);
  projection_runner runner(*store->log, store->kv, views::all());
  // Views with nothing folded (new in this build, or cleared after `crmd
  // rebuild` was cut short) are built in bulk first: batch by batch would
  // take many times longer on a long log.
  auto started = std::chrono::steady_clock::now();
  auto built = runner.build_empty_views();
  if (!built) return fail("serve", "projections: " + built.error().to_string(), exit_failure);
  if (!built->empty()) {
    std::string names;
    for (auto& n : *built) names += (names.empty() ? "" : ", ") + n;
    std::cout << "crmd serve: built " << names << " from the log's " << store->log->last_position()
              << " events in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
              << " s" << std::endl;
  }
  // Views are written without the WAL, so after a crash they may be behind
  // the log; catch up before the first request, so that everything
  // acknowledged before the crash is visible to the first read after it.
  if (auto s = runner.catch_up(); !s) return fail("serve", "projections: " + s.to_string(), exit_failure);
  if (auto s = runner.start(); !s) return fail("serve", "projections: " + s.to_string(), exit_failure);
  if (!reerased->empty()) {
    std::cout << "crmd serve: erased again " << reerased->size() << " tenant(s)' listed subjects; rebuilding their views"
              << std::endl;
    for (const auto& v : views::personal_data_views()) runner.start_rebuild(v);
  }
  runtime_options ro;
  ro.idle = cfg->actor_idle;
  if (!cfg->baileys_base_url.empty())
    ro.bridge = std::make_shared<bridge_adapter>(connectors::bridge_options{cfg->baileys_base_url, cfg->internal_secret});
  ro.wa_policy.max_qr = cfg->wa_max_qr;
  ro.wa_policy.backoff_cap_ms = cfg->wa_backoff_cap_ms;
  ro.wa_policy.max_failures = cfg->wa_max_failures;
  ro.wa_policy.start_timeout_ms = cfg->wa_start_timeout_ms;
  auto rt = start_runtime(*store->log, store->kv, ro);
  if (!rt) return fail("serve", "actors: " + rt.error().to_string(), exit_failure);

  if (!cfg->bootstrap_email.empty()) {
    bool empty = true;
    (*rt)->read_registry([&](const registry::state& s) { empty = s.users.empty(); });
    if (empty) {
      auto id = create_user_now(**rt, {cfg->bootstrap_email, "system_admin", "", cfg->bootstrap_password},
                                cfg->kdf_iterations);
      if (!id) return fail("serve", "bootstrap admin: " + id.error().message(), exit_failure);
      std::cout << "crmd serve: created the first system admin " << cfg->bootstrap_email << " (" << *id << ")"
                << std::endl;
    }
  }
  // crmd reconciles every WhatsApp session with the bridge when it starts:
  // touching a session recovers its actor, which asks the bridge.
  if (ro.bridge) {
    std::vector<std::string> tenants;
    (*rt)->read_registry([&](const registry::state& s) {
      for (auto& [id, t] : s.tenants)
        if (t.status == "active" && t.modules.count("whatsapp")) tenants.push_back(id);
    });
    for (auto& t : tenants) {
      // Every session with an event, from the stream index (one used just
      // before a crash too).
      const std::string prefix = wa::stream_of(t, "");
      auto streams = store->log->streams_with_prefix(prefix);
      if (!streams) return fail("serve", streams.error().message(), exit_failure);
      for (auto& stream : *streams)
        (*rt)->read_whatsapp(t, stream.substr(prefix.size()), [](result<wa_view>) {});
    }
  }
  auto secret = jwt_secret(*cfg);
  if (!secret) return fail("serve", secret.error().message(), exit_failure);

  http::api_options ao;
  ao.admin_token = *token;
  ao.jwt_secret = *secret;
  ao.kdf_iterations = cfg->kdf_iterations;
  ao.kdf_threads = cfg->kdf_threads;
  ao.kdf_queue = cfg->kdf_queue;
  ao.auth_failures_per_minute = cfg->auth_failures_per_minute;
  ao.trust_proxy = cfg->trust_proxy;
  ao.cors_origins = cfg->cors_origins;
  ao.secure_cookies = cfg->public_host.rfind("https://", 0) == 0;
  ao.stripe_api_base = cfg->stripe_api_base;
  ao.stripe_secret_key = cfg->stripe_secret_key;
  ao.stripe_webhook_secret = cfg->stripe_webhook_secret;
  ao.data_dir = cfg->data_dir;
  ao.internal_secret = cfg->internal_secret;
  ao.baileys_base_url = cfg->baileys_base_url;
  ao.whatsapp_verify_token = cfg->whatsapp_verify_token;
  ao.whatsapp_app_secret = cfg->whatsapp_app_secret;
  ao.whatsapp_graph_base = cfg->whatsapp_graph_base;
  auto box = secrets_key(*cfg);
  if (!box) return fail("serve", box.error().message(), exit_failure);
  ao.secrets_key = *box;
  ao.public_host = cfg->public_host;
  ao.twilio_auth_token = cfg->twilio_auth_token;
  ao.twilio_account_sid = cfg->twilio_account_sid;
  ao.validate_twilio = cfg->validate_twilio;
  if (!cfg->validate_twilio)
    std::cerr << "crmd serve: WARNING: Twilio signatures are NOT checked (VALIDATE_TWILIO_SIGNATURE=false); "
                 "anyone can post fake calls. Development only."
              << std::endl;
  ao.calls.data_dir = cfg->data_dir;
  ao.calls.media.account_sid = cfg->twilio_account_sid;
  ao.calls.media.auth_token = cfg->twilio_auth_token;
  ao.calls.stt = {{"primary", cfg->stt_primary_url, cfg->stt_primary_key, cfg->stt_primary_model},
                  {"fallback", cfg->stt_fallback_url, cfg->stt_fallback_key, cfg->stt_fallback_model}};
  ao.calls.llm = {cfg->llm_url, cfg->llm_key, cfg->llm_model};
  ao.revision = CRMD_REVISION;
  ao.max_body = cfg->max_body;
  ao.consistency_wait = cfg->consistency_wait;
  http::api api({**rt, runner, *store->kv, *store->log}, ao);
  if (auto s = api.start(); !s) return fail("serve", "sessions: " + s.to_string(), exit_failure);

  http::server_options so;
  so.bind = cfg->bind;
  so.port = cfg->port;
  so.threads = cfg->http_threads;
  so.transport_body_limit = std::max<size_t>(cfg->max_body * 4, 8u << 20);
  so.answer_timeout = cfg->consistency_wait + std::chrono::seconds(5);
  so.timeout_response = [&api](const http::http_request& r) { return api.timeout_response(r); };
  so.revision = CRMD_REVISION;
  std::string err;
  auto server = http::start_server(so, [&api](http::http_request r, std::shared_ptr<http::responder> out) {
    api.handle(std::move(r), std::move(out));
  }, &err);
  if (!server) return fail("serve", err, exit_failure);

  std::cout << "crmd serve: listening on http://" << cfg->bind << ":" << server->port() << " (" << cfg->env
            << "), data directory " << cfg->data_dir << ", log position " << store->log->last_position()
            << std::endl;
  std::string url = "http://" + (cfg->bind == "0.0.0.0" ? std::string("127.0.0.1") : cfg->bind) + ":" +
                    std::to_string(server->port());
  if (auto s = write_server_file(cfg->data_dir, {static_cast<long>(::getpid()), url}); !s)
    std::cerr << "crmd serve: " << s.message() << " (CLI commands will not find this server)" << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  remove_server_file(cfg->data_dir);
  std::cout << "crmd serve: stopping on signal " << sig << std::endl;
  server->stop(std::chrono::seconds(5));  // stop accepting, finish what is owed
  api.stop();                             // logins and refreshes in flight
  (*rt)->stop();                          // actors finish their queued commands
  runner.stop();
  store->log.reset();  // drains the writer, closes the store
  std::cout << "crmd serve: stopped" << std::endl;
  return exit_ok;
}

}  // namespace crmd::cli
