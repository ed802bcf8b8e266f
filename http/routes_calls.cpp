// Phone calls (/api/calls): the tenant's calls from the calls view, a call's
// transcript and summary, and its recording (audio/mpeg, with byte ranges so
// a browser's <audio> can seek). Every read names the tenant in the view key,
// so a CallSid of another tenant is simply not found.
#include <filesystem>
#include <fstream>

#include "http/api_internal.hpp"
#include "http/byte_range.hpp"
#include "projections/calls_view.hpp"

namespace crmd::http {
namespace {

using identity::perm;
constexpr auto calls_module = identity::module::calls;

void not_found(const call_ptr& c) { c->error(404, "call_not_found", "no call '" + c->params["sid"] + "'"); }

// A contact id from the query: short and without '/' (it is part of a view key).
bool contact_param(const call_ptr& c, const char* name, std::string& out) {
  auto it = c->query.find(name);
  if (it == c->query.end() || it->second.empty()) return true;
  if (it->second.size() > 64 || it->second.find('/') != std::string::npos) {
    c->error(400, "invalid_field", std::string("field '") + name + "' is not a contact id");
    return false;
  }
  if (!out.empty() && out != it->second) {
    c->error(400, "invalid_field", "send customer_id or lead_id, not two different ones");
    return false;
  }
  out = it->second;
  return true;
}

// The recording's file relative to the data directory, as the call JSON has
// it; empty unless it is downloaded and the path stays inside the tenant's
// recordings directory.
std::string recording_file(const std::string& call_json, const std::string& tenant) {
  auto j = json::parse(call_json, nullptr, false);
  if (!j.is_object() || !j.contains("recording") || !j["recording"].is_object()) return {};
  auto& r = j["recording"];
  if (r.value("state", "") != "downloaded" || !r.contains("file") || !r["file"].is_string()) return {};
  std::string file = r["file"];
  std::string dir = "recordings/" + tenant + "/";
  if (file.find("..") != std::string::npos || file.empty() || file[0] == '/' || file.rfind(dir, 0) != 0 ||
      file.find('\0') != std::string::npos)
    return {};
  return file;
}

// On the query pool: the file's bytes (or the asked range) as the answer.
void send_recording(const call_ptr& c, const std::string& path) {
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory)
      return c->error(404, "recording_not_found", "the recording's file is not there");
    return c->error(500, "storage_error", "cannot read the recording: " + ec.message());
  }
  auto range = parse_byte_range(c->req.header("Range"), size);
  if (range.kind == byte_range::unsatisfiable)
    return c->error(416, "range_not_satisfiable", "the recording has " + std::to_string(size) + " bytes",
                    {{"Content-Range", "bytes */" + std::to_string(size)}, {"Accept-Ranges", "bytes"}});
  uint64_t first = range.kind == byte_range::part ? range.first : 0;
  uint64_t count = range.kind == byte_range::part ? range.last - range.first + 1 : size;
  std::ifstream in(path, std::ios::binary);
  std::string body(count, '\0');
  if (in) in.seekg(static_cast<std::streamoff>(first));
  if (!in || !in.read(body.data(), static_cast<std::streamsize>(count)))
    return c->error(500, "storage_error", "cannot read the recording");
  std::vector<std::pair<std::string, std::string>> extra{{"Accept-Ranges", "bytes"}};
  if (range.kind != byte_range::part) return c->send_body(200, std::move(body), "audio/mpeg", std::move(extra));
  extra.emplace_back("Content-Range", "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
                                          std::to_string(size));
  c->send_body(206, std::move(body), "audio/mpeg", std::move(extra));
}

}  // namespace

void add_call_routes(route_list& r) {
  // ?customer_id= or ?lead_id=: the calls that reached that contact (a lead
  // keeps its id when it becomes a customer, so both name the same list).
  r.push_back({"GET", "/api/calls", scope::tenant, perm::crm_read, calls_module, [](const call_ptr& c) {
    uint64_t page = 1, limit = 25;
    if (!c->paging(page, limit)) return;
    std::string contact;
    if (!contact_param(c, "customer_id", contact) || !contact_param(c, "lead_id", contact)) return;
    c->after_own_writes([c, contact, page, limit] {
      auto p = views::list_calls(c->ctx->deps.views, c->tenant, contact, page, limit);
      if (!p) return c->fail(p.error());
      c->send_raw_json(200, page_json(p->items, p->total, page, limit));
    });
  }});

  r.push_back({"GET", "/api/calls/:sid", scope::tenant, perm::crm_read, calls_module, [](const call_ptr& c) {
    c->after_own_writes([c] {
      auto v = views::get_call(c->ctx->deps.views, c->tenant, c->params["sid"]);
      if (!v) return c->fail(v.error());
      if (!*v) return not_found(c);
      c->send_raw_json(200, "{\"ok\":true,\"call\":" + **v + "}");
    });
  }});

  r.push_back({"GET", "/api/calls/:sid/transcript", scope::tenant, perm::crm_read, calls_module,
               [](const call_ptr& c) {
    c->after_own_writes([c] {
      auto& kv = c->ctx->deps.views;
      auto v = views::get_call(kv, c->tenant, c->params["sid"]);
      if (!v) return c->fail(v.error());
      if (!*v) return not_found(c);
      auto x = views::get_transcript(kv, c->tenant, c->params["sid"]);
      if (!x) return c->fail(x.error());
      json out = {{"ok", true}, {"text", nullptr}, {"language", nullptr}, {"provider", nullptr}, {"summary", nullptr}};
      if (*x) {
        auto j = json::parse(**x, nullptr, false);
        if (!j.is_object()) return c->error(500, "storage_error", "malformed transcript view entry");
        for (const char* k : {"text", "language", "provider", "summary"})
          if (j.contains(k)) out[k] = j[k];
      }
      c->send_json(200, out);
    });
  }});

  // The file is read on the query pool: recordings are megabytes, and an
  // HTTP thread must not wait on the disk.
  r.push_back({"GET", "/api/calls/:sid/recording", scope::tenant, perm::crm_read, calls_module,
               [](const call_ptr& c) {
    c->after_own_writes([c] {
      auto v = views::get_call(c->ctx->deps.views, c->tenant, c->params["sid"]);
      if (!v) return c->fail(v.error());
      if (!*v) return not_found(c);
      std::string file = recording_file(**v, c->tenant);
      if (file.empty()) return c->error(404, "recording_not_found", "the call has no downloaded recording");
      std::string path = (std::filesystem::path(c->ctx->opts.data_dir) / file).string();
      bool queued = c->ctx->query_pool->try_submit([c, path] { send_recording(c, path); });
      if (!queued) c->error(503, "busy", "too many reads at once; retry shortly", {{"Retry-After", "1"}});
    });
  }});
}

}  // namespace crmd::http
