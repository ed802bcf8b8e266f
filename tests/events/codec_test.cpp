// The payload codec: cereal portable binary, bounded decoding, schema versions.
#include <gtest/gtest.h>

#include <cereal/archives/portable_binary.hpp>
#include <sstream>

#include "events/catalog.hpp"
#include "events/codec_impl.hpp"
#include "events/tenant_events.hpp"

namespace crmd {

// A test-only aggregate with an event at schema version 2 and an upcast
// from version 1, the way real types will evolve.
namespace test_ev {
struct renamed_v1 {
  static constexpr const char* type_name = "widget_renamed";
  static constexpr uint16_t schema_version = 1;
  std::string name;
  template <class F> void fields(F&& f) { f("name", name); }
};
struct widget_renamed {
  static constexpr const char* type_name = "widget_renamed";
  static constexpr uint16_t schema_version = 2;
  std::string name;
  std::string reason;  // new in version 2
  template <class F> void fields(F&& f) {
    f("name", name);
    f("reason", reason);
  }
  static result<widget_renamed> upcast(uint16_t from, std::string_view payload) {
    if (from != 1) return status{errc::unsupported, "no upcast"};
    renamed_v1 old;
    if (auto s = codec::decode_payload(payload, old); !s) return s;
    return widget_renamed{old.name, "unknown (v1)"};
  }
};
using widget_event = std::variant<widget_renamed>;
}  // namespace test_ev

namespace {

using ev::tenant_event;

TEST(codec, every_tenant_event_round_trips) {
  std::vector<tenant_event> all{
      ev::tenant_created{"acme", "Acme", {"1", "business_1"}},
      ev::tenant_renamed{"Acme Ltd"},
      ev::prompt_saved{"p1", 3, "Summary", "Summarise the call", "call_summary"},
      ev::prompt_deleted{"p1"},
      ev::lead_created{"L1", "Dana", "+972501234567", "d@example.com", "phone"},
      ev::note_added{"N1", "L1", "called back"},
  };
  for (auto& e : all) {
    auto enc = codec::encode(e);
    auto dec = codec::decode<tenant_event>(enc.type, enc.schema_version, enc.payload);
    ASSERT_TRUE(dec) << enc.type << ": " << dec.error().to_string();
    EXPECT_EQ(dec->index(), e.index());
    EXPECT_EQ(codec::encode(*dec).payload, enc.payload) << enc.type;
  }
}

TEST(codec, hebrew_and_emoji_round_trip_byte_for_byte) {
  std::string body = "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xf0\x9f\x91\x8b \xd7\xa2\xd7\x95\xd7\x9c\xd7\x9d";
  auto enc = codec::encode(tenant_event{ev::prompt_saved{"p", 1, "\xd7\x9b", body, "general"}});
  auto dec = codec::decode<tenant_event>(enc.type, enc.schema_version, enc.payload);
  ASSERT_TRUE(dec);
  EXPECT_EQ(std::get<ev::prompt_saved>(*dec).body, body);
}

TEST(codec, payloads_are_cereal_portable_binary) {
  ev::tenant_created e{"acme", "Acme", {"1"}};
  auto payload = codec::encode_payload(e);
  // Read back with cereal's own portable archive.
  std::istringstream is(payload, std::ios::binary);
  cereal::PortableBinaryInputArchive ar(is);
  std::string id, name;
  std::vector<std::string> aliases;
  ar(id, name, aliases);
  EXPECT_EQ(id, "acme");
  EXPECT_EQ(name, "Acme");
  EXPECT_EQ(aliases, std::vector<std::string>{"1"});
}

TEST(codec, an_unknown_type_is_unsupported) {
  auto r = codec::decode<tenant_event>("no_such_event", 1, "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unsupported);
  EXPECT_FALSE(catalog::knows_type("no_such_event"));
  EXPECT_TRUE(catalog::knows_type("tenant_created"));
}

TEST(codec, a_future_schema_version_is_unsupported) {
  auto enc = codec::encode(tenant_event{ev::tenant_renamed{"x"}});
  auto r = codec::decode<tenant_event>(enc.type, enc.schema_version + 1, enc.payload);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unsupported);
  EXPECT_NE(r.error().message().find("newer"), std::string::npos);
}

TEST(codec, truncated_payloads_are_corruption_never_exceptions) {
  auto enc = codec::encode(tenant_event{ev::lead_created{"L1", "Dana", "+972", "e", "manual"}});
  for (size_t n = 0; n < enc.payload.size(); ++n) {
    auto r = codec::decode<tenant_event>(enc.type, 1, std::string_view(enc.payload).substr(0, n));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error().code(), errc::corruption);
  }
}

TEST(codec, a_size_tag_larger_than_the_payload_is_refused_without_allocating) {
  // Endianness byte, then a string length of 2^62.
  std::string evil("\x01", 1);
  for (int i = 0; i < 7; ++i) evil.push_back('\0');
  evil.push_back('\x40');
  auto r = codec::decode<tenant_event>("tenant_renamed", 1, evil);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::corruption);
}

