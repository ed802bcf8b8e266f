// Given / When / Then: leads, customers and settings in the tenant aggregate.
#include <gtest/gtest.h>

#include "actors/crm/phone.hpp"
#include "actors/tenant/tenant_decider.hpp"
#include "events/codec.hpp"

namespace crmd {
namespace {

tenant::state given(std::vector<ev::tenant_event> history) {
  tenant::state s;
  for (auto& e : history) tenant::apply(s, e);
  return s;
}

result<std::vector<ev::tenant_event>> when(const tenant::state& s, tenant::command c) { return tenant::decide(s, c); }

TEST(phone, israeli_numbers_as_typed_become_e164) {
  EXPECT_EQ(crm::to_e164("050-123-4567", "IL"), "+972501234567");
  EXPECT_EQ(crm::to_e164("+972 50 123 4567", "US"), "+972501234567") << "a + ignores the region";
  EXPECT_EQ(crm::to_e164("(415) 555-2671", "US"), "+14155552671");
  EXPECT_FALSE(crm::to_e164("not a phone", "IL"));
  EXPECT_FALSE(crm::to_e164("12", "IL"));
  EXPECT_FALSE(crm::to_e164(std::string(100, '5'), "IL"));
}

TEST(contacts, a_new_lead_gets_the_next_id_and_a_normalised_phone) {
  auto s = given({ev::lead_created{"L1", "Dana", "+972501111111", "", "manual"}});
  auto r = when(s, crm::create_contact{"\xd7\xa0\xd7\x95\xd7\xa2\xd7\x94", "050-123-4567", "noa@x.test", "manual", {}, false});
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->size(), 1u);
  auto& e = std::get<ev::lead_created>((*r)[0]);
  EXPECT_EQ(e.lead_id, "L2");
  EXPECT_EQ(e.phone, "+972501234567");
  EXPECT_EQ(tenant::subject_of("acme", (*r)[0]), "acme/lead/L2");
}

TEST(contacts, one_phone_one_live_contact) {
  auto s = given({ev::lead_created{"L1", "Dana", "+972501234567", "", "phone"}});
  auto dup = when(s, crm::create_contact{"Other", "0501234567", "", "manual", {}, false});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().reason(), "phone_taken");
  s = given({ev::lead_created{"L1", "Dana", "+972501234567", "", "phone"}, ev::lead_deleted{"L1"}});
  EXPECT_TRUE(when(s, crm::create_contact{"Other", "0501234567", "", "manual", {}, false})) << "free after deletion";
}

TEST(contacts, find_or_create_returns_the_known_contact_and_records_nothing) {
  auto s = given({ev::lead_created{"L1", "Dana", "+972501234567", "", "phone"}, ev::lead_converted{"L1"}});
  crm::find_or_create_contact f{"+972-50-123-4567", "", "whatsapp"};
  auto r = when(s, f);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(tenant::answer_id(s, f), "L1") << "a customer is found too";
  auto fresh = when(s, crm::find_or_create_contact{"052-000-0000", "", "phone"});
  ASSERT_TRUE(fresh);
  ASSERT_EQ(fresh->size(), 1u);
  EXPECT_EQ(std::get<ev::lead_created>((*fresh)[0]).lead_id, "L2");
  EXPECT_FALSE(when(s, crm::find_or_create_contact{"", "", "phone"}));
}

TEST(contacts, the_tenants_region_decides_how_local_numbers_read) {
  auto s = given({ev::settings_changed{"US", "en", "America/New_York"}});
  auto r = when(s, crm::create_contact{"Bob", "(415) 555-2671", "", "manual", {}, false});
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<ev::lead_created>((*r)[0]).phone, "+14155552671");
}

