// GET /api/stream: Server-Sent Events of the caller's tenant (http/live.hpp).
#include "events/text.hpp"
#include "http/api_internal.hpp"

namespace crmd::http {

void add_live_routes(route_list& r) {
  r.push_back({"GET", "/api/stream", scope::tenant, identity::perm::crm_read, identity::module::crm,
               [](const call_ptr& c) {
                 // EventSource sends Last-Event-ID when it reconnects.
                 std::string last = c->req.header("Last-Event-ID");
                 if (last.empty())
                   if (auto it = c->query.find("last_event_id"); it != c->query.end()) last = it->second;
                 uint64_t after = 0;
                 if (!last.empty() && !parse_u64(last, after))
                   return c->error(400, "invalid_field", "Last-Event-ID must be a log position");
                 std::vector<std::pair<std::string, std::string>> headers{
                     {"Content-Type", "text/event-stream; charset=utf-8"}, {"Cache-Control", "no-store"},
                     {"X-Accel-Buffering", "no"}, {"X-Request-Id", c->request_id},
                     {"X-Revision", c->ctx->opts.revision}};
                 if (!c->cors_origin.empty()) {
                   headers.emplace_back("Access-Control-Allow-Origin", c->cors_origin);
                   headers.emplace_back("Access-Control-Allow-Credentials", "true");
                   headers.emplace_back("Vary", "Origin");
                 }
                 auto stream = c->out->start_stream(200, std::move(headers));
                 if (!stream) return c->error(500, "internal", "this connection cannot stream");
                 stream->write("retry: 3000\n: connected\n\n");
                 // Re-checked at every heartbeat: an expired or revoked token, a
                 // deleted user or a suspended tenant ends the stream.
                 auto* ctx = c->ctx;
                 c->ctx->live->subscribe(c->tenant, std::move(stream), after,
                                         [ctx, who = *c->who_, tenant = c->tenant] {
                                           return ctx->still_valid(who, tenant, identity::module::crm);
                                         });
               }});
}

}  // namespace crmd::http
