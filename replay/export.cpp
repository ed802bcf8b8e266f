#include "replay/export.hpp"

#include <map>
#include <nlohmann/json.hpp>

#include "events/catalog.hpp"
#include "events/clock.hpp"
#include "events/record.hpp"
#include "events/time_format.hpp"
#include "storage/crypto.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;

json decoded(std::string_view type, uint16_t version, std::string_view plaintext) {
  auto r = catalog::payload_to_json(type, version, plaintext);
  if (!r) return nullptr;
  auto j = json::parse(*r, nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

}  // namespace

result<uint64_t> export_tenant(event_log& log, kv_store& kv, const std::string& tenant, std::ostream& out) {
  json head = nullptr;
  if (auto h = log.chain_head(tenant)) {
    head = {{"position", h->first}, {"link", crypto::to_hex(h->second)}};
  } else if (h.error().code() != errc::not_found) {
    return h.error();
  }
  out << json{{"format", "crmd-export/1"}, {"tenant", tenant}, {"exported_at", rfc3339(system_clock().now_us())},
              {"chain_head", head}}
             .dump()
      << "\n";
  std::string prev(crypto::sha256_size, '\0');
  std::map<std::string, bool> subjects;
  uint64_t n = 0;
  auto s = log.scan(1, [&](const log_entry& e) {
    const auto& r = e.record;
    if (r.tenant != tenant) return true;
    json line = {{"position", r.position},
                 {"stream", r.stream},
                 {"stream_seq", r.stream_seq},
                 {"type", r.type},
                 {"schema_version", r.schema_version},
                 {"recorded_at", rfc3339(r.recorded_at_us, 6)},
                 {"prev_link", crypto::to_hex(prev)},
                 {"link", crypto::to_hex(r.link)},
                 {"body", crypto::base64(r.body)},
                 {"subject", r.subject.empty() ? json(nullptr) : json(r.subject)},
                 {"erased", e.erased},
                 {"event", e.erased ? json(nullptr) : decoded(r.type, r.schema_version, e.payload)}};
    if (!r.subject.empty() && !e.erased) subjects[std::string(r.subject)] = true;
    out << line.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    prev = std::string(r.link);
    ++n;
    return bool(out);
  });
  if (!s) return s;
  for (auto& [subject, _] : subjects) {
    std::string key;
    if (!kv.get(cf::keys, subject, &key).is_ok()) continue;  // erased meanwhile
    out << json{{"subject_key", {{"subject", subject}, {"key", crypto::base64(key)}}}}.dump() << "\n";
  }
  if (!out) return status{errc::io_error, "cannot write the export"};
  return n;
}

export_check verify_export(std::istream& in) {
  export_check c;
  uint64_t line_no = 0;
  auto bad = [&](const std::string& why) {
    c.ok = false;
    c.bad_line = line_no;
    c.reason = why;
    return c;
  };
  std::string line, prev(crypto::sha256_size, '\0'), body;
  json head;
  uint64_t last_position = 0;
  std::vector<std::pair<uint64_t, json>> sealed;  // line, event line whose payload is encrypted
  std::vector<std::string> bodies;
  std::map<std::string, std::string> keys;
  while (std::getline(in, line)) {
    ++line_no;
    auto j = json::parse(line, nullptr, false);
    if (!j.is_object()) return bad("not a JSON object");
    if (line_no == 1) {
      if (j.value("format", "") != "crmd-export/1") return bad("not a crmd-export/1 file");
      head = j.value("chain_head", json(nullptr));
      continue;
    }
    if (j.contains("subject_key")) {
      auto key = crypto::from_base64(j["subject_key"].value("key", ""));
      if (!key) return bad("subject key is not base64");
      keys[j["subject_key"].value("subject", "")] = *key;
      continue;
    }
    auto decoded_body = crypto::from_base64(j.value("body", ""));
    if (!decoded_body) return bad("body is not base64");
    body = std::move(*decoded_body);
    if (crypto::from_hex(j.value("prev_link", "")) != prev) return bad("prev_link does not continue the chain");
    auto parsed_link = crypto::from_hex(j.value("link", ""));
    if (!parsed_link || parsed_link->size() != crypto::sha256_size) return bad("link is not 64 hex digits");
    std::string link = std::move(*parsed_link);
    if (crypto::sha256(prev, body) != link) return bad("link is not SHA-256(prev_link || body): altered bytes");
    // The envelope fields of the line must be the hashed ones.
    auto rec = parse_record(frame_record(body, link));
    if (!rec) return bad("body does not parse: " + rec.error().message());
    if (rec->position != j.value("position", uint64_t(0)) || rec->position <= last_position)
      return bad("position differs from the hashed bytes or goes backwards");
    if (rec->stream != j.value("stream", "") || rec->type != j.value("type", "") ||
        rec->schema_version != j.value("schema_version", 0) || rec->stream_seq != j.value("stream_seq", uint64_t(0)) ||
        rfc3339(rec->recorded_at_us, 6) != j.value("recorded_at", ""))
      return bad("stream, type, version, sequence or time differ from the hashed bytes");
    bool erased = j.value("erased", false);
    if (!rec->encrypted()) {
      if (decoded(rec->type, rec->schema_version, rec->payload) != j["event"])
        return bad("event is not what the hashed payload decodes to");
    } else if (erased) {
      c.erased++;
    } else {
      sealed.push_back({line_no, j});
      bodies.push_back(body);
    }
    prev = link;
    last_position = rec->position;
    c.events++;
  }
  // Encrypted payloads: the subject keys come at the end of the file.
  for (size_t i = 0; i < sealed.size(); ++i) {
    line_no = sealed[i].first;
    auto& j = sealed[i].second;
    auto rec = parse_record(frame_record(bodies[i], std::string(crypto::sha256_size, '\0')), false);
    auto key = keys.find(std::string(rec->subject));
    if (key == keys.end()) return bad("no key for subject " + std::string(rec->subject));
    std::string plain;
    if (!crypto::open_into(key->second, rec->payload, rec->subject, plain))
      return bad("the payload does not decrypt with its subject's key");
    if (decoded(rec->type, rec->schema_version, plain) != j["event"])
      return bad("event is not what the decrypted payload decodes to");
    c.decrypted++;
  }
  line_no = 0;
  if (head.is_null()) {
    if (c.events) return bad("events but no chain head");
  } else {
    if (head.value("position", uint64_t(0)) != last_position || crypto::from_hex(head.value("link", "")) != prev)
      return bad("the last event is not the chain head: events are missing at the end");
  }
  return c;
}

}  // namespace crmd
