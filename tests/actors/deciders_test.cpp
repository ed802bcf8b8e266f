// Given / When / Then over the pure aggregate functions.
#include <gtest/gtest.h>

#include "actors/registry/registry_decider.hpp"
#include "actors/tenant/tenant_decider.hpp"

namespace crmd {
namespace {

// --- registry -------------------------------------------------------------

registry::state given(std::vector<ev::registry_event> history) {
  registry::state s;
  for (auto& e : history) registry::apply(s, e);
  return s;
}

TEST(registry_decider, creating_a_new_tenant_records_it_with_its_aliases) {
  auto s = given({});
  auto r = registry::decide(s, registry::create_tenant{"business_1", "Acme", {"1"}});
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(r->stream, registry::stream);
  auto& e = std::get<ev::tenant_created>(r->events[0]);
  EXPECT_EQ(e.tenant_id, "business_1");
  EXPECT_EQ(e.aliases, std::vector<std::string>{"1"});
  registry::apply(s, r->events[0]);
  EXPECT_EQ(s.resolve("1"), "business_1");
  EXPECT_EQ(s.resolve("business_1"), "business_1");
  EXPECT_FALSE(s.resolve("2"));
}

TEST(registry_decider, an_id_or_alias_already_taken_is_a_conflict) {
  auto s = given({ev::tenant_created{"acme", "Acme", {"1"}}});
  for (auto cmd : std::vector<registry::create_tenant>{{"acme", "Again", {}},
                                                       {"1", "Alias as id", {}},
                                                       {"beta", "Beta", {"1"}},
                                                       {"beta", "Beta", {"acme"}}}) {
    auto r = registry::decide(s, cmd);
    ASSERT_FALSE(r) << cmd.id;
    EXPECT_EQ(r.error().code(), errc::conflict) << cmd.id;
  }
}

TEST(registry_decider, malformed_or_reserved_ids_are_invalid) {
  auto s = given({});
  struct bad {
    registry::create_tenant cmd;
    std::string reason;
  };
  for (auto& [cmd, reason] : std::vector<bad>{
           {{"Acme", "x", {}}, "invalid_tenant_id"},
           {{"-acme", "x", {}}, "invalid_tenant_id"},
           {{"", "x", {}}, "invalid_tenant_id"},
           {{std::string(65, 'a'), "x", {}}, "invalid_tenant_id"},
           {{"system", "x", {}}, "reserved_tenant_id"},
           {{"admin", "x", {}}, "reserved_tenant_id"},
           {{"api", "x", {}}, "reserved_tenant_id"},
           {{"ok", "", {}}, "invalid_name"},
           {{"ok", "x", {"ok"}}, "invalid_alias"},
           {{"ok", "x", {"a", "a"}}, "invalid_alias"},
           {{"ok", "x", {"Bad"}}, "invalid_alias"}}) {
    auto r = registry::decide(s, cmd);
    ASSERT_FALSE(r) << cmd.id;
    EXPECT_EQ(r.error().code(), errc::invalid_argument);
    EXPECT_EQ(r.error().reason(), reason) << cmd.id;
  }
}

// --- tenant prompts --------------------------------------------------------

tenant::state given_tenant(std::vector<ev::tenant_event> history) {
  tenant::state s;
  for (auto& e : history) tenant::apply(s, e);
  return s;
}

TEST(tenant_decider, saving_a_prompt_gives_it_the_next_id_at_version_1) {
  auto s = given_tenant({ev::prompt_saved{"p1", 1, "A", "a", "general"}});
  auto r = tenant::decide(s, tenant::save_prompt{"Summary", "Summarise \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", "call_summary"});
  ASSERT_TRUE(r) << r.error().to_string();
  auto& e = std::get<ev::prompt_saved>((*r)[0]);
  EXPECT_EQ(e.prompt_id, "p2");
  EXPECT_EQ(e.version, 1u);
  EXPECT_EQ(e.kind, "call_summary");
}

TEST(tenant_decider, updating_bumps_the_version_and_keeps_unset_fields) {
  auto s = given_tenant({ev::prompt_saved{"p1", 1, "Title", "old body", "general"},
                         ev::prompt_saved{"p1", 2, "Title", "newer", "general"}});
  tenant::update_prompt u;
  u.prompt_id = "p1";
  u.body = "newest";
  auto r = tenant::decide(s, u);
  ASSERT_TRUE(r);
  auto& e = std::get<ev::prompt_saved>((*r)[0]);
  EXPECT_EQ(e.version, 3u);
  EXPECT_EQ(e.title, "Title");
  EXPECT_EQ(e.body, "newest");
}

TEST(tenant_decider, a_deleted_or_unknown_prompt_is_not_found) {
  auto s = given_tenant({ev::prompt_saved{"p1", 1, "T", "b", "general"}, ev::prompt_deleted{"p1"}});
  for (tenant::command c : std::vector<tenant::command>{tenant::delete_prompt{"p1"}, tenant::delete_prompt{"p9"},
                                                        tenant::delete_prompt{"x1"},
                                                        tenant::update_prompt{"p1", std::string("t"), {}, {}}}) {
    auto r = tenant::decide(s, c);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::not_found);
  }
  // Deleted ids are never reused.
  auto r = tenant::decide(s, tenant::save_prompt{"T", "b", "general"});
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<ev::prompt_saved>((*r)[0]).prompt_id, "p2");
}

TEST(tenant_decider, invalid_fields_are_named) {
  auto s = given_tenant({});
  auto no_title = tenant::decide(s, tenant::save_prompt{"", "b", "general"});
  ASSERT_FALSE(no_title);
  EXPECT_NE(no_title.error().message().find("'title'"), std::string::npos);
  auto bad_kind = tenant::decide(s, tenant::save_prompt{"t", "b", "poem"});
  ASSERT_FALSE(bad_kind);
  EXPECT_NE(bad_kind.error().message().find("'kind'"), std::string::npos);
  auto huge = tenant::decide(s, tenant::save_prompt{"t", std::string(70000, 'x'), "general"});
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().message().find("'body'"), std::string::npos);
}

TEST(tenant_decider, state_snapshots_round_trip) {
  auto s = given_tenant({ev::prompt_saved{"p1", 1, "T", "b", "general"},
                         ev::prompt_saved{"p2", 1, "U", "c", "call_summary"}, ev::prompt_deleted{"p1"}});
  tenant::state back;
  ASSERT_TRUE(tenant::decode_state(tenant::encode_state(s), back));
  EXPECT_EQ(back.next_prompt, 3u);
  EXPECT_TRUE(back.prompts[1].deleted);
  EXPECT_EQ(back.prompts[2].kind, "call_summary");
  EXPECT_EQ(tenant::encode_state(back), tenant::encode_state(s));
}

}  // namespace
}  // namespace crmd
