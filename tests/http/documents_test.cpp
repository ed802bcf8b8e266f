// Contracts, signatures, invoices and Stripe payments end to end, against a
// fake Stripe on loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "connectors/stripe_signature.hpp"
#include "events/time_format.hpp"
#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/fake_http_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::body;
using test::crmd_server;
using test::expect_error;
using namespace std::chrono_literals;

const char* webhook_secret = "whsec_test_0123456789";


struct documents_test : ::testing::Test {
  test::fake_http_server stripe{[](const test::fake_request& r) {
    if (r.target != "/v1/payment_intents") return test::fake_response{404, R"({"error":{"message":"no"}})"};
    return test::fake_response{200, R"({"id":"pi_123","object":"payment_intent","client_secret":"pi_123_secret_abc",)"
                                    R"("status":"requires_payment_method","amount":35000,"currency":"ils"})"};
  }};
  test::temp_dir dir;
  crmd_server s{dir.sub("data"),
                {{"STRIPE_API_BASE", "http://127.0.0.1:" + std::to_string(stripe.port())},
                 {"STRIPE_SECRET_KEY", "sk_test_fake"},
                 {"STRIPE_WEBHOOK_SECRET", webhook_secret}}};
  std::string customer;

  test::http_result call(const std::string& m, const std::string& p, const std::string& b = {},
                         std::vector<std::string> h = {}) {
    h.push_back(crmd_server::auth());
    h.push_back(crmd_server::json());
    return test::http(m, s.url(p + (p.find('?') == std::string::npos ? "?" : "&") + "business_id=acme"), b, h);
  }
  void SetUp() override {
    ASSERT_TRUE(s.start());
    ASSERT_EQ(s.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
    auto r = call("POST", "/api/crm/customers", R"({"name":"Dana","phone":"050-123-4567"})");
    ASSERT_EQ(r.status, 201) << r.body;
    customer = body(r)["id"];
  }
  test::http_result webhook(const std::string& payload, const std::string& signature) {
    return test::http("POST", s.url("/webhook/stripe"), payload,
                      {"Content-Type: application/json", "Stripe-Signature: " + signature});
  }
};

TEST_F(documents_test, a_contract_goes_draft_sent_signed_with_signature_evidence) {
  auto c = call("POST", "/api/contracts", json{{"customer_id", customer}, {"title", "Service agreement"}}.dump());
  ASSERT_EQ(c.status, 201) << c.body;
  std::string id = body(c)["id"];
  std::string sha(64, 'a');
  auto sig = json{{"signer_name", "Dana"}, {"signer_email", "dana@x.test"}, {"document_sha256", sha}}.dump();
  expect_error(call("POST", "/api/contracts/" + id + "/signatures", sig), 409, "invalid_transition");
  expect_error(call("POST", "/api/contracts/" + id + "/sign"), 409, "invalid_transition");
  ASSERT_EQ(call("POST", "/api/contracts/" + id + "/send").status, 200);
  expect_error(call("POST", "/api/contracts/" + id + "/signatures",
                    json{{"signer_name", "Dana"}, {"signer_email", "dana@x.test"}, {"document_sha256", "abc"}}.dump()),
               400, "invalid_field");
  auto recorded = call("POST", "/api/contracts/" + id + "/signatures", sig, {"User-Agent: SignPad/1.0"});
  ASSERT_EQ(recorded.status, 201) << recorded.body;
  ASSERT_EQ(call("POST", "/api/contracts/" + id + "/sign").status, 200);
  expect_error(call("POST", "/api/contracts/" + id + "/cancel"), 409, "invalid_transition");
  expect_error(call("POST", "/api/contracts/" + id + "/send"), 409, "invalid_transition");
  EXPECT_EQ(body(call("GET", "/api/contracts/" + id))["contract"]["status"], "signed");
  auto sigs = body(call("GET", "/api/signatures?contract_id=" + id));
  ASSERT_EQ(sigs["total"], 1);
  EXPECT_EQ(sigs["results"][0]["document_sha256"], sha);
  EXPECT_EQ(sigs["results"][0]["client_address"], "127.0.0.1");
  EXPECT_EQ(sigs["results"][0]["user_agent"], "SignPad/1.0");
  EXPECT_TRUE(sigs["results"][0]["signed_at"].is_string());
  auto list = body(call("GET", "/api/contracts?customer_id=" + customer));
  EXPECT_EQ(list["total"], 1);
  auto other = call("POST", "/api/contracts", json{{"customer_id", customer}, {"title", "Draft"}}.dump());
  ASSERT_EQ(call("POST", "/api/contracts/" + std::string(body(other)["id"]) + "/cancel").status, 200);
  auto tl = body(call("GET", "/api/customers/" + customer + "/timeline?limit=50"));
  std::string types;
  for (auto& i : tl["items"]) types += std::string(i["type"]) + " ";
  EXPECT_NE(types.find("contract.signed"), std::string::npos) << types;
  EXPECT_NE(types.find("signature"), std::string::npos) << types;
  expect_error(call("POST", "/api/contracts", json{{"customer_id", "L999"}, {"title", "x"}}.dump()), 404,
               "contact_not_found");
}

TEST_F(documents_test, invoice_totals_are_computed_by_crmd_and_overdue_comes_by_timer) {
  auto due = rfc3339(std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch() + 700ms).count());
  auto r = call("POST", "/api/invoices",
                json{{"customer_id", customer}, {"currency", "ILS"}, {"due_at", due}, {"total", 1},
                     {"lines", {{{"description", "Setup"}, {"quantity", 2}, {"unit_amount", 10000}},
                                {{"description", "\xd7\xa9\xd7\x99\xd7\xa8\xd7\x95\xd7\xaa"}, {"unit_amount", 15000}}}}}
                    .dump());
  ASSERT_EQ(r.status, 201) << r.body;
  std::string id = body(r)["id"];
  auto inv = body(call("GET", "/api/invoices/" + id))["invoice"];
  EXPECT_EQ(inv["total"], 35000) << "the client's total is ignored";
  EXPECT_EQ(inv["lines"][1]["quantity"], 1);
  EXPECT_EQ(inv["status"], "pending");
  bool overdue = false;
  for (int i = 0; i < 100 && !overdue; ++i) {
    std::this_thread::sleep_for(50ms);
    overdue = body(call("GET", "/api/invoices/" + id))["invoice"]["status"] == "overdue";
  }
  EXPECT_TRUE(overdue);
  expect_error(call("POST", "/api/invoices", json{{"customer_id", customer}, {"currency", "ils"},
                                                  {"lines", {{{"description", "x"}, {"unit_amount", 1}}}}}.dump()),
               400, "invalid_field");
  expect_error(call("POST", "/api/invoices", json{{"customer_id", customer}, {"currency", "ILS"},
                                                  {"lines", {{{"description", "x"}, {"unit_amount", 1.5}}}}}.dump()),
               400, "invalid_field");
  expect_error(call("POST", "/api/invoices", json{{"customer_id", customer}, {"currency", "ILS"},
                                                  {"lines", {{{"description", "x"}, {"quantity", 1000000},
                                                              {"unit_amount", INT64_MAX / 2}}}}}.dump()),
               400, "invalid_field");
  expect_error(call("POST", "/api/invoices", json{{"customer_id", customer}, {"currency", "ILS"}, {"lines", json::array()}}.dump()),
               400, "invalid_field");
  ASSERT_EQ(call("POST", "/api/invoices/" + id + "/void").status, 200);
  expect_error(call("POST", "/api/invoices/" + id + "/void"), 409, "invalid_transition");
}

