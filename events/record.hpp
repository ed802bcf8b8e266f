// The stored record format of one event (docs/event-format.md is the spec).
//
//   record := header(9) body link(32)
//   header := u8 format_version | u32le body_length | u32le masked_crc32c(body || link)
//
// parse_record() checks the format version, the length and the CRC before it
// looks inside the body, and every field read is bounds-checked, so corrupt
// bytes give an error value, never a crash, an exception or a huge allocation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "events/envelope.hpp"
#include "events/status.hpp"

namespace crmd {

constexpr uint8_t record_format_version = 1;
constexpr size_t record_header_size = 9;
constexpr size_t record_link_size = 32;
// A body larger than this is corruption, not data: HTTP bodies are capped far lower.
constexpr uint32_t max_record_body = 64u << 20;

enum record_flags : uint8_t {
  flag_encrypted = 1,        // payload is nonce(12) | AES-256-GCM ciphertext | tag(16)
  flag_idempotency_hash = 2, // a 32-byte idempotency hash follows the subject
  flag_client = 4,           // the client address (str) follows, before the payload
};

// A parsed record whose strings point into the bytes it was parsed from.
struct record_view {
  uint64_t position = 0;
  uint64_t stream_seq = 0;
  int64_t recorded_at_us = 0;
  uint16_t schema_version = 0;
  uint8_t flags = 0;
  std::string_view stream, type, tenant, causer, impersonator, request_id, correlation_id,
      causation_id, subject, idempotency_hash, client;
  std::string_view payload;  // as stored: ciphertext when flag_encrypted
  std::string_view body;     // the exact bytes the hash chain covers
  std::string_view link;

  bool encrypted() const { return flags & flag_encrypted; }
  envelope to_envelope() const;
};

// Encodes everything except the link. `env.position`, `stream_seq`, `type`,
// `schema_version`, `recorded_at_us`, `meta`, `subject` and `idempotency_hash`
// are used; `stored_payload` is already encrypted when `env.subject` is set.
std::string encode_record_body(const envelope& env, std::string_view stored_payload);

// Frames a body and its link into the stored record.
std::string frame_record(std::string_view body, std::string_view link);

// Checks framing, CRC and bounds. errc::unsupported for a future format
// version, errc::corruption for anything else that is wrong. `check_crc`
// false is only for naming what a corrupt record belonged to in reports.
result<record_view> parse_record(std::string_view stored, bool check_crc = true);
// The same into a caller's view (no copy of the view on the replay hot path).
status parse_record_into(std::string_view stored, record_view& out, bool check_crc = true);

}  // namespace crmd
