// Internal to storage/: the read side of kv_event_log, and the key layout
// both sides share (docs/event-format.md, "Other column families").
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "storage/event_log.hpp"
#include "storage/kv.hpp"

namespace crmd {

namespace log_keys {
// Caches (stream versions, chain links, subject keys) are dropped past this
// size and reloaded lazily from the store, which is always ahead of them.
constexpr size_t max_cached_entries = 1'000'000;

inline std::string stream_key(std::string_view stream, uint64_t seq) {
  std::string k(stream);
  k.push_back('\0');
  k += be64(seq);
  return k;
}
inline std::string stream_lower(std::string_view stream) { return std::string(stream) + '\0'; }
inline std::string stream_upper(std::string_view stream) { return std::string(stream) + '\x01'; }
inline std::string chain_key(std::string_view tenant) { return "chain/" + std::string(tenant); }
inline std::string erased_key(std::string_view subject) { return "erased/" + std::string(subject); }
}  // namespace log_keys

class log_reader {
 public:
  explicit log_reader(std::shared_ptr<kv_store> kv);

  result<std::vector<stored_event>> read_stream(const std::string& stream, uint64_t from_seq, size_t max);
  result<std::vector<stored_event>> read_all(uint64_t from, size_t max);
  // `wanted`, when given, says which types' payloads to decrypt (scan_types).
  status scan(uint64_t from, const event_log::scan_visitor& visit, const event_log::type_filter* wanted = nullptr);
  status scan_records(uint64_t from, const event_log::record_visitor& visit);
  status scan_streams(const std::vector<std::string>& streams, uint64_t until, const event_log::scan_visitor& visit);
  result<std::pair<uint64_t, std::string>> chain_head(const std::string& tenant);
  result<std::string> stream_of(uint64_t position);

  // Subject keys, cached; a key is never resurrected once forgotten.
  status read_key(std::string_view subject, std::string& key, bool& found);
  // Keys just made durable by the writer.
  void remember_keys(const std::unordered_map<std::string, std::string>& fresh);
  // After an erasure.
  void forget_key(const std::string& subject);

 private:
  static uint64_t key_position(std::string_view key);
  static status annotate(const status& s, uint64_t pos);
  status decrypt_into(const record_view& rec, std::string& out, bool& erased);
  // Parses and checks the record stored at `pos` into `rec`, decrypting into
  // `plain` unless `wanted` refuses its type (then `*opened` is false and
  // the payload empty): what scan() and scan_streams() show the visitor.
  status open_entry(uint64_t pos, std::string_view stored, record_view& rec, std::string& plain,
                    std::string_view& payload, bool& erased, const event_log::type_filter* wanted = nullptr,
                    bool* opened = nullptr);
  result<stored_event> materialize(uint64_t pos, std::string_view stored);

  std::shared_ptr<kv_store> kv_;
  std::shared_mutex keys_mu_;
  std::unordered_map<std::string, std::string> keys_;
  std::unordered_set<std::string> erased_;
};

}  // namespace crmd
