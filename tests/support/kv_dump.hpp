// Whole kv stores in tests: copying families between stores, finding the
// first difference of a family, and a reviewable text form of every family
// (JSON lines with base64 keys and values) for fixture logs.
//
// Text form, one line per key in family order, then key order:
//   {"cf":"events","key":"<base64>","value":"<base64>", ...notes}
// Lines of the `events` family also carry "position", "stream", "type" and
// "schema_version" as notes for reviewers; load_families() checks them
// against the record, so a note can never disagree with the bytes.
#pragma once

#include <istream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>

#include "events/record.hpp"
#include "storage/crypto.hpp"
#include "storage/kv.hpp"

namespace crmd::test {

inline std::string base64(std::string_view in) { return crypto::base64(in); }

// Strict: padded, no whitespace; false for anything else.
inline bool unbase64(std::string_view in, std::string& out) {
  auto d = crypto::from_base64(in);
  if (!d) return false;
  out = std::move(*d);
  return true;
}

// Copies every key of `family` from `from` into `to`, in batches.
inline status copy_family(kv_store& from, kv_store& to, cf family) {
  auto it = from.scan(family, "", "");
  while (it->valid()) {
    auto b = to.new_batch();
    for (size_t n = 0; it->valid() && n < 4096; it->next(), ++n) b->put(family, it->key(), it->value());
    if (auto s = to.write(*b, false); !s) return s;
  }
  return it->error();
}

// "" when `family` holds the same keys and values in both stores, else the
// first key (in key order) where they differ, printably escaped.
inline std::string first_difference(kv_store& a, kv_store& b, cf family) {
  auto printable = [](std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
      if (c >= 0x20 && c < 0x7f && c != '\\') out += char(c);
      else out += "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
    }
    return out;
  };
  auto x = a.scan(family, "", ""), y = b.scan(family, "", "");
  for (; x->valid() && y->valid(); x->next(), y->next()) {
    if (x->key() != y->key()) {
      auto first = std::min(x->key(), y->key());
      return printable(first) + " (only in the " + (first == x->key() ? "first" : "second") + " store)";
    }
    if (x->value() != y->value())
      return printable(x->key()) + ": " + printable(x->value()) + " != " + printable(y->value());
  }
  if (x->valid()) return printable(x->key()) + " (only in the first store)";
  if (y->valid()) return printable(y->key()) + " (only in the second store)";
  return {};
}

inline void dump_families(kv_store& kv, std::ostream& out) {
  for (int f = 0; f < cf_count; ++f) {
    auto it = kv.scan(cf(f), "", "");
    for (; it->valid(); it->next()) {
      nlohmann::ordered_json j = {{"cf", cf_name(cf(f))}, {"key", base64(it->key())}, {"value", base64(it->value())}};
      if (cf(f) == cf::events)
        if (auto r = parse_record(it->value())) {
          j["position"] = r->position;
          j["stream"] = std::string(r->stream);
          j["type"] = std::string(r->type);
          j["schema_version"] = r->schema_version;
        }
      out << j.dump() << "\n";
    }
  }
}

// Loads dump_families() output into `kv` (which should be empty).
inline status load_families(std::istream& in, kv_store& kv) {
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto bad = [&](const std::string& why) { return status{errc::corruption, "line " + std::to_string(n) + ": " + why}; };
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) return bad("not a JSON object");
    int family = -1;
    for (int f = 0; f < cf_count; ++f)
      if (j.value("cf", "") == cf_name(cf(f))) family = f;
    if (family < 0) return bad("unknown family");
    std::string key, value;
    if (!unbase64(j.value("key", ""), key) || !unbase64(j.value("value", ""), value)) return bad("not base64");
    if (cf(family) == cf::events) {
      auto r = parse_record(value);
      if (!r) return bad("event record: " + r.error().to_string());
      if (j.value("position", uint64_t(0)) != r->position || j.value("stream", "") != r->stream ||
          j.value("type", "") != r->type || j.value("schema_version", 0) != r->schema_version)
        return bad("notes disagree with the record");
    }
    auto b = kv.new_batch();
    b->put(cf(family), key, value);
    if (auto s = kv.write(*b, false); !s) return s;
  }
  return status::ok();
}

}  // namespace crmd::test
