// Given / When / Then: users and tenant administration in the registry.
#include <gtest/gtest.h>

#include "actors/registry/registry_decider.hpp"

namespace crmd {
namespace {

using registry::actor;

const actor admin{"u1", "system_admin", ""};
const actor owner_a{"u2", "owner", "a"};
const actor manager_a{"u3", "manager", "a"};
const actor agent_a{"u4", "agent", "a"};
const actor owner_b{"u5", "owner", "b"};

// Tenants a and b; u1 admin, u2 owner a, u3 manager a, u4 agent a, u5 owner b.
registry::state given(std::vector<std::pair<std::string, ev::registry_event>> more = {}) {
  registry::state s;
  registry::apply(s, ev::tenant_created{"a", "A", {"1"}});
  registry::apply(s, ev::tenant_created{"b", "B", {}});
  registry::apply(s, registry::users_stream(""), ev::user_created{"u1", "", "root@x.io", "system_admin", "h"});
  registry::apply(s, registry::users_stream("a"), ev::user_created{"u2", "a", "own@a.io", "owner", "h"});
  registry::apply(s, registry::users_stream("a"), ev::user_created{"u3", "a", "man@a.io", "manager", "h"});
  registry::apply(s, registry::users_stream("a"), ev::user_created{"u4", "a", "ag@a.io", "agent", "h"});
  registry::apply(s, registry::users_stream("b"), ev::user_created{"u5", "b", "own@b.io", "owner", "h"});
  for (auto& [stream, e] : more) registry::apply(s, stream, e);
  return s;
}

status rejection(const registry::state& s, const registry::command& c) {
  auto r = registry::decide(s, c);
  return r ? status::ok() : r.error();
}

TEST(registry_users, creating_a_user_gives_the_next_id_in_the_tenants_users_stream_as_a_data_subject) {
  auto s = given();
  auto r = registry::decide(s, registry::create_user{manager_a, " New@A.io ", "agent", "a", "hash"});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->id, "u6");
  EXPECT_EQ(r->stream, "a/users/a");
  EXPECT_EQ(r->subject, "a/user/u6");
  auto& e = std::get<ev::user_created>(r->events.at(0));
  EXPECT_EQ(e.email, "new@a.io");
  EXPECT_EQ(e.tenant_id, "a");
  registry::apply(s, r->stream, e);
  EXPECT_EQ(s.user_by_email("new@a.io")->id, "u6");
  EXPECT_EQ(s.versions["a/users/a"], 4u);
}

TEST(registry_users, e_mail_addresses_are_unique_across_tenants_until_the_user_is_deleted) {
  auto s = given();
  EXPECT_EQ(rejection(s, registry::create_user{owner_b, "AG@a.io", "agent", "b", "h"}).reason(), "email_taken");
  s = given({{"a/users/a", ev::user_deleted{"u4"}}});
  EXPECT_TRUE(registry::decide(s, registry::create_user{owner_b, "ag@a.io", "agent", "b", "h"}));
}

TEST(registry_users, each_role_creates_only_lower_ranks_in_its_own_tenant) {
  auto s = given();
  EXPECT_EQ(rejection(s, registry::create_user{manager_a, "m2@a.io", "manager", "a", "h"}).code(), errc::forbidden);
  EXPECT_EQ(rejection(s, registry::create_user{agent_a, "x@a.io", "agent", "a", "h"}).code(), errc::forbidden);
  EXPECT_EQ(rejection(s, registry::create_user{owner_a, "o2@a.io", "owner", "a", "h"}).code(), errc::forbidden);
  EXPECT_TRUE(registry::decide(s, registry::create_user{owner_a, "m2@a.io", "manager", "a", "h"}));
  EXPECT_TRUE(registry::decide(s, registry::create_user{admin, "o2@a.io", "owner", "a", "h"}));
  EXPECT_EQ(rejection(s, registry::create_user{owner_b, "x@b.io", "agent", "a", "h"}).code(), errc::not_found)
      << "another tenant does not exist for an owner";
  EXPECT_EQ(rejection(s, registry::create_user{owner_a, "r2@x.io", "system_admin", "", "h"}).code(),
            errc::forbidden);
}

TEST(registry_users, malformed_fields_are_named) {
  auto s = given();
  for (auto [cmd, field] : std::vector<std::pair<registry::create_user, std::string>>{
           {{admin, "not-an-address", "agent", "a", "h"}, "'email'"},
           {{admin, "a@b", "agent", "a", "h"}, "'email'"},
           {{admin, "x y@a.io", "agent", "a", "h"}, "'email'"},
           {{admin, "x@a.io", "root", "a", "h"}, "'role'"},
           {{admin, "x@a.io", "agent", "", "h"}, "'tenant_id'"},
           {{admin, "x@a.io", "system_admin", "a", "h"}, "'tenant_id'"}}) {
    auto st = rejection(s, cmd);
    EXPECT_EQ(st.code(), errc::invalid_argument) << cmd.email;
    EXPECT_NE(st.message().find(field), std::string::npos) << st.message();
  }
  EXPECT_EQ(rejection(s, registry::create_user{admin, "x@a.io", "agent", "zzz", "h"}).reason(), "tenant_not_found");
}

TEST(registry_users, the_last_owner_can_be_neither_demoted_nor_deleted) {
  auto s = given();
  EXPECT_EQ(rejection(s, registry::change_role{admin, "u2", "manager"}).reason(), "last_owner");
  EXPECT_EQ(rejection(s, registry::delete_user{admin, "u2"}).reason(), "last_owner");
  s = given({{"a/users/a", ev::user_created{"u9", "a", "o9@a.io", "owner", "h"}}});
  EXPECT_TRUE(registry::decide(s, registry::change_role{admin, "u2", "manager"}));
  EXPECT_TRUE(registry::decide(s, registry::delete_user{admin, "u2"}));
}

TEST(registry_users, nobody_deletes_or_re_roles_themselves) {
  auto s = given();
  EXPECT_EQ(rejection(s, registry::delete_user{admin, "u1"}).reason(), "cannot_delete_self");
  EXPECT_EQ(rejection(s, registry::delete_user{manager_a, "u3"}).reason(), "cannot_delete_self");
  EXPECT_EQ(rejection(s, registry::change_role{owner_a, "u2", "agent"}).reason(), "cannot_change_self");
}

TEST(registry_users, deletes_and_role_changes_follow_rank_and_tenant) {
  auto s = given();
  EXPECT_TRUE(registry::decide(s, registry::delete_user{manager_a, "u4"}));
  EXPECT_EQ(rejection(s, registry::delete_user{agent_a, "u3"}).code(), errc::forbidden);
  EXPECT_EQ(rejection(s, registry::delete_user{manager_a, "u2"}).code(), errc::forbidden);
  EXPECT_EQ(rejection(s, registry::delete_user{owner_b, "u4"}).code(), errc::not_found) << "other tenant: no such user";
  EXPECT_EQ(rejection(s, registry::change_role{manager_a, "u4", "manager"}).code(), errc::forbidden)
      << "a manager cannot promote to their own rank";
  auto up = registry::decide(s, registry::change_role{owner_a, "u4", "manager"});
  ASSERT_TRUE(up);
  EXPECT_EQ(std::get<ev::user_role_changed>(up->events.at(0)).role, "manager");
  auto same = registry::decide(s, registry::change_role{owner_a, "u4", "agent"});
  ASSERT_TRUE(same);
  EXPECT_TRUE(same->events.empty()) << "no change, nothing recorded";
  EXPECT_EQ(rejection(s, registry::change_role{admin, "u4", "system_admin"}).code(), errc::invalid_argument);
}

TEST(registry_users, a_deleted_user_is_gone_for_every_command_but_keeps_its_record) {
  auto s = given({{"a/users/a", ev::user_deleted{"u4"}}});
  EXPECT_EQ(rejection(s, registry::delete_user{admin, "u4"}).reason(), "user_not_found");
  EXPECT_EQ(s.live_user("u4"), nullptr);
  EXPECT_TRUE(s.users.at("u4").deleted);
  EXPECT_EQ(s.user_by_email("ag@a.io"), nullptr);
}

TEST(registry_tenants, suspend_reactivate_modules_and_delete) {
  auto s = given();
  registry::update_tenant u;
  u.id = "a";
  u.status = "suspended";
  u.modules = std::vector<std::string>{"crm"};
  auto r = registry::decide(s, u);
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->events.size(), 2u);
  for (auto& e : r->events) registry::apply(s, e);
  EXPECT_EQ(s.tenants["a"].status, "suspended");
  EXPECT_EQ(s.tenants["a"].modules, std::set<std::string>{"crm"});
  auto again = registry::decide(s, u);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->events.empty()) << "already so: nothing recorded";
  u.status = "active";
  u.modules.reset();
  r = registry::decide(s, u);
  ASSERT_TRUE(r);
  EXPECT_TRUE(std::holds_alternative<ev::tenant_reactivated>(r->events.at(0)));
  u.status = "gone";
  EXPECT_EQ(rejection(s, u).code(), errc::invalid_argument);
  u.status.reset();
  u.modules = std::vector<std::string>{"sms"};
  EXPECT_EQ(rejection(s, u).code(), errc::invalid_argument);

  auto d = registry::decide(s, registry::delete_tenant{"a"});
  ASSERT_TRUE(d);
  registry::apply(s, d->events.at(0));
  EXPECT_EQ(s.tenants["a"].status, "deleted");
  EXPECT_EQ(rejection(s, registry::delete_tenant{"a"}).reason(), "tenant_deleted");
  EXPECT_EQ(rejection(s, registry::create_user{admin, "n@a.io", "agent", "a", "h"}).reason(), "tenant_deleted");
  EXPECT_EQ(rejection(s, registry::create_tenant{"a", "Again", {}}).reason(), "tenant_exists")
      << "a deleted tenant's id stays taken";
  EXPECT_EQ(rejection(s, registry::delete_tenant{"zz"}).reason(), "tenant_not_found");
}

}  // namespace
}  // namespace crmd
