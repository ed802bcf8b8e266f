// documents  v/documents/<t>/<kind>/r/<id>               JSON (kind: contract, invoice, signature, deal)
//            v/documents/<t>/<kind>/o/<owner>/<id>        index by customer (contracts, invoices)
//                                                          or by contract (signatures)
//            v/documents/<t>/<kind>/#                      count (u64be)
//            v/documents/<t>/invoice/#paid/<currency>      paid invoices' amounts, minor units (u64be): admin stats
// Ids sort by number because they are stored as be64 of their number.
#include <functional>
#include <nlohmann/json.hpp>

#include "actors/crm/documents.hpp"
#include "events/codec.hpp"
#include "events/time_format.hpp"
#include "projections/documents_view.hpp"
#include "projections/view_util.hpp"

namespace crmd::views {
namespace {

using json = nlohmann::json;
using util::bump;
using util::dump;
using util::upper_of;

char prefix_of(const std::string& kind) {
  return kind == "contract" ? 'C' : kind == "invoice" ? 'I' : kind == "deal" ? 'D' : 'S';
}
std::optional<std::string> row(const std::string& kind, const std::string& id) {
  auto n = crm::parse_number(id, prefix_of(kind));
  if (!n) return std::nullopt;
  return be64(*n);
}

class documents_view : public projection {
 public:
  const char* name() const override { return "documents"; }
  bool folds(std::string_view type) const override {
    return type.rfind("contract_", 0) == 0 || type.rfind("invoice_", 0) == 0 || type == "signature_recorded" ||
           type.rfind("deal_", 0) == 0;
  }
  status apply(const log_entry& e, view_txn& t) override {
    const auto& r = e.record;
    if (!folds(r.type)) return status::ok();
    std::string base = std::string(r.tenant) + "/";
    if (e.erased) return status::ok();  // a signature's evidence is gone with its signer's key
    auto ev = codec::decode<ev::tenant_event>(r.type, r.schema_version, e.payload);
    if (!ev) return ev.error();
    std::string when = rfc3339(r.recorded_at_us);
    auto create = [&](const std::string& kind, const std::string& id, const std::string& owner, json j) {
      auto k = row(kind, id);
      if (!k) return status{errc::corruption, "malformed " + kind + " id " + id};
      j["created_at"] = when;
      j["updated_at"] = when;
      j["position"] = r.position;
      t.put(base + kind + "/r/" + *k, dump(j));
      t.put(base + kind + "/o/" + owner + "/" + *k, "");
      bump(t, base + kind + "/#");
      return status::ok();
    };
    auto change = [&](const std::string& kind, const std::string& id, const std::function<void(json&)>& f) {
      auto k = row(kind, id);
      if (!k) return status::ok();
      auto cur = t.get(base + kind + "/r/" + *k);
      if (!cur) return status::ok();
      auto j = json::parse(*cur, nullptr, false);
      if (!j.is_object()) return status{errc::corruption, "malformed " + kind + " view entry"};
      f(j);
      j["updated_at"] = when;
      j["position"] = r.position;
      t.put(base + kind + "/r/" + *k, dump(j));
      return status::ok();
    };
    if (auto* x = std::get_if<ev::contract_created>(&*ev))
      return create("contract", x->contract_id, x->customer_id,
                    {{"id", x->contract_id}, {"customer_id", x->customer_id}, {"title", x->title},
                     {"document_url", x->document_url}, {"status", "draft"}});
    if (auto* x = std::get_if<ev::contract_status_changed>(&*ev))
      return change("contract", x->contract_id, [&](json& j) {
        j["status"] = x->status;
        j[x->status + "_at"] = when;
      });
    if (auto* x = std::get_if<ev::signature_recorded>(&*ev))
      return create("signature", x->signature_id, x->contract_id,
                    {{"id", x->signature_id}, {"contract_id", x->contract_id}, {"customer_id", x->customer_id},
                     {"signer_name", x->signer_name}, {"signer_email", x->signer_email},
                     {"document_sha256", x->document_sha256}, {"client_address", x->client_address},
                     {"user_agent", x->user_agent}, {"signed_at", when}});
    if (auto* x = std::get_if<ev::invoice_created>(&*ev)) {
      json lines = json::array();
      for (size_t i = 0; i < x->line_descriptions.size(); ++i)
        lines.push_back({{"description", x->line_descriptions[i]}, {"quantity", x->line_quantities.at(i)},
                         {"unit_amount", x->line_unit_amounts.at(i)},
                         {"amount", x->line_quantities.at(i) * x->line_unit_amounts.at(i)}});
      return create("invoice", x->invoice_id, x->customer_id,
                    {{"id", x->invoice_id}, {"customer_id", x->customer_id}, {"currency", x->currency},
                     {"lines", lines}, {"total", x->total}, {"status", "pending"},
                     {"due_at", x->due_us > 0 ? json(rfc3339(x->due_us)) : json(nullptr)},
                     {"pdf_url", x->pdf_url.empty() ? json(nullptr) : json(x->pdf_url)}});
    }
    if (auto* x = std::get_if<ev::deal_created>(&*ev))
      return create("deal", x->deal_id, x->contact_id,
                    {{"id", x->deal_id}, {"customer_id", x->contact_id}, {"title", x->title}, {"amount", x->amount},
                     {"currency", x->currency}, {"stage", x->stage}, {"status", "open"},
                     {"expected_close_at", x->expected_close_us > 0 ? json(rfc3339(x->expected_close_us)) : json(nullptr)}});
    if (auto* x = std::get_if<ev::deal_updated>(&*ev))
      return change("deal", x->deal_id, [&](json& j) {
        if (x->title) j["title"] = *x->title;
        if (x->currency) j["currency"] = *x->currency;
        if (x->stage) j["stage"] = *x->stage;
        if (x->amount) j["amount"] = *x->amount;
        if (x->expected_close_us) j["expected_close_at"] = rfc3339(*x->expected_close_us);
      });
    if (auto* x = std::get_if<ev::deal_closed>(&*ev))
      return change("deal", x->deal_id, [&](json& j) {
        j["status"] = x->won ? "won" : "lost";
        j["closed_at"] = when;
      });
    if (auto* x = std::get_if<ev::invoice_status_changed>(&*ev))
      return change("invoice", x->invoice_id, [&](json& j) { j["status"] = x->status; });
    if (auto* x = std::get_if<ev::invoice_paid>(&*ev)) {
      // Counted when the entry turns paid, so the sum always matches the
      // entries that say "paid" (the decider pays an invoice once anyway).
      bool newly_paid = false;
      auto s = change("invoice", x->invoice_id, [&](json& j) {
        newly_paid = j.value("status", "") != "paid";
        j["status"] = "paid";
        j["paid_at"] = when;
        j["payment"] = {{"provider", x->provider}, {"payment_id", x->payment_id}, {"amount", x->amount},
                        {"currency", x->currency}};
      });
      if (s && newly_paid && x->amount > 0) bump(t, base + "invoice/#paid/" + x->currency, x->amount);
      return s;
    }
    return status::ok();
  }
};

std::string key(const std::string& rest) { return view_prefix("documents") + rest; }

}  // namespace

std::unique_ptr<projection> make_documents_view() { return std::make_unique<documents_view>(); }

result<page> list_documents(kv_store& kv, const std::string& tenant, const std::string& kind, const std::string& owner,
                            uint64_t page_no, uint64_t limit) {
  page out;
  uint64_t skip = (page_no - 1) * limit;
  std::string base = key(tenant + "/" + kind + "/");
  std::string prefix = owner.empty() ? base + "r/" : base + "o/" + owner + "/";
  if (owner.empty()) {
    std::string c;
    if (kv.get(cf::projections, base + "#", &c).is_ok() && c.size() == 8) out.total = read_be64(c);
  }
  auto it = kv.scan(cf::projections, prefix, upper_of(prefix));
  for (; it->valid(); it->next()) {
    if (!owner.empty()) ++out.total;
    if (skip > 0) {
      --skip;
      continue;
    }
    if (out.items.size() >= limit) {
      if (owner.empty()) break;
      continue;
    }
    if (owner.empty()) {
      out.items.emplace_back(it->value());
    } else {
      std::string v;
      auto k = it->key();
      if (kv.get(cf::projections, base + "r/" + std::string(k.substr(k.size() - 8)), &v).is_ok())
        out.items.push_back(std::move(v));
    }
  }
  if (auto e = it->error(); !e) return e;
  return out;
}

result<std::map<std::string, uint64_t>> paid_revenue(kv_store& kv, const std::string& tenant) {
  std::map<std::string, uint64_t> out;
  std::string prefix = key(tenant + "/invoice/#paid/");
  auto it = kv.scan(cf::projections, prefix, upper_of(prefix));  // one key per currency
  for (; it->valid(); it->next())
    if (it->value().size() == 8) out[std::string(it->key().substr(prefix.size()))] = read_be64(it->value());
  if (auto e = it->error(); !e) return e;
  return out;
}

result<std::optional<std::string>> get_document(kv_store& kv, const std::string& tenant, const std::string& kind,
                                                const std::string& id) {
  auto k = row(kind, id);
  if (!k) return std::optional<std::string>{};
  std::string v;
  auto s = kv.get(cf::projections, key(tenant + "/" + kind + "/r/" + *k), &v);
  if (s.code() == errc::not_found) return std::optional<std::string>{};
  if (!s) return s;
  return std::optional<std::string>{std::move(v)};
}

}  // namespace crmd::views
