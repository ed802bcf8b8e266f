// GET /health and /api/health: open to everyone, hand-formatted (polled often).
#include "http/api_internal.hpp"
#include "projections/runner.hpp"
#include "storage/event_log.hpp"

namespace crmd::http {

void add_health_routes(route_list& r) {
  // Hand-formatted: /health is the most frequently polled route.
  auto health = [](const call_ptr& c, bool with_log) {
    auto& deps = c->ctx->deps;
    uint64_t head = deps.log.last_position();
    std::string views;
    for (auto& [name, st] : deps.runner.views()) {
      views += (views.empty() ? "\"" : ",\"") + name + "\":{\"position\":" + std::to_string(st.position) +
               ",\"lag\":" + std::to_string(head - std::min(head, st.position));
      if (!st.error.empty()) views += ",\"error\":" + json(st.error).dump();
      views += "}";
    }
    auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - c->ctx->started);
    std::string log;
    if (with_log) {  // group-commit statistics, for operators (crmd status)
      auto ls = deps.log.stats();
      auto per_batch = [&](uint64_t v) { return std::to_string(ls.batches ? v / ls.batches : 0); };
      log = ",\"log\":{\"batches\":" + std::to_string(ls.batches) + ",\"events\":" + std::to_string(ls.events) +
            ",\"decide_us_per_batch\":" + per_batch(ls.decide_us) +
            ",\"write_us_per_batch\":" + per_batch(ls.write_us) + "}" +
            ",\"auth\":{\"password_checks\":" + std::to_string(c->ctx->kdf_runs.load()) + "}";
    }
    static const std::string revision = json(c->ctx->opts.revision).dump();
    c->send_raw_json(200, "{\"ok\":true,\"revision\":" + revision + ",\"uptime_s\":" +
                              std::to_string(up.count()) + ",\"log_position\":" + std::to_string(head) + log +
                              ",\"projections\":{" + views + "}}");
  };
  r.push_back({"GET", "/health", scope::open, {}, {}, [health](const call_ptr& c) { health(c, false); }});
  r.push_back({"GET", "/api/health", scope::open, {}, {}, [health](const call_ptr& c) { health(c, true); }});
}

}  // namespace crmd::http
