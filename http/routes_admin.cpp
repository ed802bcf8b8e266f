// Operations for auditors, operators and system admins: the audit trail and
// backups.
#include <cstdio>

#include "events/clock.hpp"
#include "events/time_format.hpp"
#include "http/api_internal.hpp"
#include "projections/audit_view.hpp"
#include "projections/runner.hpp"
#include "replay/as_of.hpp"
#include "storage/backup.hpp"
#include "storage/event_log.hpp"

namespace crmd::http {
namespace {

// The audit filter from the query; `tenant` fixed for owners. False when it
// answered 400/404.
bool audit_query(const call_ptr& c, const std::string& tenant, views::audit_filter& f) {
  auto q = [&](const char* k) { return c->query.count(k) ? c->query[k] : std::string(); };
  f.tenant = tenant;
  if (tenant.empty() && !q("tenant").empty()) {
    auto canonical = c->ctx->deps.rt.resolve_tenant(q("tenant"));
    if (!canonical) {
      c->error(404, "tenant_not_found", "no tenant '" + q("tenant").substr(0, 64) + "'");
      return false;
    }
    f.tenant = *canonical;
  }
  f.actor = q("actor");
  f.type = q("type");
  f.stream = q("stream");
  for (auto* s : {&f.actor, &f.type, &f.stream})
    if (s->size() > 256) {
      c->error(400, "invalid_field", "filters are at most 256 bytes");
      return false;
    }
  for (auto [name, field] : {std::pair{"from", &f.from_us}, std::pair{"to", &f.to_us}}) {
    if (q(name).empty()) continue;
    if (!parse_rfc3339(q(name), *field)) {
      c->error(400, "invalid_field", std::string("field '") + name + "' must be an RFC 3339 time such as 2026-11-30T08:00:00Z");
      return false;
    }
  }
  return true;
}

// The entry with its summary, made from the event as the log now reads it.
std::string with_summary(const call_ptr& c, const std::string& entry) {
  auto j = json::parse(entry, nullptr, false);
  if (!j.is_object()) return entry;
  auto ev = c->ctx->deps.log.read_all(j.value("position", uint64_t(0)), 1);
  if (ev && !ev->empty()) {
    auto& e = ev->front();
    j["summary"] = views::audit_summary(e.env.type, e.env.schema_version, e.payload, e.erased);
  } else {
    j["summary"] = j.value("type", "");
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void audit_page(const call_ptr& c, const std::string& tenant) {
  uint64_t page = 1, limit = 25;
  if (!c->paging(page, limit)) return;
  views::audit_filter f;
  if (!audit_query(c, tenant, f)) return;
  c->after_own_writes([c, f, page, limit] {
    bool queued = c->ctx->query_pool->try_submit([c, f, page, limit] {
      auto p = views::list_audit(c->ctx->deps.views, f, page, limit);
      if (!p) return c->fail(p.error());
      for (auto& item : p->items) item = with_summary(c, item);
      c->send_raw_json(200, page_json(p->items, p->total, page, limit));
    });
    if (!queued) c->error(503, "busy", "too many reads at once; retry shortly", {{"Retry-After", "1"}});
  });
}

// Every entry that passes the filter, newest first, one JSON object a line.
void audit_export(const call_ptr& c) {
  views::audit_filter f;
  if (!audit_query(c, "", f)) return;
  c->after_own_writes([c, f] {
    bool queued = c->ctx->query_pool->try_submit([c, f] {
      auto stream = c->out->start_stream(200, {{"Content-Type", "application/x-ndjson; charset=utf-8"},
                                               {"Content-Disposition", "attachment; filename=\"audit.jsonl\""},
                                               {"X-Request-Id", c->request_id},
                                               {"X-Revision", c->ctx->opts.revision},
                                               {"Cache-Control", "no-store"}});
      if (!stream) return;
      std::string out;
      bool open = true;
      auto s = views::scan_audit(c->ctx->deps.views, f, [&](const std::string& entry) {
        out += with_summary(c, entry) + "\n";
        if (out.size() < (64u << 10)) return true;
        open = stream->write(std::move(out));
        out.clear();
        return open;  // the client left: stop reading
      });
      if (!s) std::fprintf(stderr, "crmd http: audit export stopped: %s\n", s.to_string().c_str());
      if (open && !out.empty()) stream->write(std::move(out));
      stream->close();
    });
    if (!queued) c->error(503, "busy", "too many reads at once; retry shortly", {{"Retry-After", "1"}});
  });
}

json integrity_json(integrity_job& j) {
  std::lock_guard<std::mutex> lock(j.m);
  json out = {{"ok", true},
              {"state", j.state},
              {"checked", j.checked},
              {"total", j.total},
              {"started_at", j.started_us ? json(rfc3339(j.started_us)) : json(nullptr)},
              {"finished_at", j.finished_us ? json(rfc3339(j.finished_us)) : json(nullptr)},
              {"result", nullptr}};
  if (j.state == "done")
    out["result"] = {{"intact", j.report.ok},
                     {"events_checked", j.report.events_checked},
                     {"tenants", j.report.tenants},
                     {"first_bad_position", j.report.ok ? json(nullptr) : json(j.report.first_bad_position)},
                     {"tenant", j.report.ok ? json(nullptr) : json(j.report.tenant)},
                     {"reason", j.report.ok ? json(nullptr) : json(j.report.reason)}};
  if (j.state == "failed") out["error"] = j.error;
  return out;
}

// GET /api/admin/integrity: the same walk as `crmd verify`, online. The
// first call (or ?run=1 once a run has finished) starts one; every call
// answers its progress, then its result with the first bad position.
void integrity(const call_ptr& c) {
  auto& j = c->ctx->integrity;
  bool rerun = c->query.count("run") && c->query["run"] == "1";
  {
    std::lock_guard<std::mutex> lock(j.m);
    if (j.state == "idle" || (rerun && j.state != "running")) {
      if (j.worker.joinable()) j.worker.join();  // the last run, finished
      j.state = "running";
      j.checked = 0;
      j.total = c->ctx->deps.log.last_position();
      j.started_us = system_clock().now_us();
      j.finished_us = 0;
      j.cancel = false;
      auto* ctx = c->ctx;
      j.worker = std::thread([ctx] {
        auto& job = ctx->integrity;
        auto rep = verify_log(
            ctx->deps.log,
            [&job](uint64_t n) {
              std::lock_guard<std::mutex> lock(job.m);
              job.checked = n;
            },
            &job.cancel);
        std::lock_guard<std::mutex> lock(job.m);
        job.finished_us = system_clock().now_us();
        if (rep) {
          job.report = *rep;
          job.checked = rep->events_checked;
          job.state = "done";
          if (!rep->ok)
            std::fprintf(stderr, "crmd integrity: broken at position %llu (tenant %s): %s\n",
                         static_cast<unsigned long long>(rep->first_bad_position), rep->tenant.c_str(),
                         rep->reason.c_str());
        } else {
          job.error = rep.error().to_string();
          job.state = "failed";
        }
      });
    }
  }
  c->send_json(200, integrity_json(j));
}

// ?at=<RFC 3339> or ?position=N (or both: whichever comes first), ?limit=
// items per list (default 1000, at most 10000).
void as_of(const call_ptr& c) {
  auto id = c->tenant_param("id");
  if (!id) return;
  as_of_query q;
  q.tenant = *id;
  auto param = [&](const char* k) { return c->query.count(k) ? c->query[k] : std::string(); };
  if (param("at").empty() && param("position").empty())
    return c->error(400, "invalid_field", "give 'at' (RFC 3339) or 'position'");
  if (!param("at").empty() && !parse_rfc3339(param("at"), q.until_us))
    return c->error(400, "invalid_field", "field 'at' must be an RFC 3339 time such as 2026-11-30T08:00:00Z");
  if (!param("position").empty()) {
    char* end = nullptr;
    auto v = std::strtoull(param("position").c_str(), &end, 10);
    if (*end != '\0' || param("position")[0] == '-' || param("position").size() > 19)
      return c->error(400, "invalid_field", "field 'position' must be a log position");
    q.until_position = v;
  }
  if (!param("limit").empty()) {
    char* end = nullptr;
    auto v = std::strtoull(param("limit").c_str(), &end, 10);
    if (*end != '\0' || v < 1 || v > 10000) return c->error(400, "invalid_field", "field 'limit' must be 1..10000");
    q.limit = v;
  }
  bool queued = c->ctx->query_pool->try_submit([c, q] {
    auto out = tenant_as_of(c->ctx->deps.log, q);
    if (!out) return c->fail(out.error());
    c->send_raw_json(200, std::move(*out));
  });
  if (!queued) c->error(503, "busy", "too many reads at once; retry shortly", {{"Retry-After", "1"}});
}

json projections_json(const call_ptr& c) {
  uint64_t head = c->ctx->deps.log.last_position();
  json list = json::array();
  for (auto& [name, st] : c->ctx->deps.runner.views()) {
    json v = {{"name", name},
              {"position", st.position},
              {"lag", head - std::min(head, st.position)},
              {"generation", st.generation},
              {"error", st.error.empty() ? json(nullptr) : json(st.error)},
              {"rebuild", nullptr}};
    if (st.rebuild) {
      auto& r = *st.rebuild;
      v["rebuild"] = {{"running", r.running},
                      {"generation", r.generation},
                      {"processed", r.processed},
                      {"total", r.total},
                      {"rate", static_cast<uint64_t>(r.rate)},
                      {"eta_s", r.running ? json(static_cast<uint64_t>(r.eta_s + 0.5)) : json(nullptr)},
                      {"started_at", rfc3339(r.started_us)},
                      {"finished_at", r.finished_us ? json(rfc3339(r.finished_us)) : json(nullptr)},
                      {"error", r.error.empty() ? json(nullptr) : json(r.error)}};
    }
    list.push_back(v);
  }
  return {{"ok", true}, {"head", head}, {"projections", list}};
}

}  // namespace

void add_admin_routes(route_list& r) {
  // Each view's position, lag, generation and any rebuild's progress.
  r.push_back({"GET", "/api/admin/projections", scope::system, {}, {},
               [](const call_ptr& c) { c->send_json(200, projections_json(c)); }});
  // Builds the view again beside the live one and swaps it in when caught up.
  r.push_back({"POST", "/api/admin/projections/:name/rebuild", scope::system, {}, {}, [](const call_ptr& c) {
    auto name = c->params["name"];
    auto s = c->ctx->deps.runner.start_rebuild(name);
    if (s.code() == errc::not_found) return c->error(404, "view_not_found", "no view '" + name.substr(0, 64) + "'");
    if (s.code() == errc::conflict) return c->error(409, "rebuild_running", s.message());
    if (!s) return c->fail(s);
    std::fprintf(stderr, "crmd projections: rebuild of %s asked by %s\n", name.c_str(), c->principal_key().c_str());
    c->send_json(202, {{"ok", true}, {"view", name}, {"status", "/api/admin/projections"}});
  }});
  r.push_back({"GET", "/api/admin/tenants/:id/as_of", scope::system, {}, {}, as_of});
  r.push_back({"GET", "/api/admin/integrity", scope::system, {}, {}, integrity});
  // ?tenant=&actor=&type=&stream=&from=&to=&page=&limit=, newest first.
  r.push_back({"GET", "/api/admin/audit", scope::system, {}, {}, [](const call_ptr& c) { audit_page(c, ""); }});
  r.push_back({"GET", "/api/admin/audit.jsonl", scope::system, {}, {}, audit_export});
  // Owners: their own business's trail, same filters (tenant fixed).
  r.push_back({"GET", "/api/audit", scope::tenant, identity::perm::tenant_settings, identity::module::none,
               [](const call_ptr& c) { audit_page(c, c->tenant); }});

  // {"dir":"/abs/path"} -> a consistent backup there (storage/backup.hpp).
  // Operator token only: it writes a directory on the server's machine, which
  // is the operator's business (crmd backup calls it), not a web admin's.
  r.push_back({"POST", "/api/admin/backup", scope::system, {}, {}, [](const call_ptr& c) {
    if (!c->who_ || !c->who_->is_operator)
      return c->error(403, "forbidden", "backups are taken with the operator token (crmd backup)");
    auto body = c->json_body();
    if (!body) return;
    auto dir = string_field(c, *body, "dir", true);
    if (!dir) return;
    if (dir->empty() || dir->front() != '/' || dir->size() > 4096)
      return c->error(400, "invalid_field", "field 'dir' must be an absolute path");
    bool queued = c->ctx->io_pool->try_submit([c, dir = *dir] {
      auto r = make_backup(c->ctx->deps.views, c->ctx->opts.data_dir, dir);
      if (!r) {
        std::fprintf(stderr, "crmd backup: %s\n", r.error().message().c_str());
        if (r.error().reason() == "already_exists") return c->error(409, "already_exists", r.error().message());
        if (r.error().code() == errc::not_found) return c->error(400, "invalid_field", r.error().message());
        return c->fail(r.error());
      }
      std::fprintf(stderr, "crmd backup: written to %s (%llu files beside the checkpoint)\n", r->dir.c_str(),
                   static_cast<unsigned long long>(r->files));
      c->send_json(200, {{"ok", true}, {"dir", r->dir}, {"files", r->files}, {"bytes", r->bytes}});
    });
    if (!queued) c->error(503, "busy", "crmd is busy; retry shortly", {{"Retry-After", "1"}});
  }});
}

}  // namespace crmd::http