TEST(codec, trailing_bytes_are_corruption) {
  auto enc = codec::encode(tenant_event{ev::tenant_renamed{"x"}});
  auto r = codec::decode<tenant_event>(enc.type, 1, enc.payload + "junk");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::corruption);
}

TEST(codec, an_old_schema_version_is_upcast) {
  // Given a payload written by the version-1 type
  auto v1 = codec::encode_payload(test_ev::renamed_v1{"Old"});
  // When it is read by a build whose type is at version 2
  auto r = codec::decode<test_ev::widget_event>("widget_renamed", 1, v1);
  // Then the upcaster fills in the new field
  ASSERT_TRUE(r) << r.error().to_string();
  auto& e = std::get<test_ev::widget_renamed>(*r);
  EXPECT_EQ(e.name, "Old");
  EXPECT_EQ(e.reason, "unknown (v1)");
}

TEST(codec, settings_written_before_the_whatsapp_provider_read_back_as_baileys) {
  // Given settings_changed as version 1 wrote it (three fields)
  auto v1 = codec::encode_payload(ev::settings_changed_v1{"US", "en", "America/New_York"});
  // When today's build reads it
  auto r = codec::decode<tenant_event>("settings_changed", 1, v1);
  // Then the fields are kept and the provider is the only one there was
  ASSERT_TRUE(r) << r.error().to_string();
  auto& e = std::get<ev::settings_changed>(*r);
  EXPECT_EQ(e.default_region, "US");
  EXPECT_EQ(e.time_zone, "America/New_York");
  EXPECT_EQ(e.whatsapp_provider, "baileys");
  // And a version-2 payload is read as written
  auto v2 = codec::encode(tenant_event{ev::settings_changed{"IL", "he", "Asia/Jerusalem", "cloud"}});
  EXPECT_EQ(v2.schema_version, 2);
  auto r2 = codec::decode<tenant_event>(v2.type, v2.schema_version, v2.payload);
  ASSERT_TRUE(r2);
  EXPECT_EQ(std::get<ev::settings_changed>(*r2).whatsapp_provider, "cloud");
  // And the catalog (audit, CLI) renders the old one upcast too
  auto j = catalog::payload_to_json("settings_changed", 1, v1);
  ASSERT_TRUE(j) << j.error().to_string();
  EXPECT_NE(j->find("\"whatsapp_provider\":\"baileys\""), std::string::npos) << *j;
}

TEST(codec, catalog_renders_payloads_as_json) {
  auto enc = codec::encode(tenant_event{ev::tenant_created{"acme", "\xd7\x90", {"1"}}});
  auto j = catalog::payload_to_json(enc.type, enc.schema_version, enc.payload);
  ASSERT_TRUE(j) << j.error().to_string();
  EXPECT_EQ(*j, "{\"aliases\":[\"1\"],\"name\":\"\xd7\x90\",\"tenant_id\":\"acme\"}");
}

}  // namespace
}  // namespace crmd

CRMD_CODEC_INSTANTIATE(crmd::test_ev::renamed_v1)
CRMD_CODEC_INSTANTIATE(crmd::test_ev::widget_renamed)
