// The read side of the event log: record parsing, decryption with the
// subject key cache, and the index scans. Shared by the writer (keys) and
// every reader thread.
#include "storage/log_reader.hpp"

#include <algorithm>
#include <mutex>

#include "storage/crypto.hpp"

namespace crmd {

using namespace log_keys;

log_reader::log_reader(std::shared_ptr<kv_store> kv) : kv_(std::move(kv)) {}

void log_reader::remember_keys(const std::unordered_map<std::string, std::string>& fresh) {
  std::unique_lock lock(keys_mu_);
  for (auto& [k, v] : fresh) keys_[k] = v;
}

void log_reader::forget_key(const std::string& subject) {
  std::unique_lock lock(keys_mu_);
  erased_.insert(subject);
  keys_.erase(subject);
}

result<std::vector<stored_event>> log_reader::read_stream(const std::string& stream, uint64_t from_seq,
                                              size_t max) {
  std::vector<stored_event> out;
  // A stream's sequence numbers are dense from 1, so when `from_seq` has no
  // index entry nothing after it has one either. A point read says so
  // through the bloom filters without building an iterator: what every new
  // actor's recovery (a new call, a new session) asks.
  if (from_seq >= 1) {
    std::string first;
    auto s = kv_->get(cf::streams, stream_key(stream, from_seq), &first);
    if (s.code() == errc::not_found) return out;
    if (!s) return s;
  }
  auto it = kv_->scan(cf::streams, stream_key(stream, from_seq), stream_upper(stream));
  for (; it->valid() && out.size() < max; it->next()) {
    if (it->value().size() != 8) return status{errc::corruption, "malformed stream index entry"};
    uint64_t pos = read_be64(it->value());
    std::string stored;
    auto s = kv_->get(cf::events, be64(pos), &stored);
    if (!s) {
      if (s.code() == errc::not_found)
        return status{errc::corruption, "stream index names missing position " + std::to_string(pos)};
      return s;
    }
    auto ev = materialize(pos, stored);
    if (!ev) return ev.error();
    out.push_back(std::move(*ev));
  }
  if (auto s = it->error(); !s) return s;
  return out;
}

result<std::vector<stored_event>> log_reader::read_all(uint64_t from, size_t max) {
  std::vector<stored_event> out;
  auto it = kv_->scan(cf::events, be64(from), "");
  for (; it->valid() && out.size() < max; it->next()) {
    auto ev = materialize(key_position(it->key()), it->value());
    if (!ev) return ev.error();
    out.push_back(std::move(*ev));
  }
  if (auto s = it->error(); !s) return s;
  return out;
}

status log_reader::scan(uint64_t from, const event_log::scan_visitor& visit, const event_log::type_filter* wanted) {
  auto it = kv_->scan_bulk(cf::events, be64(from), "");
  std::string plain;
  record_view rec;
  for (; it->valid(); it->next()) {
    uint64_t pos = key_position(it->key());
    std::string_view payload;
    bool erased = false, open = true;
    if (auto s = open_entry(pos, it->value(), rec, plain, payload, erased, wanted, &open); !s) return s;
    if (!visit(log_entry{rec, payload, erased, open, it->value()})) break;
  }
  return it->error();
}

status log_reader::scan_streams(const std::vector<std::string>& streams, uint64_t until,
                                const event_log::scan_visitor& visit) {
  std::vector<uint64_t> positions;
  for (const auto& s : streams) {
    auto it = kv_->scan(cf::streams, stream_key(s, 0), stream_upper(s));
    for (; it->valid(); it->next()) {
      if (it->value().size() != 8) return status{errc::corruption, "malformed stream index entry"};
      uint64_t pos = read_be64(it->value());
      if (pos > until) break;  // a stream's positions grow with its sequence
      positions.push_back(pos);
    }
    if (auto e = it->error(); !e) return e;
  }
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  // A few streams of a long log are scattered over it: read their records
  // in sorted batches, so neighbours share RocksDB's block lookups.
  constexpr size_t batch = 1024;
  std::vector<std::string> keys, stored;
  std::string plain;
  record_view rec;
  for (size_t from = 0; from < positions.size(); from += batch) {
    size_t to = std::min(positions.size(), from + batch);
    keys.clear();
    for (size_t i = from; i < to; ++i) keys.push_back(be64(positions[i]));
    auto got = kv_->multi_get(cf::events, keys, &stored);
    for (size_t i = 0; i < keys.size(); ++i) {
      uint64_t pos = positions[from + i];
      if (!got[i]) {
        if (got[i].code() == errc::not_found)
          return status{errc::corruption, "stream index names missing position " + std::to_string(pos)};
        return got[i];
      }
      std::string_view payload;
      bool erased = false;
      if (auto s = open_entry(pos, stored[i], rec, plain, payload, erased); !s) return s;
      if (!visit(log_entry{rec, payload, erased, true, stored[i]})) return status::ok();
    }
  }
  return status::ok();
}

status log_reader::open_entry(uint64_t pos, std::string_view stored, record_view& rec, std::string& plain,
                              std::string_view& payload, bool& erased, const event_log::type_filter* wanted,
                              bool* opened) {
  if (auto s = parse_record_into(stored, rec); !s) return annotate(s, pos);
  if (rec.position != pos) return {errc::corruption, "record at position " + std::to_string(pos) +
                                                         " claims position " + std::to_string(rec.position)};
  erased = false;
  payload = rec.payload;
  // The type is in the envelope, so it is known before the payload is opened.
  bool open = !wanted || (*wanted)(rec.type);
  if (opened) *opened = open;
  if (!open) payload = {};
  if (open && rec.encrypted()) {
    if (auto d = decrypt_into(rec, plain, erased); !d) return annotate(d, pos);
    payload = plain;
  }
  return status::ok();
}

status log_reader::scan_records(uint64_t from, const event_log::record_visitor& visit) {
  auto it = kv_->scan_bulk(cf::events, be64(from), "");
  for (; it->valid(); it->next())
    if (!visit(key_position(it->key()), it->value())) break;
  return it->error();
}

result<std::pair<uint64_t, std::string>> log_reader::chain_head(const std::string& tenant) {
  std::string v;
  auto s = kv_->get(cf::meta, chain_key(tenant), &v);
  if (!s) return s;
  if (v.size() != 8 + crypto::sha256_size) return status{errc::corruption, "malformed chain head"};
  return std::make_pair(read_be64(v), v.substr(8));
}

result<std::string> log_reader::stream_of(uint64_t position) {
  std::string want = be64(position);
  auto it = kv_->scan_bulk(cf::streams, "", "");
  for (; it->valid(); it->next()) {
    if (it->value() == want) {
      auto k = it->key();
      auto nul = k.find('\0');
      return std::string(k.substr(0, nul));
    }
  }
  if (auto s = it->error(); !s) return s;
  return status{errc::not_found, "no stream index entry for position " + std::to_string(position)};
}

uint64_t log_reader::key_position(std::string_view key) { return key.size() == 8 ? read_be64(key) : 0; }
status log_reader::annotate(const status& s, uint64_t pos) {
  return {s.code(), "position " + std::to_string(pos) + ": " + s.message()};
}

// Decrypts into `out`; `erased` when the subject's key was destroyed.
status log_reader::decrypt_into(const record_view& rec, std::string& out, bool& erased) {
  thread_local std::string key;
  bool found = false;
  if (auto s = read_key(rec.subject, key, found); !s) return s;
  erased = !found;
  if (erased) {
    out.clear();
    return status::ok();
  }
  return crypto::open_into(key, rec.payload, rec.subject, out);
}

result<stored_event> log_reader::materialize(uint64_t pos, std::string_view stored) {
  auto rec = parse_record(stored);
  if (!rec) return annotate(rec.error(), pos);
  if (rec->position != pos) return status{errc::corruption, "record at position " + std::to_string(pos) +
                                                                " claims another position"};
  stored_event ev;
  ev.env = rec->to_envelope();
  if (rec->encrypted()) {
    if (auto d = decrypt_into(*rec, ev.payload, ev.erased); !d) return annotate(d, pos);
  } else {
    ev.payload = std::string(rec->payload);
  }
  return ev;
}

// Reader-side key lookup with a cache that never resurrects an erased key.
status log_reader::read_key(std::string_view subject_view, std::string& key, bool& found) {
  // Called for every sealed event a scan opens: reuse the lookup string.
  thread_local std::string subject;
  subject.assign(subject_view);
  {
    std::shared_lock lock(keys_mu_);
    if (auto it = keys_.find(subject); it != keys_.end()) {
      key = it->second;
      found = true;
      return status::ok();
    }
    if (erased_.count(subject)) {
      found = false;
      return status::ok();
    }
  }
  auto s = kv_->get(cf::keys, subject, &key);
  if (s.code() == errc::not_found) {
    found = false;
    return status::ok();
  }
  if (!s) return s;
  found = true;
  std::unique_lock lock(keys_mu_);
  if (!erased_.count(subject)) {
    if (keys_.size() > max_cached_entries) keys_.clear();
    keys_.emplace(subject, key);
  }
  return status::ok();
}


}  // namespace crmd
