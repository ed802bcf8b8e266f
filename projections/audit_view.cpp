#include "projections/audit_view.hpp"

#include <nlohmann/json.hpp>

#include "events/catalog.hpp"
#include "events/time_format.hpp"
#include "projections/json_out.hpp"
#include "projections/view_util.hpp"

namespace crmd::views {
namespace {

using json = nlohmann::json;
using util::bump;

class audit_view : public projection {
 public:
  const char* name() const override { return "audit"; }

  // An entry is made of the record's envelope alone.
  bool needs_payload(std::string_view) const override { return false; }

  status apply(const log_entry& e, view_txn& t) override {
    const auto& r = e.record;
    std::string entry;
    json_out(entry)
        .str("actor", r.causer)
        .str("at", rfc3339(r.recorded_at_us, 6))
        .str_or_null("client", r.client)
        .str_or_null("impersonator", r.impersonator)
        .num("position", r.position)
        .str_or_null("request_id", r.request_id)
        .str("stream", r.stream)
        .str("tenant", r.tenant)
        .str("type", r.type)
        .close();
    std::string at = be64(~r.position);
    // One entry per position, never read back while folding: write-once.
    t.put_new("a/" + at, entry);
    bump(t, "#a");
    std::string tenant(r.tenant);
    t.put_new("t/" + tenant + "/" + at, "");
    bump(t, "#t/" + tenant);
    return status::ok();
  }
};

std::string key(const std::string& rest) { return view_prefix("audit") + rest; }

uint64_t count(kv_store& kv, const std::string& k) {
  std::string v;
  return kv.get(cf::projections, key(k), &v).is_ok() && v.size() == 8 ? read_be64(v) : 0;
}

bool passes(const audit_filter& f, const json& j) {
  if (!f.actor.empty() && j.value("actor", "") != f.actor) return false;
  if (!f.type.empty() && j.value("type", "") != f.type) return false;
  if (!f.stream.empty()) {
    std::string s = j.value("stream", "");
    if (f.stream.back() == '/' ? s.rfind(f.stream, 0) != 0 : s != f.stream) return false;
  }
  if (f.from_us != std::numeric_limits<int64_t>::min() || f.to_us != std::numeric_limits<int64_t>::max()) {
    int64_t us = 0;
    if (!parse_rfc3339(j.value("at", ""), us) || us < f.from_us || us >= f.to_us) return false;
  }
  return true;
}

// Fields a summary may show: identifiers, states, codes and amounts. Names,
// phones, e-mail addresses, titles and texts never appear.
bool safe_field(const std::string& k) {
  static const char* names[] = {"status", "stage", "role", "cause", "source", "provider", "whatsapp_provider", "amount",
                                "currency", "state", "removed", "number", "code", "direction", "duration", "module",
                                "modules", "generation", "history", "from_me", "attempts", "stages"};
  if (k == "id" || (k.size() > 3 && k.compare(k.size() - 3, 3, "_id") == 0)) return true;
  for (const char* n : names)
    if (k == n) return true;
  return false;
}

}  // namespace

std::unique_ptr<projection> make_audit_view() { return std::make_unique<audit_view>(); }

status scan_audit(kv_store& kv, const audit_filter& f, const std::function<bool(const std::string& entry)>& visit) {
  std::string prefix = f.tenant.empty() ? key("a/") : key("t/" + f.tenant + "/");
  // Filters have no early stop, so a page may read much of the trail: bulk.
  auto it = kv.scan_bulk(cf::projections, prefix, util::upper_of(prefix));
  std::string entry;
  for (; it->valid(); it->next()) {
    if (f.tenant.empty()) {
      entry.assign(it->value());
    } else {
      auto at = it->key().substr(prefix.size());
      auto s = kv.get(cf::projections, key("a/" + std::string(at)), &entry);
      if (s.code() == errc::not_found) continue;
      if (!s) return s;
    }
    if (f.any()) {
      auto j = json::parse(entry, nullptr, false);
      // No early stop at `from`: the log's clock may have stepped back.
      if (!j.is_object() || !passes(f, j)) continue;
    }
    if (!visit(entry)) return status::ok();
  }
  return it->error();
}

result<page> list_audit(kv_store& kv, const audit_filter& f, uint64_t page_no, uint64_t limit) {
  page out;
  uint64_t skip = (page_no - 1) * limit, seen = 0;
  if (!f.any()) out.total = count(kv, f.tenant.empty() ? "#a" : "#t/" + f.tenant);
  auto s = scan_audit(kv, f, [&](const std::string& entry) {
    if (seen >= skip && out.items.size() < limit) out.items.push_back(entry);
    ++seen;
    return f.any() || out.items.size() < limit;  // filtered: count them all
  });
  if (!s) return s;
  if (f.any()) out.total = seen;
  return out;
}

std::string audit_summary(std::string_view type, uint16_t schema_version, std::string_view payload, bool erased) {
  std::string out(type);
  if (erased) return out + " (erased subject)";
  auto rendered = catalog::payload_to_json(type, schema_version, payload);
  if (!rendered) return out;
  auto j = json::parse(*rendered, nullptr, false);
  if (!j.is_object()) return out;
  std::string parts;
  for (auto& [k, v] : j.items()) {
    if (!safe_field(k) || v.is_null() || v.is_object()) continue;
    std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    if (text.empty()) continue;
    if (text.size() > 64) text = text.substr(0, 61) + "...";
    parts += (parts.empty() ? "" : ", ") + k + "=" + text;
  }
  return parts.empty() ? out : out + ": " + parts;
}

}  // namespace crmd::views
