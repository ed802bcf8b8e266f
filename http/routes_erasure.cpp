// POST /api/admin/tenants/{id}/subjects/{subject}/erase: a person's data
// erased on request (storage/erasure.hpp, docs/decisions.md).
#include <unistd.h>

#include <cstdio>

#include "actors/crm/contacts.hpp"
#include "http/api_internal.hpp"
#include "projections/calls_view.hpp"
#include "projections/runner.hpp"
#include "projections/views.hpp"
#include "storage/erasure.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"

namespace crmd::http {
namespace {

// Recording files of the contact's calls, deleted; how many.
uint64_t delete_recordings(const call_ptr& c, const std::string& tenant, const std::string& contact) {
  uint64_t n = 0;
  for (uint64_t page = 1;; ++page) {
    auto p = views::list_calls(c->ctx->deps.views, tenant, contact, page, 200);
    if (!p || p->items.empty()) break;
    for (auto& item : p->items) {
      auto j = json::parse(item, nullptr, false);
      if (!j.is_object() || !j.contains("recording") || !j["recording"].is_object()) continue;
      std::string file = j["recording"].value("file", "");
      // Only files crmd itself wrote: recordings/<tenant>/..., no way out.
      if (file.rfind("recordings/" + tenant + "/", 0) != 0 || file.find("..") != std::string::npos) continue;
      if (::unlink((c->ctx->opts.data_dir + "/" + file).c_str()) == 0) ++n;
    }
    if (p->items.size() < 200) break;
  }
  return n;
}

void erase(const call_ptr& c) {
  auto tenant = c->tenant_param("id");
  if (!tenant) return;
  std::string id = c->params["subject"];
  if (!crm::parse_contact_id(id)) return c->error(400, "invalid_field", "a subject is a lead or customer id such as L12");
  std::string subject = *tenant + "/lead/" + id;
  // 1. The tenant records the erasure and forgets the phone number.
  c->ctx->deps.rt.tenant_command(*tenant, crm::erase_contact{id}, c->who(), [c, tenant = *tenant, id, subject](
                                                                               result<command_ok> ok) {
    if (!ok) return c->fail(ok.error());
    c->ctx->note_position(c->principal_key(), ok->position);
    bool queued = c->ctx->io_pool->try_submit([c, tenant, id, subject, position = ok->position] {
      // 2. The list outside the database, then the key itself.
      if (auto s = append_erased(c->ctx->opts.data_dir, subject); !s) return c->fail(s);
      if (auto s = c->ctx->deps.log.erase_subject(subject); !s) return c->fail(s);
      // 3. Files named only by now-unreadable events.
      uint64_t files = delete_recordings(c, tenant, id);
      // 4. No old copy of the key in table files or the write-ahead log.
      if (auto s = c->ctx->deps.views.purge(); !s) return c->fail(s);
      // 5. The views fold the erased events again, as erased.
      json rebuilding = json::array();
      for (const auto& v : views::personal_data_views()) {
        auto s = c->ctx->deps.runner.start_rebuild(v);
        if (s || s.code() == errc::conflict) rebuilding.push_back(v);
      }
      std::fprintf(stderr, "crmd erasure: %s erased by %s (%llu recordings deleted)\n", subject.c_str(),
                   c->principal_key().c_str(), static_cast<unsigned long long>(files));
      c->send_json(200, {{"ok", true},
                         {"subject", subject},
                         {"position", position},
                         {"recordings_deleted", files},
                         {"rebuilding", rebuilding}});
    });
    if (!queued) c->error(503, "busy", "crmd is busy; retry shortly", {{"Retry-After", "1"}});
  });
}

}  // namespace

void add_erasure_routes(route_list& r) {
  r.push_back({"POST", "/api/admin/tenants/:id/subjects/:subject/erase", scope::system, {}, {}, erase});
}

}  // namespace crmd::http
