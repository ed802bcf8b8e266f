// Specifications of contact search: the in-memory index answers exactly
// what a scan of the contacts view would, and follows every change.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "projections/contact_search.hpp"
#include "projections/runner.hpp"
#include "projections/views.hpp"
#include "storage/kv.hpp"
#include "tests/support/events.hpp"

namespace crmd {
namespace {

using test::make_event;
using test::one;

const std::string dana = "\xd7\x93\xd7\xa0\xd7\x94 \xd7\x9b\xd7\x94\xd7\x9f";  // "Dana Cohen" in Hebrew
const std::string kohen = "\xd7\x9b\xd7\x94\xd7\x9f";                         // "Cohen"

struct contact_search_test : ::testing::Test {
  std::shared_ptr<kv_store> kv = make_memory_kv();
  std::unique_ptr<event_log> log = std::move(*open_event_log(kv));
  projection_runner runner{*log, kv, views::all()};
  views::contact_search search{*kv};

  void given(const std::string& id, const ev::tenant_event& e, const std::string& tenant = "acme") {
    ASSERT_TRUE(log->append(one(tenant + "/tenant/" + tenant, make_event(e, tenant + "/lead/" + id))));
    ASSERT_TRUE(runner.catch_up());
  }
  void lead(const std::string& id, const std::string& name, const std::string& phone, const std::string& email = {},
            const std::string& tenant = "acme") {
    given(id, ev::lead_created{id, name, phone, email, "manual"}, tenant);
  }
  // The names of a search's hits, in order.
  std::vector<std::string> names(const std::string& q, const std::string& kind = "lead", std::string sort = "-created_at",
                                 const std::string& status = {}, const std::string& tenant = "acme") {
    views::contact_filter f;
    f.q = q;
    f.sort = std::move(sort);
    f.status = status;
    auto p = search.list(tenant, kind, f, 1, 100);
    EXPECT_TRUE(p) << p.error().message();
    std::vector<std::string> out;
    if (!p) return out;
    EXPECT_EQ(p->total, p->items.size());
    for (auto& j : p->items) out.push_back(nlohmann::json::parse(j)["name"]);
    return out;
  }
};

TEST_F(contact_search_test, q_matches_name_email_and_phone_case_insensitively_hebrew_included) {
  lead("L1", "Avi Levi", "+972522000001", "avi@levi.test");
  lead("L2", dana, "+972501234567", "DANA@Cohen.test");
  lead("L3", "\xc3\x89lodie Martin", "+33612345678");  // "Élodie"
  EXPECT_EQ(names("LEVI"), (std::vector<std::string>{"Avi Levi"}));
  EXPECT_EQ(names("dana@cohen"), (std::vector<std::string>{dana}));
  EXPECT_EQ(names(kohen), (std::vector<std::string>{dana}));
  EXPECT_EQ(names("\xc3\xa9lodie"), (std::vector<std::string>{"\xc3\x89lodie Martin"})) << "É folds to é";
  EXPECT_EQ(names("+9725"), (std::vector<std::string>{dana, "Avi Levi"})) << "newest first";
  EXPECT_TRUE(names("nobody").empty());
}

TEST_F(contact_search_test, a_number_as_dialled_locally_finds_the_e164_phone_even_in_part) {
  lead("L1", "Avi", "+972522000001");
  lead("L2", "Dana", "+972501234567");
  EXPECT_EQ(names("050-123"), (std::vector<std::string>{"Dana"}));
  EXPECT_EQ(names("(050) 123-4567"), (std::vector<std::string>{"Dana"}));
  EXPECT_EQ(names("0522000001"), (std::vector<std::string>{"Avi"}));
  EXPECT_EQ(names("+972 50 123"), (std::vector<std::string>{"Dana"}));
}

TEST_F(contact_search_test, the_index_follows_updates_conversions_and_deletions) {
  lead("L1", "Avi", "+972522000001");
  lead("L2", "Bina", "+972522000002");
  lead("L3", "Chen", "+972522000003");
  EXPECT_EQ(names("i").size(), 2u) << "built on the first search";
  given("L1", ev::lead_updated{"L1", std::string("Aviva"), {}, {}, std::string("qualified")});
  EXPECT_EQ(names("aviva"), (std::vector<std::string>{"Aviva"}));
  EXPECT_EQ(names("", "lead", "-created_at", "qualified"), (std::vector<std::string>{"Aviva"}));
  given("L2", ev::lead_converted{"L2"});
  EXPECT_EQ(names("bina", "lead"), (std::vector<std::string>{}));
  EXPECT_EQ(names("bina", "customer"), (std::vector<std::string>{"Bina"}));
  given("L3", ev::lead_deleted{"L3"});
  EXPECT_TRUE(names("chen").empty());
  EXPECT_EQ(names(""), (std::vector<std::string>{"Aviva"})) << "the only live lead";
}

TEST_F(contact_search_test, sorts_by_name_update_and_creation_either_way) {
  lead("L1", "Bina", "+972522000001");
  lead("L2", "Avi", "+972522000002");
  lead("L3", "Chen", "+972522000003");
  given("L1", ev::lead_updated{"L1", {}, {}, std::string("b@x.test"), {}});
  EXPECT_EQ(names("", "lead", "name"), (std::vector<std::string>{"Avi", "Bina", "Chen"}));
  EXPECT_EQ(names("", "lead", "-name"), (std::vector<std::string>{"Chen", "Bina", "Avi"}));
  EXPECT_EQ(names("", "lead", "created_at"), (std::vector<std::string>{"Bina", "Avi", "Chen"}));
  EXPECT_EQ(names("", "lead", "-updated_at").front(), "Bina");
  EXPECT_EQ(names("", "lead", "updated_at").back(), "Bina");
}

TEST_F(contact_search_test, pages_count_every_hit_and_tenants_never_see_each_other) {
  for (int i = 0; i < 30; ++i) lead("L" + std::to_string(i + 1), "Customer " + std::to_string(i), "");
  lead("L1", "Customer of beta", "", "", "beta");
  views::contact_filter f;
  f.q = "customer";
  auto p2 = search.list("acme", "lead", f, 2, 25);
  ASSERT_TRUE(p2);
  EXPECT_EQ(p2->total, 30u);
  EXPECT_EQ(p2->items.size(), 5u);
  EXPECT_EQ(names("of beta"), (std::vector<std::string>{}));
  EXPECT_EQ(names("customer", "lead", "-created_at", "", "beta"), (std::vector<std::string>{"Customer of beta"}));
}

TEST_F(contact_search_test, a_plain_list_pages_exactly_as_the_view_before_and_after_every_kind_of_change) {
  for (int i = 1; i <= 60; ++i) lead("L" + std::to_string(i), "Name " + std::to_string(i), "");
  uint64_t restarts = 0;  // an in-place rebuild runs with crmd stopped: the next epoch is another process's
  auto epoch = [&] { return runner.epoch() + (restarts << 32); };
  auto same_pages = [&](const std::string& when) {
    for (uint64_t page = 1; page <= 4; ++page)
      for (int twice = 0; twice < 2; ++twice) {  // the second read starts where the first one found
        auto want = views::list_contacts(*kv, "acme", "lead", page, 25);
        auto got = search.list_plain("acme", "lead", page, 25, epoch());
        ASSERT_TRUE(want && got);
        EXPECT_EQ(got->items, want->items) << when << ", page " << page;
        EXPECT_EQ(got->total, want->total) << when;
      }
  };
  same_pages("at first");
  EXPECT_EQ(nlohmann::json::parse(search.list_plain("acme", "lead", 2, 25, epoch())->items.at(0))["id"], "L35");
  given("L60", ev::lead_deleted{"L60"});
  same_pages("after a deletion on page 1");
  EXPECT_EQ(nlohmann::json::parse(search.list_plain("acme", "lead", 2, 25, epoch())->items.at(0))["id"], "L34");
  lead("L61", "Name 61", "");
  same_pages("after a new lead");
  lead("L1", "Another tenant's", "", "", "beta");
  same_pages("after another tenant's change (the remembered starts are checked and kept)");
  given("L50", ev::lead_converted{"L50"});
  same_pages("after a conversion");
  ASSERT_TRUE(log->erase_subject("acme/lead/L40"));
  auto view = views::by_name("contacts");
  ASSERT_TRUE(rebuild_view(*log, *kv, *view));  // in place: the change log's head does not move
  ++restarts;
  same_pages("after an erasure and a rebuild in place");
  EXPECT_TRUE(search.list_plain("acme", "lead", 9, 25, epoch())->items.empty()) << "past the end";
}

TEST_F(contact_search_test, an_erasure_and_rebuild_of_the_view_is_noticed_and_the_index_rebuilt) {
  lead("L1", "Avi", "");
  lead("L2", "Bina", "");
  EXPECT_EQ(names("").size(), 2u);
  // The subject is erased and the view rebuilt in place (crmd rebuild): its
  // change log ends where the index's cursor already is, only counts differ.
  ASSERT_TRUE(log->erase_subject("acme/lead/L1"));
  auto view = views::by_name("contacts");
  ASSERT_TRUE(rebuild_view(*log, *kv, *view));
  EXPECT_EQ(names(""), (std::vector<std::string>{"Bina"}));
  lead("L3", "Chen", "");
  EXPECT_EQ(names(""), (std::vector<std::string>{"Chen", "Bina"}));
}

TEST_F(contact_search_test, many_changes_to_few_contacts_compact_the_index_without_losing_any) {
  for (int i = 1; i <= 10; ++i) lead("L" + std::to_string(i), "Name " + std::to_string(i), "");
  EXPECT_EQ(names("name").size(), 10u);
  for (int round = 0; round < 500; ++round)
    for (int i = 1; i <= 10; ++i) {
      std::string id = "L" + std::to_string(i);
      ASSERT_TRUE(log->append(one("acme/tenant/acme", make_event(ev::lead_updated{id, "Name " + std::to_string(i) +
                                                                                       " r" + std::to_string(round)},
                                                                 "acme/lead/" + id))));
    }
  ASSERT_TRUE(runner.catch_up());
  EXPECT_EQ(names("r499").size(), 10u);
  EXPECT_TRUE(names("r498").empty()) << "old text is gone";
  EXPECT_EQ(names("name 10 r499"), (std::vector<std::string>{"Name 10 r499"}));
  // 5000 changes went in; dead slots are compacted once they pass 4096 and
  // outnumber the living, so at most ~4096 stale rows (~55 bytes each) remain.
  EXPECT_LT(search.bytes(), 400'000u) << "dead slots were compacted away";
}

TEST_F(contact_search_test, the_view_finds_a_live_contact_by_its_phone) {
  lead("L1", "Avi", "+972522000001");
  auto by = [&](const std::string& phone) {
    auto r = views::contact_by_phone(*kv, "acme", phone);
    EXPECT_TRUE(r);
    return r && *r ? **r : std::string("-");
  };
  EXPECT_EQ(by("+972522000001"), "L1");
  given("L1", ev::lead_updated{"L1", {}, std::string("+972522000009"), {}, {}});
  EXPECT_EQ(by("+972522000001"), "-") << "the old number is free";
  EXPECT_EQ(by("+972522000009"), "L1");
  given("L1", ev::lead_converted{"L1"});
  EXPECT_EQ(by("+972522000009"), "L1") << "a customer keeps its number";
  given("L1", ev::lead_deleted{"L1"});
  EXPECT_EQ(by("+972522000009"), "-");
  EXPECT_EQ(by("+972522000009"), "-");
}

TEST(fold_case, lowers_latin_greek_and_cyrillic_and_leaves_hebrew) {
  EXPECT_EQ(views::fold_case("ABC xyz"), "abc xyz");
  EXPECT_EQ(views::fold_case("\xc3\x89\xc3\x97"), "\xc3\xa9\xc3\x97") << "É -> é; × stays";
  EXPECT_EQ(views::fold_case("\xce\xa3\xce\x91"), "\xcf\x83\xce\xb1") << "ΣΑ -> σα";
  EXPECT_EQ(views::fold_case("\xd0\x9f\xd0\xa0\xd0\x81"), "\xd0\xbf\xd1\x80\xd1\x91") << "ПРЁ -> прё";
  EXPECT_EQ(views::fold_case(dana), dana);
  EXPECT_EQ(views::fold_case("\xff\xc3"), "\xff\xc3") << "broken UTF-8 passes through";
}

}  // namespace
}  // namespace crmd
