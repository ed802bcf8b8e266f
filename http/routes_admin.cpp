// Operations for operators and system admins: backups (more to come: audit,
// stats, integrity, rebuilds).
#include <cstdio>

#include "http/api_internal.hpp"
#include "storage/backup.hpp"

namespace crmd::http {

void add_admin_routes(route_list& r) {
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