TEST(contacts, updates_name_their_fields_and_statuses_are_checked) {
  auto s = given({ev::lead_created{"L1", "Dana", "", "", "manual"}});
  crm::update_contact u;
  u.id = "L1";
  u.status = "qualified";
  auto r = when(s, u);
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<ev::lead_updated>((*r)[0]).status, "qualified");
  EXPECT_FALSE(std::get<ev::lead_updated>((*r)[0]).name);
  u.status = "maybe";
  auto bad = when(s, u);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("'status'"), std::string::npos);
  u.status.reset();
  u.phone = "garbage";
  EXPECT_NE(when(s, u).error().message().find("'phone'"), std::string::npos);
  crm::update_contact none;
  none.id = "L1";
  EXPECT_EQ(when(s, none).error().code(), errc::invalid_argument);
  none.id = "L9";
  none.name = "x";
  EXPECT_EQ(when(s, none).error().reason(), "contact_not_found");
}

TEST(contacts, convert_once_and_customer_routes_see_only_customers) {
  auto s = given({ev::lead_created{"L1", "Dana", "", "", "manual"}});
  auto r = when(s, crm::convert_lead{"L1"});
  ASSERT_TRUE(r);
  crm::update_contact as_customer;
  as_customer.id = "L1";
  as_customer.name = "x";
  as_customer.customers_only = true;
  EXPECT_EQ(when(s, as_customer).error().reason(), "contact_not_found") << "still a lead";
  for (auto& e : *r) tenant::apply(s, e);
  EXPECT_EQ(when(s, crm::convert_lead{"L1"}).error().reason(), "already_customer");
  EXPECT_TRUE(when(s, as_customer));
  EXPECT_TRUE(when(s, crm::delete_contact{"L1", true}));
}

TEST(contacts, creating_a_customer_directly_is_a_lead_converted_at_once) {
  auto r = when(given({}), crm::create_contact{"Dana", "", "d@x.test", "manual", std::string("won"), true});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 3u);
  EXPECT_TRUE(std::holds_alternative<ev::lead_updated>((*r)[1]));
  EXPECT_TRUE(std::holds_alternative<ev::lead_converted>((*r)[2]));
  EXPECT_FALSE(when(given({}), crm::create_contact{"", "", "", "manual", {}, false})) << "something to call it by";
}

TEST(settings, changes_are_checked_and_no_change_records_nothing) {
  auto s = given({});
  crm::change_settings c;
  c.default_region = "XX";
  EXPECT_EQ(when(s, c).error().code(), errc::invalid_argument);
  c.default_region = "IL";
  auto same = when(s, c);
  ASSERT_TRUE(same);
  EXPECT_TRUE(same->empty());
  c.time_zone = "Europe/London; DROP";
  EXPECT_FALSE(when(s, c));
  c.time_zone = "Europe/London";
  auto r = when(s, c);
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<ev::settings_changed>((*r)[0]).time_zone, "Europe/London");
  EXPECT_EQ(std::get<ev::settings_changed>((*r)[0]).language, "he") << "the rest stays";
}

TEST(settings, the_whatsapp_provider_is_baileys_or_cloud) {
  auto s = given({});
  EXPECT_EQ(s.settings.whatsapp_provider, "baileys") << "the default";
  crm::change_settings c;
  c.whatsapp_provider = "telegram";
  auto bad = when(s, c);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("whatsapp_provider"), std::string::npos);
  c.whatsapp_provider = "cloud";
  auto r = when(s, c);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(std::get<ev::settings_changed>((*r)[0]).whatsapp_provider, "cloud");
  EXPECT_EQ(std::get<ev::settings_changed>((*r)[0]).default_region, "IL") << "the rest stays";
  s = given({(*r)[0]});
  EXPECT_EQ(s.settings.whatsapp_provider, "cloud");
  auto same = when(s, c);
  ASSERT_TRUE(same);
  EXPECT_TRUE(same->empty()) << "choosing the current provider records nothing";
}