TEST_F(documents_test, stripe_payment_intent_then_a_signed_webhook_marks_the_invoice_paid_once) {
  auto r = call("POST", "/api/invoices", json{{"customer_id", customer}, {"currency", "ILS"},
                                              {"lines", {{{"description", "Plan"}, {"unit_amount", 35000}}}}}.dump());
  std::string id = body(r)["id"];
  auto pi = call("POST", "/api/invoices/" + id + "/payment_intent");
  ASSERT_EQ(pi.status, 200) << pi.body;
  EXPECT_EQ(body(pi)["client_secret"], "pi_123_secret_abc");
  auto calls = stripe.requests();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].header("authorization"), "Bearer sk_test_fake");
  EXPECT_EQ(calls[0].header("idempotency-key"), "crmd-acme-" + id);
  EXPECT_NE(calls[0].body.find("amount=35000"), std::string::npos) << calls[0].body;
  EXPECT_NE(calls[0].body.find("currency=ils"), std::string::npos) << calls[0].body;
  EXPECT_NE(calls[0].body.find("metadata[invoice_id]=" + id), std::string::npos) << calls[0].body;
  EXPECT_NE(calls[0].body.find("metadata[tenant_id]=acme"), std::string::npos) << calls[0].body;
  EXPECT_EQ(test::count_events(dir, "payment_intent_recorded"), 1u) << "the call's outcome is an event";

  std::string event = json{{"id", "evt_1"}, {"type", "payment_intent.succeeded"},
                           {"data", {{"object", {{"id", "pi_123"}, {"amount", 35000}, {"currency", "ils"},
                                                 {"metadata", {{"invoice_id", id}, {"tenant_id", "acme"}}}}}}}}
                          .dump();
  int64_t now = std::time(nullptr);
  expect_error(webhook(event, ""), 400, "invalid_signature");
  expect_error(webhook(event, connectors::stripe_signature_header(event, "whsec_wrong", now)), 400, "invalid_signature");
  expect_error(webhook(event, connectors::stripe_signature_header(event, webhook_secret, now - 600)), 400,
               "invalid_signature");
  expect_error(webhook(event + " ", connectors::stripe_signature_header(event, webhook_secret, now)), 400,
               "invalid_signature");
  EXPECT_EQ(body(call("GET", "/api/invoices/" + id))["invoice"]["status"], "pending");

  auto ok = webhook(event, connectors::stripe_signature_header(event, webhook_secret, now));
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto again = webhook(event, connectors::stripe_signature_header(event, webhook_secret, now));
  EXPECT_EQ(again.status, 200) << "a redelivery is acknowledged";
  std::string paid;
  for (int i = 0; i < 50 && paid != "paid"; ++i) {
    paid = body(call("GET", "/api/invoices/" + id + "?min_position=1"))["invoice"]["status"];
    if (paid != "paid") std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(paid, "paid");
  EXPECT_EQ(test::count_events(dir, "invoice_paid"), 1u);
  expect_error(call("POST", "/api/invoices/" + id + "/payment_intent"), 409, "invalid_transition");
  // Correctly signed but malformed: refused, nothing recorded.
  for (std::string bad : {std::string("not json"), std::string(R"({"type":"payment_intent.succeeded"})"),
                          std::string(R"({"id":"evt_3","type":"payment_intent.succeeded","data":{"object":{"amount":"x"}}})")})
    expect_error(webhook(bad, connectors::stripe_signature_header(bad, webhook_secret, now)), 400,
                 bad == "not json" || bad.find("evt_3") == std::string::npos ? "invalid_json" : "invalid_field");
  EXPECT_EQ(test::count_events(dir, "invoice_paid"), 1u);
  std::string other_type = R"({"id":"evt_2","type":"customer.created","data":{"object":{}}})";
  EXPECT_EQ(webhook(other_type, connectors::stripe_signature_header(other_type, webhook_secret, now)).status, 200);
}

