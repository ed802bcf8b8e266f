#include "events/record.hpp"

#include <cstring>

#include "events/crc32c.hpp"

namespace crmd {
namespace {

void put_fixed(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_str(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s.data(), s.size());
}

// Bounds-checked reader over a byte range; any failed read latches `ok=false`.
struct reader {
  const char* p;
  const char* end;
  bool ok = true;

  uint64_t fixed(int bytes) {
    if (end - p < bytes) return fail();
    uint64_t v = 0;
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "fixed fields are little-endian");
    std::memcpy(&v, p, size_t(bytes));
    p += bytes;
    return v;
  }
  uint64_t varint() {
    if (p < end && !(static_cast<unsigned char>(*p) & 0x80)) return static_cast<unsigned char>(*p++);
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) return fail();
      auto b = static_cast<unsigned char>(*p++);
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    return fail();
  }
  std::string_view bytes(size_t n) {
    if (size_t(end - p) < n) {
      fail();
      return {};
    }
    std::string_view s(p, n);
    p += n;
    return s;
  }
  std::string_view str() {
    auto n = varint();
    return ok ? bytes(n) : std::string_view{};
  }
  uint64_t fail() {
    ok = false;
    p = end;
    return 0;
  }
};

}  // namespace

envelope record_view::to_envelope() const {
  envelope e;
  e.position = position;
  e.stream = std::string(stream);
  e.stream_seq = stream_seq;
  e.type = std::string(type);
  e.schema_version = schema_version;
  e.recorded_at_us = recorded_at_us;
  e.tenant = std::string(tenant);
  e.meta.causer = std::string(causer);
  e.meta.impersonator = std::string(impersonator);
  e.meta.request_id = std::string(request_id);
  e.meta.correlation_id = std::string(correlation_id);
  e.meta.causation_id = std::string(causation_id);
  e.subject = std::string(subject);
  e.idempotency_hash = std::string(idempotency_hash);
  e.meta.client = std::string(client);
  e.link = std::string(link);
  return e;
}

std::string encode_record_body(const envelope& env, std::string_view stored_payload) {
  std::string out;
  out.reserve(64 + env.stream.size() + env.type.size() + stored_payload.size() + 96);
  put_fixed(out, env.position, 8);
  put_fixed(out, env.stream_seq, 8);
  put_fixed(out, static_cast<uint64_t>(env.recorded_at_us), 8);
  put_fixed(out, env.schema_version, 2);
  uint8_t flags = 0;
  if (!env.subject.empty()) flags |= flag_encrypted;
  if (!env.idempotency_hash.empty()) flags |= flag_idempotency_hash;
  if (!env.meta.client.empty()) flags |= flag_client;
  out.push_back(static_cast<char>(flags));
  put_str(out, env.stream);
  put_str(out, env.type);
  put_str(out, env.meta.causer);
  put_str(out, env.meta.impersonator);
  put_str(out, env.meta.request_id);
  put_str(out, env.meta.correlation_id);
  put_str(out, env.meta.causation_id);
  put_str(out, env.subject);
  if (flags & flag_idempotency_hash) {
    assert(env.idempotency_hash.size() == 32 && "idempotency hash is a SHA-256");
    out.append(env.idempotency_hash);
  }
  if (flags & flag_client) put_str(out, env.meta.client);
  put_str(out, stored_payload);
  return out;
}

std::string frame_record(std::string_view body, std::string_view link) {
  assert(link.size() == record_link_size && "a link is a SHA-256");
  std::string out;
  out.reserve(record_header_size + body.size() + link.size());
  out.push_back(static_cast<char>(record_format_version));
  put_fixed(out, body.size(), 4);
  uint32_t crc = crc32c::extend(crc32c::value(body.data(), body.size()), link.data(), link.size());
  put_fixed(out, crc32c::mask(crc), 4);
  out.append(body.data(), body.size());
  out.append(link.data(), link.size());
  return out;
}

status parse_record_into(std::string_view stored, record_view& v, bool check_crc) {
  if (stored.size() < record_header_size + record_link_size)
    return {errc::corruption, "record shorter than its header"};
  auto version = static_cast<uint8_t>(stored[0]);
  if (version != record_format_version) {
    if (version > record_format_version)
      return status{errc::unsupported, "record format version " + std::to_string(version) +
                                           " is newer than this build supports (" +
                                           std::to_string(record_format_version) + ")"};
    return {errc::corruption, "unknown record format version " + std::to_string(version)};
  }
  reader h{stored.data() + 1, stored.data() + record_header_size};
  auto body_len = static_cast<uint32_t>(h.fixed(4));
  auto masked = static_cast<uint32_t>(h.fixed(4));
  if (body_len > max_record_body ||
      stored.size() != record_header_size + size_t(body_len) + record_link_size)
    return {errc::corruption, "record length field does not match the stored size"};
  const char* covered = stored.data() + record_header_size;
  size_t covered_len = body_len + record_link_size;
  if (check_crc && crc32c::unmask(masked) != crc32c::value(covered, covered_len))
    return {errc::corruption, "record CRC mismatch"};

  v.body = std::string_view(covered, body_len);
  v.link = std::string_view(covered + body_len, record_link_size);
  reader r{covered, covered + body_len};
  v.position = r.fixed(8);
  v.stream_seq = r.fixed(8);
  v.recorded_at_us = static_cast<int64_t>(r.fixed(8));
  v.schema_version = static_cast<uint16_t>(r.fixed(2));
  v.flags = static_cast<uint8_t>(r.fixed(1));
  v.stream = r.str();
  v.type = r.str();
  v.causer = r.str();
  v.impersonator = r.str();
  v.request_id = r.str();
  v.correlation_id = r.str();
  v.causation_id = r.str();
  v.subject = r.str();
  if (v.flags & flag_idempotency_hash) v.idempotency_hash = r.bytes(32);
  v.client = (v.flags & flag_client) ? r.str() : std::string_view{};
  v.payload = r.str();
  if (!r.ok || r.p != r.end) return status{errc::corruption, "record body fields out of bounds"};
  if (v.flags & ~uint8_t(flag_encrypted | flag_idempotency_hash | flag_client))
    return {errc::unsupported, "record has unknown flags"};
  if (v.encrypted() != !v.subject.empty())
    return {errc::corruption, "record encryption flag disagrees with its subject"};
  auto slash = v.stream.find('/');
  if (slash == std::string_view::npos || slash == 0)
    return {errc::corruption, "record stream id has no tenant"};
  v.tenant = v.stream.substr(0, slash);
  return status::ok();
}

result<record_view> parse_record(std::string_view stored, bool check_crc) {
  record_view v;
  if (auto s = parse_record_into(stored, v, check_crc); !s) return s;
  return v;
}

}  // namespace crmd
