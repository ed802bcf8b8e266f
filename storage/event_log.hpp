// The append-only event log: crmd's only source of truth.
//
// Contract (both implementations pass tests/storage/event_log_contract_test):
// - Positions are global, dense and start at 1; stream sequences are dense
//   per stream and start at 1. A stream's version is its last sequence (0 if
//   it has no events).
// - append() is atomic: all of a request's events are stored or none are.
//   A wrong expected version is errc::conflict and writes nothing.
// - append() is acknowledged only when its events are durable (synced, unless
//   log_options::sync is false). Concurrent appends are group-committed.
// - An append whose idempotency key is already known writes nothing and
//   returns the original positions with `deduplicated = true`, also after a
//   restart. Keys are stored as SHA-256 hashes only.
// - Events that name a subject are stored AES-256-GCM encrypted under that
//   subject's key; erase_subject() destroys the key, after which those
//   payloads read back as erased while the hash chain still verifies.
// - Subscribers are told each new last position after it is durable.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "events/clock.hpp"
#include "events/envelope.hpp"
#include "events/record.hpp"
#include "events/status.hpp"

namespace crmd {

class kv_store;

constexpr uint64_t any_version = std::numeric_limits<uint64_t>::max();
constexpr uint64_t no_stream = 0;  // expect the stream not to exist yet

struct new_event {
  std::string type;             // a catalog type name
  uint16_t schema_version = 1;
  std::string payload;          // encoded with events/codec.hpp
  std::string subject;          // data subject id ("<tenant>/lead/L1"), or empty
};

// A write to another column family that must be durable exactly when the
// events are (a durable timer's schedule entry, say). Only `schedule`,
// `snapshots` and `meta` keys under "secret/" (storage/secret_store.hpp) may
// be written this way.
struct side_write {
  uint8_t family = 0;  // a crmd::cf value
  std::string key;
  std::string value;
  bool erase = false;
};

struct append_request {
  std::string stream;
  uint64_t expected_version = any_version;
  std::vector<new_event> events;
  std::string idempotency_key;  // empty: none
  event_metadata meta;
  std::vector<side_write> side_writes;  // written in the same batch as the events
};

struct append_result {
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  uint64_t stream_version = 0;  // after the append (as it was, when deduplicated)
  bool deduplicated = false;
};

struct stored_event {
  envelope env;
  std::string payload;  // plaintext; empty when erased
  bool erased = false;
};

// What scan() shows for each event, without copying: valid during the call.
struct log_entry {
  const record_view& record;
  std::string_view payload;  // plaintext; empty when erased or not opened
  bool erased;
  // false: scan_types() was told this type is not wanted, so a sealed
  // payload was not decrypted (payload empty); the envelope is checked as ever.
  bool opened = true;
  // The record exactly as stored (what `record` views), when the scan has
  // it; a consumer that keeps an entry copies these and parses them again.
  std::string_view stored = {};
};

struct log_options {
  // Durable by default. false (OS-buffered writes) is for tests and
  // benchmarks only: an acknowledged append may then be lost on power loss.
  bool sync = true;
  // Upper bound of one group commit; large enough for 64+ concurrent
  // appenders, small enough to keep a batch's latency bounded.
  size_t max_batch_events = 4096;
  // Largest payload accepted in one event.
  size_t max_payload_bytes = 4u << 20;
  // Source of recorded_at; tests inject a manual clock.
  clock* time = &system_clock();
};

struct log_stats {
  uint64_t batches = 0;          // group commits written
  uint64_t appends = 0;          // append requests committed (not deduplicated)
  uint64_t events = 0;           // events committed
  uint64_t decide_us = 0;        // writer time spent deciding and encoding
  uint64_t write_us = 0;         // writer time spent in the (synced) batch write
};

class event_log {
 public:
  using append_callback = std::function<void(result<append_result>)>;
  using position_callback = std::function<void(uint64_t last_position)>;
  using scan_visitor = std::function<bool(const log_entry&)>;  // false stops
  using record_visitor = std::function<bool(uint64_t key_position, std::string_view stored)>;
  using type_filter = std::function<bool(std::string_view type)>;

  virtual ~event_log() = default;

  // Runs `done` on the log's writer thread once the append is durable or
  // rejected; `done` must be quick (post a message, fulfil a promise).
  virtual void append_async(append_request request, append_callback done) = 0;
  // Blocks the calling thread until durable or rejected.
  result<append_result> append(append_request request);

  // Up to `max` events of `stream` from sequence `from_seq` on.
  virtual result<std::vector<stored_event>> read_stream(const std::string& stream,
                                                        uint64_t from_seq, size_t max) = 0;
  // The names of the streams that start with `prefix` and hold any event,
  // ascending; from the stream index, one seek per stream.
  virtual result<std::vector<std::string>> streams_with_prefix(const std::string& prefix) = 0;
  // Up to `max` events from global position `from` on.
  virtual result<std::vector<stored_event>> read_all(uint64_t from, size_t max) = 0;
  // Every event from `from` on, decrypted, without copies. Stops at the first
  // record that fails its checks and returns that error.
  virtual status scan(uint64_t from, const scan_visitor& visit) = 0;
  // As scan(), but the payload of an event whose type `wanted` refuses is
  // not decrypted (log_entry::opened false): a projection rebuild pays the
  // decryption of the events it folds, not of the whole log. This default
  // decrypts everything.
  virtual status scan_types(uint64_t from, const type_filter& wanted, const scan_visitor& visit);
  // The raw stored bytes from `from` on, unchecked: for the integrity check.
  virtual status scan_records(uint64_t from, const record_visitor& visit) = 0;
  // The events of `streams`, merged in position order, up to position
  // `until`, checked and decrypted as scan() does. Reads the stream index
  // and then only those events: replaying a tenant's few streams costs its
  // own events, not the whole log's. This default scans the whole log.
  virtual status scan_streams(const std::vector<std::string>& streams, uint64_t until, const scan_visitor& visit);

  virtual uint64_t last_position() const = 0;
  // The stored head of a tenant's hash chain: (position, link); errc::not_found if none.
  virtual result<std::pair<uint64_t, std::string>> chain_head(const std::string& tenant) = 0;

  // The stream a position belongs to, from the stream index alone (a full
  // index scan: for naming damaged records, not for the hot path).
  virtual result<std::string> stream_of(uint64_t position) = 0;

  virtual uint64_t subscribe(position_callback cb) = 0;
  virtual void unsubscribe(uint64_t id) = 0;

  // Destroys the subject's key (durably). Later appends naming the subject
  // are rejected with errc::subject_erased.
  virtual status erase_subject(const std::string& subject) = 0;

  virtual log_stats stats() const = 0;
};

// The log over any kv_store (the RocksDB one, or the in-memory twin).
// Fails with errc::unsupported if the store was written by a newer format.
// The store is shared: projections and snapshots live in other families of it.
result<std::unique_ptr<event_log>> open_event_log(std::shared_ptr<kv_store> kv,
                                                  log_options options = {});
// The in-memory twin: the same log over an in-memory kv_store.
std::unique_ptr<event_log> make_memory_event_log(log_options options = {});

}  // namespace crmd