TEST(settings, a_token_is_recorded_as_changed_never_as_itself) {
  auto s = given({});
  crm::change_settings c;
  c.sealed_whatsapp_token = std::string("sealed-bytes-not-the-token");
  auto r = when(s, c);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u) << "no settings change, only the token";
  EXPECT_FALSE(std::get<ev::whatsapp_token_changed>((*r)[0]).removed);
  auto enc = codec::encode((*r)[0]);
  EXPECT_EQ(enc.payload.find("sealed-bytes"), std::string::npos) << "not even the sealed form is in the event";
  c.sealed_whatsapp_token = std::string();
  auto removed = when(s, c);
  ASSERT_TRUE(removed);
  EXPECT_TRUE(std::get<ev::whatsapp_token_changed>((*removed)[0]).removed);
  // Provider and token together: both events, settings first.
  c.whatsapp_provider = "cloud";
  c.sealed_whatsapp_token = std::string("sealed");
  auto both = when(s, c);
  ASSERT_TRUE(both);
  ASSERT_EQ(both->size(), 2u);
  EXPECT_TRUE(std::holds_alternative<ev::settings_changed>((*both)[0]));
  EXPECT_TRUE(std::holds_alternative<ev::whatsapp_token_changed>((*both)[1]));
}

TEST(contacts, snapshot_pieces_round_trip) {
  crm::contact_state c{"+972501234567", "won", true, false};
  crm::contact_state back;
  ASSERT_TRUE(tenant::decode_contact(tenant::encode_contact(c), back));
  EXPECT_EQ(back.phone, c.phone);
  EXPECT_TRUE(back.customer);
  auto s = given({ev::settings_changed{"US", "en", "UTC"}, ev::lead_created{"L4", "", "+14155552671", "", "x"}});
  tenant::state h;
  ASSERT_TRUE(tenant::decode_header(tenant::encode_header(s), h));
  EXPECT_EQ(h.settings.default_region, "US");
  EXPECT_EQ(h.contacts.next, 5u);
}

}  // namespace
}  // namespace crmd

namespace crmd {
namespace {

TEST(tasks, a_due_task_arms_a_timer_that_makes_it_due_once_and_moving_it_retires_the_old_timer) {
  tenant::state s;
  tenant::apply(s, ev::lead_created{"L1", "Dana", "", "", "manual"});
  auto made = tenant::decide(s, crm::create_task{"L1", "Call", 1000});
  ASSERT_TRUE(made);
  ASSERT_EQ(made->size(), 2u);
  auto& timer = std::get<ev::timer_set>((*made)[1]);
  EXPECT_EQ(timer.timer_id, "task:T1:0");
  for (auto& e : *made) tenant::apply(s, e);

  auto moved = tenant::decide(s, crm::reschedule_task{"T1", 5000, true});
  ASSERT_TRUE(moved);
  for (auto& e : *moved) tenant::apply(s, e);
  auto stale = tenant::decide(s, tenant::fire_timer{"task:T1:0"});
  ASSERT_TRUE(stale);
  ASSERT_EQ(stale->size(), 1u) << "the old timer fires, the task is not due";
  for (auto& e : *stale) tenant::apply(s, e);
  auto fresh = tenant::decide(s, tenant::fire_timer{"task:T1:1"});
  ASSERT_TRUE(fresh);
  ASSERT_EQ(fresh->size(), 2u);
  EXPECT_EQ(std::get<ev::task_due>((*fresh)[1]).due_us, 5000);
  for (auto& e : *fresh) tenant::apply(s, e);
  auto again = tenant::decide(s, tenant::fire_timer{"task:T1:1"});
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty()) << "exactly once";
}

TEST(tasks, done_tasks_do_not_fall_due_and_notes_need_a_contact) {
  tenant::state s;
  tenant::apply(s, ev::task_created{"T1", "", "x", 1000});
  tenant::apply(s, ev::timer_set{"task:T1:0", 1000, "task_due"});
  tenant::apply(s, ev::task_completed{"T1"});
  auto fired = tenant::decide(s, tenant::fire_timer{"task:T1:0"});
  ASSERT_TRUE(fired);
  EXPECT_EQ(fired->size(), 1u);
  EXPECT_EQ(tenant::decide(s, crm::add_note{"L1", "hi"}).error().reason(), "contact_not_found");
  EXPECT_EQ(tenant::decide(s, crm::complete_task{"T1"}).error().reason(), "task_done");
  EXPECT_EQ(tenant::decide(s, crm::reopen_task{"T9"}).error().reason(), "task_not_found");
}

}  // namespace
}  // namespace crmd

