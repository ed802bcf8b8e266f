// The record format, as a specification: what is written, and what every kind
// of damage reads back as.
#include "events/record.hpp"

#include <gtest/gtest.h>

#include <random>

#include "events/crc32c.hpp"

namespace crmd {
namespace {

envelope sample() {
  envelope e;
  e.position = 42;
  e.stream = "acme/tenant/acme";
  e.stream_seq = 7;
  e.type = "prompt_saved";
  e.schema_version = 3;
  e.recorded_at_us = 1'700'000'000'123'456;
  e.meta = {"u-1", "admin-9", "req-1", "corr-1", "cause-1"};
  e.idempotency_hash = std::string(32, 'h');
  return e;
}

std::string link() { return std::string(32, 'L'); }

TEST(record, round_trips_every_envelope_field) {
  auto env = sample();
  std::string body = encode_record_body(env, "payload \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d");
  std::string stored = frame_record(body, link());
  auto r = parse_record(stored);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->position, 42u);
  EXPECT_EQ(r->stream, "acme/tenant/acme");
  EXPECT_EQ(r->tenant, "acme");
  EXPECT_EQ(r->stream_seq, 7u);
  EXPECT_EQ(r->type, "prompt_saved");
  EXPECT_EQ(r->schema_version, 3);
  EXPECT_EQ(r->recorded_at_us, 1'700'000'000'123'456);
  EXPECT_EQ(r->causer, "u-1");
  EXPECT_EQ(r->impersonator, "admin-9");
  EXPECT_EQ(r->request_id, "req-1");
  EXPECT_EQ(r->correlation_id, "corr-1");
  EXPECT_EQ(r->causation_id, "cause-1");
  EXPECT_EQ(r->idempotency_hash, std::string(32, 'h'));
  EXPECT_FALSE(r->encrypted());
  EXPECT_EQ(r->payload, "payload \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d");
  EXPECT_EQ(r->body, body);
  EXPECT_EQ(r->link, link());
}

TEST(record, the_client_address_is_kept_when_there_is_one_and_absent_otherwise) {
  auto env = sample();
  env.meta.client = "203.0.113.7";
  auto with = parse_record(frame_record(encode_record_body(env, "p"), link()));
  ASSERT_TRUE(with) << with.error().to_string();
  EXPECT_EQ(with->client, "203.0.113.7");
  EXPECT_EQ(with->flags & flag_client, flag_client);
  EXPECT_EQ(with->payload, "p");
  EXPECT_EQ(with->to_envelope().meta.client, "203.0.113.7");
  // A record without one (all records before the field existed) has no flag
  // and no bytes for it: the old layout, read as before.
  auto without = parse_record(frame_record(encode_record_body(sample(), "p"), link()));
  ASSERT_TRUE(without);
  EXPECT_EQ(without->client, "");
  EXPECT_EQ(without->flags & flag_client, 0);
  EXPECT_EQ(encode_record_body(sample(), "p").size() + 1 + 11, encode_record_body(env, "p").size());
}

TEST(record, header_is_version_length_and_masked_crc) {
  std::string body = encode_record_body(sample(), "x");
  std::string stored = frame_record(body, link());
  ASSERT_EQ(stored.size(), record_header_size + body.size() + record_link_size);
  EXPECT_EQ(static_cast<uint8_t>(stored[0]), record_format_version);
  uint32_t len = 0, crc = 0;
  for (int i = 0; i < 4; ++i) len |= uint32_t(uint8_t(stored[1 + i])) << (8 * i);
  for (int i = 0; i < 4; ++i) crc |= uint32_t(uint8_t(stored[5 + i])) << (8 * i);
  EXPECT_EQ(len, body.size());
  std::string covered = body + link();
  EXPECT_EQ(crc32c::unmask(crc), crc32c::value(covered.data(), covered.size()));
}

TEST(record, a_subject_marks_the_payload_encrypted) {
  auto env = sample();
  env.subject = "acme/lead/L1";
  auto r = parse_record(frame_record(encode_record_body(env, "sealed"), link()));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->encrypted());
  EXPECT_EQ(r->subject, "acme/lead/L1");
}

TEST(record, every_single_byte_flip_is_detected) {
  std::string stored = frame_record(encode_record_body(sample(), "some payload"), link());
  for (size_t i = 0; i < stored.size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      std::string bad = stored;
      bad[i] = static_cast<char>(bad[i] ^ bit);
      auto r = parse_record(bad);
      EXPECT_FALSE(r) << "flip at byte " << i;
    }
  }
}

TEST(record, every_truncation_is_corruption) {
  std::string stored = frame_record(encode_record_body(sample(), "some payload"), link());
  for (size_t n = 0; n < stored.size(); ++n) {
    auto r = parse_record(std::string_view(stored).substr(0, n));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::corruption) << "truncated to " << n;
  }
}

TEST(record, a_future_format_version_is_unsupported_not_corrupt) {
  std::string stored = frame_record(encode_record_body(sample(), "p"), link());
  stored[0] = static_cast<char>(record_format_version + 1);
  auto r = parse_record(stored);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unsupported);
  EXPECT_NE(r.error().message().find("newer"), std::string::npos);
}

TEST(record, a_huge_length_field_is_rejected_before_anything_is_read) {
  std::string stored = frame_record(encode_record_body(sample(), "p"), link());
  for (int i = 1; i <= 4; ++i) stored[i] = '\xff';
  auto r = parse_record(stored);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::corruption);
}

TEST(record, inner_lengths_that_overrun_are_corruption_even_with_a_valid_crc) {
  // Forge a body whose stream length claims 2^40 bytes, then frame it with a
  // correct CRC: the bounds checks must catch what the CRC cannot.
  std::string body(8 + 8 + 8 + 2 + 1, '\0');
  body += "\x80\x80\x80\x80\x80\x20";  // varint 2^40
  body += "short";
  auto r = parse_record(frame_record(body, link()));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::corruption);
}

TEST(record, random_garbage_never_crashes) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string junk(rng() % 200, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (!junk.empty()) junk[0] = static_cast<char>(record_format_version);
    // Frame it properly half the time so the parser gets past the CRC.
    std::string candidate = (i % 2) ? frame_record(junk, link()) : junk;
    auto r = parse_record(candidate);
    if (r) {
      EXPECT_LE(r->payload.size(), candidate.size());
    }
  }
}

}  // namespace
}  // namespace crmd