TEST_F(documents_test, only_forged_webhooks_are_rate_limited_never_validly_signed_ones) {
  std::string event = R"({"id":"evt_9","type":"customer.created","data":{"object":{}}})";
  int64_t now = std::time(nullptr);
  for (int i = 0; i < 10; ++i) expect_error(webhook(event, "t=1,v1=00"), 400, "invalid_signature");
  auto limited = webhook(event, "t=1,v1=00");
  expect_error(limited, 429, "rate_limited");
  EXPECT_FALSE(limited.headers["retry-after"].empty());
  auto valid = webhook(event, connectors::stripe_signature_header(event, webhook_secret, now));
  EXPECT_EQ(valid.status, 200) << "the same address, validly signed, is never limited: " << valid.body;
}

TEST_F(documents_test, deals_move_through_the_tenants_pipeline_until_won_or_lost) {
  auto d = call("POST", "/api/crm/deals", json{{"customer_id", customer}, {"title", "Annual plan"}, {"amount", 120000},
                                               {"currency", "ILS"}, {"expected_close_at", "2026-12-31T00:00:00Z"}}.dump());
  ASSERT_EQ(d.status, 201) << d.body;
  std::string id = body(d)["id"];
  auto got = body(call("GET", "/api/crm/deals/" + id))["deal"];
  EXPECT_EQ(got["stage"], "new");
  EXPECT_EQ(got["expected_close_at"], "2026-12-31T00:00:00.000Z");
  expect_error(call("PATCH", "/api/crm/deals/" + id, R"({"stage":"dreaming"})"), 400, "invalid_field");
  ASSERT_EQ(call("PATCH", "/api/crm/deals/" + id, R"({"stage":"proposal","amount":150000})").status, 200);
  // The pipeline cannot drop a stage an open deal is in.
  expect_error(call("PATCH", "/api/business/acme/settings", R"({"pipeline":["lead","won over"]})"), 409, "stage_in_use");
  ASSERT_EQ(call("PATCH", "/api/crm/deals/" + id, R"({"status":"won"})").status, 200);
  expect_error(call("PATCH", "/api/crm/deals/" + id, R"({"stage":"new"})"), 409, "deal_closed");
  auto closed = body(call("GET", "/api/crm/deals/" + id))["deal"];
  EXPECT_EQ(closed["status"], "won");
  EXPECT_EQ(closed["amount"], 150000);
  ASSERT_EQ(call("PATCH", "/api/business/acme/settings", R"({"pipeline":["lead","demo","offer"]})").status, 200);
  EXPECT_EQ(body(call("GET", "/api/business/acme/settings"))["settings"]["pipeline"], json::array({"lead", "demo", "offer"}));
  auto d2 = call("POST", "/api/crm/deals", json{{"customer_id", customer}, {"title", "Add-on"}, {"currency", "ILS"}}.dump());
  ASSERT_EQ(d2.status, 201);
  EXPECT_EQ(body(call("GET", "/api/crm/deals/" + std::string(body(d2)["id"])))["deal"]["stage"], "lead");
  EXPECT_EQ(body(call("GET", "/api/crm/deals?customer_id=" + customer))["total"], 2);
  expect_error(call("POST", "/api/crm/deals", json{{"customer_id", customer}, {"title", "x"}, {"currency", "ILS"},
                                                    {"amount", "lots"}}.dump()),
               400, "invalid_field");
}

}  // namespace
}  // namespace crmd