namespace crmd {
namespace {

tenant::state with_customer() {
  tenant::state s;
  tenant::apply(s, ev::lead_created{"L1", "Dana", "", "", "manual"});
  tenant::apply(s, ev::lead_converted{"L1"});
  return s;
}

TEST(documents, contract_moves_follow_the_state_machine) {
  auto s = with_customer();
  tenant::apply(s, ev::contract_created{"C1", "L1", "Deal", ""});
  struct step {
    const char* to;
    bool ok;
  };
  for (auto [to, ok] : {step{"signed", false}, step{"sent", true}, step{"sent", false}, step{"signed", true},
                        step{"cancelled", false}}) {
    auto r = tenant::decide(s, crm::move_contract{"C1", to});
    EXPECT_EQ(bool(r), ok) << to;
    if (r) for (auto& e : *r) tenant::apply(s, e);
    else EXPECT_EQ(r.error().reason(), "invalid_transition");
  }
}

TEST(documents, a_payment_must_match_the_invoice_and_is_recorded_once) {
  auto s = with_customer();
  auto made = tenant::decide(s, crm::create_invoice{"L1", "ILS", "", {{"a", 2, 100}, {"b", 1, 50}}, 0});
  ASSERT_TRUE(made);
  EXPECT_EQ(std::get<ev::invoice_created>((*made)[0]).total, 250);
  for (auto& e : *made) tenant::apply(s, e);
  EXPECT_EQ(tenant::decide(s, crm::record_payment{"I1", "stripe", "pi", "evt", "ILS", 249}).error().reason(),
            "amount_mismatch");
  auto paid = tenant::decide(s, crm::record_payment{"I1", "stripe", "pi", "evt", "ILS", 250});
  ASSERT_TRUE(paid);
  ASSERT_EQ(paid->size(), 1u);
  for (auto& e : *paid) tenant::apply(s, e);
  auto again = tenant::decide(s, crm::record_payment{"I1", "stripe", "pi", "evt", "ILS", 250});
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(tenant::decide(s, crm::void_invoice{"I1"}).error().reason(), "invalid_transition");
  EXPECT_TRUE(tenant::decide(s, tenant::fire_timer{"invoice:I1"})->empty()) << "a paid invoice is never overdue";
}

}  // namespace
}  // namespace crmd

namespace crmd {
namespace {

TEST(tasks, a_task_reopened_after_its_due_time_falls_due_again_once) {
  tenant::state s;
  auto made = tenant::decide(s, crm::create_task{"", "Call", 1000});
  ASSERT_TRUE(made);
  for (auto& e : *made) tenant::apply(s, e);
  auto done = tenant::decide(s, crm::complete_task{"T1"});
  ASSERT_TRUE(done);
  for (auto& e : *done) tenant::apply(s, e);
  auto first = tenant::decide(s, tenant::fire_timer{"task:T1:0"});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 1u) << "done: the timer fires, the task is not due";
  for (auto& e : *first) tenant::apply(s, e);
  EXPECT_FALSE(s.timers.count("task:T1:0")) << "fired timers leave the state";
  auto reopened = tenant::decide(s, crm::reopen_task{"T1"});
  ASSERT_TRUE(reopened);
  ASSERT_EQ(reopened->size(), 2u);
  EXPECT_EQ(std::get<ev::timer_set>((*reopened)[1]).timer_id, "task:T1:1");
  for (auto& e : *reopened) tenant::apply(s, e);
  auto due = tenant::decide(s, tenant::fire_timer{"task:T1:1"});
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_TRUE(std::holds_alternative<ev::task_due>((*due)[1]));
}

}  // namespace
}  // namespace crmd
