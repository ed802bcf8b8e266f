// Twilio voice end to end on the real crmd serve, with fake Twilio media,
// two fake speech-to-text providers (the primary failing) and a fake LLM on
// 127.0.0.1. Requests are signed the way Twilio signs them.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "connectors/twilio_signature.hpp"
#include "tests/support/api_json.hpp"
#include "tests/support/crmd_server.hpp"
#include "tests/support/fake_http_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd {
namespace {

using json = nlohmann::json;
using test::body;
using test::crmd_server;
using test::fake_http_server;
using test::fake_request;
using test::fake_response;

const std::string token = "test-twilio-auth-token";
const std::string host = "https://crm.example.test";
const std::string shalom = "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d";  // "shalom"

std::atomic<int> media_calls{0};
std::atomic<int> media_404s_left{1};  // the file "does not exist yet" at first
std::atomic<bool> fallback_fails{false};  // with the primary's 500s: both providers fail
std::atomic<bool> media_forbidden{false};  // the media server refuses (403: not retried)
std::atomic<bool> llm_fails{false};
// What the fake providers were last sent (the servers answer on their own threads).
std::mutex seen_mu;
std::string media_target, fallback_body, llm_body;
std::string seen(const std::string& what) {
  std::lock_guard lock(seen_mu);
  return what;
}

class twilio_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    media_ = new fake_http_server([](const fake_request& r) {
      ++media_calls;
      {
        std::lock_guard lock(seen_mu);
        media_target = r.target;
      }
      // Basic auth ACtest:test-twilio-auth-token.
      if (r.header("authorization") != "Basic QUN0ZXN0OnRlc3QtdHdpbGlvLWF1dGgtdG9rZW4=") return fake_response{401, "", "text/plain"};
      if (media_forbidden) return fake_response{403, "", "text/plain"};
      if (media_404s_left-- > 0) return fake_response{404, "", "text/plain"};
      return fake_response{200, "ID3-fake-mp3-bytes", "audio/mpeg"};
    });
    primary_ = new fake_http_server([](const fake_request&) { return fake_response{500, "{}", "application/json"}; });
    fallback_ = new fake_http_server([](const fake_request& r) {
      if (fallback_fails) return fake_response{503, "{}", "application/json"};
      {
        std::lock_guard lock(seen_mu);
        fallback_body = r.body;
      }
      if (r.body.find("name=\"language\"") == std::string::npos) return fake_response{400, "{}", "application/json"};
      return fake_response{200, json{{"text", shalom + " I need a quote"}}.dump(), "application/json"};
    });
    llm_ = new fake_http_server([](const fake_request& r) {
      {
        std::lock_guard lock(seen_mu);
        llm_body = r.body;
      }
      if (llm_fails) return fake_response{500, "{}", "application/json"};
      return fake_response{200, json{{"choices", {{{"message", {{"content", "Wants a quote."}}}}}}}.dump(),
                           "application/json"};
    });
    dir_ = new test::temp_dir;
    env_ = {{"TWILIO_AUTH_TOKEN", token},
            {"TWILIO_ACCOUNT_SID", "ACtest"},
            {"PUBLIC_HOST", host},
            {"CRMD_STT_PRIMARY_URL", primary_->base_url()},
            {"CRMD_STT_PRIMARY_KEY", "sk-primary-never-logged"},
            {"CRMD_LLM_KEY", "sk-llm-never-logged"},
            {"CRMD_STT_FALLBACK_URL", fallback_->base_url()},
            {"CRMD_LLM_URL", llm_->base_url()}};
    server_ = new crmd_server(dir_->sub("data"), env_);
    ASSERT_TRUE(server_->start());
    ASSERT_EQ(server_->post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
    auto n = server_->put("/api/admin/tenants/acme/phone_numbers", R"({"phone_numbers":["+972 3-376-3805"]})");
    ASSERT_EQ(n.status, 200) << n.body;
    ASSERT_EQ(body(n)["phone_numbers"][0], "+97233763805");
    auto v = server_->put("/api/admin/tenants/acme/voice",
                          json{{"greeting_text", "Hi <& welcome>"}, {"language", "he-IL"}, {"max_recording_s", 60}}.dump());
    ASSERT_EQ(v.status, 200) << v.body;
  }
  static void TearDownTestSuite() {
    server_->terminate();
    delete server_;
    delete dir_;
    delete media_;
    delete primary_;
    delete fallback_;
    delete llm_;
  }
  // POSTs `form` to `path` signed as Twilio signs it for `signed_url` (by default the public URL).
  static test::http_result twilio(const std::string& path, const std::string& form, std::string signed_url = "",
                                  bool sign = true) {
    if (signed_url.empty()) signed_url = host + path;
    std::vector<std::string> h{"Content-Type: application/x-www-form-urlencoded"};
    if (sign) h.push_back("X-Twilio-Signature: " + connectors::twilio::compute_signature(
                                                         token, signed_url, *connectors::twilio::parse_form(form)));
    return test::http("POST", server_->url(path), form, h);
  }
  static size_t events(const std::string& type, const std::string& needle = "") {
    return test::count_events(*dir_, type, needle);
  }
  static test::temp_dir* dir_;
  static crmd_server* server_;
  static fake_http_server *media_, *primary_, *fallback_, *llm_;
  static std::vector<std::pair<std::string, std::string>> env_;
};
test::temp_dir* twilio_test::dir_ = nullptr;
crmd_server* twilio_test::server_ = nullptr;
fake_http_server *twilio_test::media_ = nullptr, *twilio_test::primary_ = nullptr, *twilio_test::fallback_ = nullptr,
                 *twilio_test::llm_ = nullptr;
std::vector<std::pair<std::string, std::string>> twilio_test::env_;

std::string call_contact(const test::http_result& r) { return body(r)["call"]["contact_id"]; }

const std::string incoming = "CallSid=CA100&From=%2B972501234567&To=%2B97233763805&CallStatus=ringing&Direction=inbound";

TEST_F(twilio_test, a_signed_incoming_call_gets_the_tenants_greeting_and_a_record_verb) {
  auto r = twilio("/webhook/incoming_call", incoming);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "text/xml; charset=utf-8");
  EXPECT_EQ(r.body.rfind("<?xml", 0), 0u) << "nothing may precede <?xml";
  EXPECT_NE(r.body.find("<Say language=\"he-IL\">Hi &lt;&amp; welcome&gt;</Say>"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<Record action=\"https://crm.example.test/webhook/handle_recording?tenant=acme\""),
            std::string::npos) << r.body;
  EXPECT_NE(r.body.find("maxLength=\"60\""), std::string::npos);
  EXPECT_NE(r.body.find("recordingStatusCallback=\"https://crm.example.test/webhook/recording_status?tenant=acme\""),
            std::string::npos);
  // Twilio retries: the same webhook again starts nothing new.
  ASSERT_EQ(twilio("/webhook/incoming_call", incoming).status, 200);
  EXPECT_EQ(events("call_started", "CA100"), 1u);
  // A second call from the same number reaches the same lead.
  ASSERT_EQ(twilio("/webhook/incoming_call", "CallSid=CA101&From=%2B972501234567&To=%2B97233763805").status, 200);
  EXPECT_EQ(events("lead_created", "+972501234567"), 1u);
  // The caller became a lead with source phone.
  auto leads = body(server_->get("/api/leads?business_id=acme&q=0501234567"));
  ASSERT_EQ(leads["total"], 1) << leads.dump();
  EXPECT_EQ(leads["results"][0]["source"], "phone");
}

TEST_F(twilio_test, the_go_no_go_check_works_on_the_voice_alias_with_an_unencoded_plus) {
  // curl -d "CallSid=CA_test&From=+1555000&To=+1555001": '+' arrives as a space,
  // and the signature is over what Twilio (here: the test) sent.
  auto r = twilio("/webhook/twilio/voice", "CallSid=CA_test&From=+1555000&To=+97233763805");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<Record"), std::string::npos);
  EXPECT_EQ(events("call_started", "+1555000"), 1u) << "the space was read as the '+' it was";
}

TEST_F(twilio_test, missing_or_wrong_signatures_get_403_and_other_methods_405) {
  EXPECT_EQ(twilio("/webhook/incoming_call", incoming, "", false).status, 403);
  EXPECT_EQ(twilio("/webhook/incoming_call", incoming, "https://evil.example/webhook/incoming_call").status, 403);
  EXPECT_EQ(twilio("/webhook/incoming_call", incoming, host + "/webhook/incoming_call/").status, 403)
      << "a trailing slash changes the hash";
  EXPECT_EQ(twilio("/webhook/incoming_call", incoming, "https://crm.example.test:443/webhook/incoming_call").status, 200)
      << "signed with the default port";
  EXPECT_EQ(twilio("/webhook/incoming_call", incoming + "&Digits=1", host + "/webhook/incoming_call").status, 200);
  for (const char* path : {"/webhook/incoming_call", "/webhook/call_status", "/webhook/recording_status",
                           "/webhook/handle_recording", "/webhook/twilio/voice"})
    EXPECT_EQ(test::http("GET", server_->url(path)).status, 405) << path;
}

TEST_F(twilio_test, a_signed_request_missing_a_field_gets_twiml_not_json) {
  auto r = twilio("/webhook/incoming_call", "From=%2B972501234567&To=%2B97233763805");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/xml; charset=utf-8");
  EXPECT_NE(r.body.find("<Say"), std::string::npos);
  EXPECT_EQ(r.body.find("\"ok\""), std::string::npos);
  // Every other webhook too: Twilio never sees JSON from crmd.
  for (const char* path : {"/webhook/call_status", "/webhook/handle_recording?tenant=acme",
                           "/webhook/recording_status?tenant=acme"}) {
    auto other = twilio(path, "From=%2B972501234567&To=%2B97233763805");
    EXPECT_LT(other.status, 500) << path;
    EXPECT_EQ(other.headers["content-type"].rfind("application/json", 0), std::string::npos) << path;
    EXPECT_EQ(other.body.find("\"ok\""), std::string::npos) << path << ": " << other.body;
  }
}

// A caller who is already a customer: the call is theirs, no lead is made;
// calls are listed by customer and by lead, a page at a time.
TEST_F(twilio_test, a_known_customer_gets_the_call_and_calls_list_by_contact_and_page) {
  auto customer = test::http("POST", server_->url("/api/crm/customers?business_id=acme"),
                             json{{"name", "Yossi"}, {"phone", "+972508888888"}}.dump(), {crmd_server::auth(), crmd_server::json()});
  ASSERT_EQ(customer.status, 201) << customer.body;
  std::string customer_id = body(customer)["id"];
  // Read back (after the caller's own writes): the contacts view has the
  // number before Twilio calls from it.
  ASSERT_EQ(server_->get("/api/crm/customers/" + customer_id + "?business_id=acme").status, 200);
  size_t contacts_made = events("lead_created", "+972508888888");  // the customer's own
  ASSERT_EQ(twilio("/webhook/incoming_call", "CallSid=CA800&From=%2B972508888888&To=%2B97233763805").status, 200);
  // The call's contact once the calls view has it.
  auto contact_of = [](const std::string& sid) {
    for (int i = 0; i < 50; ++i) {
      auto j = body(server_->get("/api/calls/" + sid + "?business_id=acme"));
      if (j.contains("call") && j["call"].is_object() && !j["call"].value("contact_id", "").empty())
        return j["call"].value("contact_id", "");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::string();
  };
  EXPECT_EQ(contact_of("CA800"), customer_id);
  EXPECT_EQ(events("lead_created", "+972508888888"), contacts_made) << "a customer's number makes no lead";
  // Two calls from a new number: one lead, both calls listed under it.
  for (const char* sid : {"CA801", "CA802"})
    ASSERT_EQ(twilio("/webhook/incoming_call", std::string("CallSid=") + sid + "&From=%2B972509999999&To=%2B97233763805").status,
              200);
  std::string lead = contact_of("CA802");
  ASSERT_FALSE(lead.empty());
  EXPECT_EQ(contact_of("CA801"), lead);
  json first;
  for (int i = 0; i < 50; ++i) {
    first = body(server_->get("/api/calls?business_id=acme&lead_id=" + lead + "&page=1&limit=1"));
    if (first.value("total", 0) == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(first["total"], 2) << first.dump();
  EXPECT_EQ(first["results"].size(), 1u);
  auto second = body(server_->get("/api/calls?business_id=acme&lead_id=" + lead + "&page=2&limit=1"));
  ASSERT_EQ(second["results"].size(), 1u) << second.dump();
  EXPECT_NE(first["results"][0].dump(), second["results"][0].dump()) << "two pages, two calls";
  EXPECT_EQ(body(server_->get("/api/calls?business_id=acme&lead_id=" + lead + "&page=3&limit=1"))["results"].size(), 0u);
  auto theirs = body(server_->get("/api/calls?business_id=acme&customer_id=" + customer_id));
  EXPECT_EQ(theirs["total"], 1) << theirs.dump();
  test::expect_error(server_->get("/api/calls?business_id=acme&limit=0"), 400, "invalid_field");
}

TEST_F(twilio_test, an_unknown_number_gets_a_polite_message_and_an_event_never_a_5xx) {
  auto r = twilio("/webhook/incoming_call", "CallSid=CA200&From=%2B972501111111&To=%2B12025550123");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("not connected"), std::string::npos);
  EXPECT_EQ(events("call_unrouted", "CA200"), 1u);
  EXPECT_EQ(events("call_started", "CA200"), 0u);
}

TEST_F(twilio_test, hostile_input_is_refused_and_other_tenants_see_nothing) {
  // A body that is not a form of UTF-8 text: 400, before any signature work.
  auto bad = test::http("POST", server_->url("/webhook/incoming_call"), "CallSid=%FF%FE&From=x",
                        {"Content-Type: application/x-www-form-urlencoded"});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.headers["content-type"], "text/plain; charset=utf-8");
  // Voice settings are checked.
  test::expect_error(server_->put("/api/admin/tenants/acme/voice", R"({"language":"he IL"})"), 400, "invalid_field");
  test::expect_error(server_->put("/api/admin/tenants/acme/voice", R"({"max_recording_s":0})"), 400, "invalid_field");
  test::expect_error(server_->put("/api/admin/tenants/acme/voice", R"({"greeting_url":"ftp://x"})"), 400, "invalid_field");
  test::expect_error(server_->put("/api/admin/tenants/acme/phone_numbers", R"({"phone_numbers":"+97233763805"})"), 400,
                     "invalid_field");
  // A call of acme is not another tenant's.
  ASSERT_EQ(twilio("/webhook/incoming_call", "CallSid=CA600&From=%2B972505555555&To=%2B97233763805").status, 200);
  auto gamma = server_->post("/api/admin/tenants", R"({"id":"gamma","name":"Gamma"})");
  ASSERT_TRUE(gamma.status == 201 || gamma.status == 409);
  EXPECT_EQ(server_->get("/api/calls/CA600?business_id=acme").status, 200);
  test::expect_error(server_->get("/api/calls/CA600?business_id=gamma"), 404, "call_not_found");
  EXPECT_EQ(body(server_->get("/api/calls?business_id=gamma"))["total"], 0);
}

TEST_F(twilio_test, a_greeting_url_is_played) {
  ASSERT_EQ(server_->put("/api/admin/tenants/acme/voice",
                         R"({"greeting_url":"https://cdn.example.test/hello.mp3?a=1&b=2","language":"he-IL"})").status, 200);
  auto r = twilio("/webhook/incoming_call", "CallSid=CA700&From=%2B972506666666&To=%2B97233763805");
  EXPECT_NE(r.body.find("<Play>https://cdn.example.test/hello.mp3?a=1&amp;b=2</Play>"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("<Say language=\"he-IL\">Hi"), std::string::npos);
  // Put the suite's greeting back for tests that run after this one in the same process.
  ASSERT_EQ(server_->put("/api/admin/tenants/acme/voice",
                         json{{"greeting_text", "Hi <& welcome>"}, {"language", "he-IL"}, {"max_recording_s", 60}}.dump())
                .status, 200);
}

TEST_F(twilio_test, a_number_belongs_to_one_tenant) {
  ASSERT_EQ(server_->post("/api/admin/tenants", R"({"id":"beta","name":"Beta"})").status, 201);
  test::expect_error(server_->put("/api/admin/tenants/beta/phone_numbers", R"({"phone_numbers":["+97233763805"]})"),
                     409, "number_taken");
  test::expect_error(server_->put("/api/admin/tenants/beta/phone_numbers", R"({"phone_numbers":["not a number"]})"),
                     400, "invalid_field");
}

TEST_F(twilio_test, repeated_and_out_of_order_status_callbacks_never_move_a_call_back) {
  std::string base = "CallSid=CA300&From=%2B972502222222&To=%2B97233763805&Direction=inbound";
  ASSERT_EQ(twilio("/webhook/incoming_call", base + "&CallStatus=ringing").status, 200);
  auto done = twilio("/webhook/call_status", base + "&CallStatus=completed&SequenceNumber=3&CallDuration=42");
  ASSERT_EQ(done.status, 200);
  EXPECT_EQ(done.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(done.body, "OK");
  ASSERT_EQ(twilio("/webhook/call_status", base + "&CallStatus=completed&SequenceNumber=3&CallDuration=42").status, 200);
  ASSERT_EQ(twilio("/webhook/call_status", base + "&CallStatus=in-progress&SequenceNumber=1").status, 200);
  ASSERT_EQ(twilio("/webhook/call_status", base + "&CallStatus=ringing&SequenceNumber=0").status, 200);
  EXPECT_EQ(events("call_status_changed", "CA300"), 1u);
  EXPECT_EQ(events("call_status_changed", "\"completed\""), 1u);
}

TEST_F(twilio_test, a_recording_is_downloaded_transcribed_by_the_fallback_and_summarised) {
  auto prompt = server_->post("/api/business/acme/prompts",
                              json{{"title", "call_summary"}, {"body", "Summarise for the sales team, in bullet points"}}.dump());
  ASSERT_EQ(prompt.status, 201) << prompt.body;
  std::string base = "CallSid=CA400&From=%2B972503333333&To=%2B97233763805&Direction=inbound";
  ASSERT_EQ(twilio("/webhook/incoming_call", base + "&CallStatus=ringing").status, 200);
  std::string rec = "CallSid=CA400&RecordingSid=RE400&RecordingStatus=completed&RecordingDuration=7&RecordingUrl=" +
                    media_->base_url() + "/2010-04-01/Accounts/ACtest/Recordings/RE400";
  auto r = twilio("/webhook/recording_status?tenant=acme", rec, host + "/webhook/recording_status?tenant=acme");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "OK");
  EXPECT_EQ(r.headers["content-type"], "text/plain; charset=utf-8");
  auto h = twilio("/webhook/handle_recording?tenant=acme", base + "&RecordingUrl=x",
                  host + "/webhook/handle_recording?tenant=acme");
  EXPECT_NE(h.body.find("<Hangup/>"), std::string::npos);
  EXPECT_EQ(h.headers["content-type"], "text/xml; charset=utf-8");
  // The pipeline runs after the answer: wait for its last step.
  for (int i = 0; i < 150 && events("call_summarized", "CA400") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(events("recording_downloaded", "RE400"), 1u);
  EXPECT_EQ(events("call_transcribed", "\"provider\":\"fallback\""), 1u);
  EXPECT_EQ(events("call_transcribed", "primary: "), 1u) << "the primary's failure is kept with the transcript";
  EXPECT_EQ(events("call_summarized", "Wants a quote."), 1u);
  EXPECT_GE(media_calls.load(), 2) << "the first 404 was retried";
  auto transcript = body(server_->get("/api/calls/CA400/transcript?business_id=acme"));
  EXPECT_EQ(transcript["ok"], true);
  EXPECT_EQ(transcript["text"], shalom + " I need a quote");
  EXPECT_EQ(transcript["provider"], "fallback");
  EXPECT_TRUE(transcript["language"].is_string()) << transcript.dump();
  EXPECT_EQ(transcript["summary"], "Wants a quote.");
  // What the providers were sent: the recording's URL with ".mp3", the
  // tenant's language (default "he"), the tenant's call_summary prompt.
  EXPECT_EQ(seen(media_target), "/2010-04-01/Accounts/ACtest/Recordings/RE400.mp3");
  EXPECT_TRUE(std::filesystem::exists(dir_->sub("data") + "/recordings/acme/CA400-RE400.mp3"))
      << "{data}/recordings/{tenant}/{CallSid}-{RecordingSid}.mp3";
  EXPECT_NE(seen(fallback_body).find("name=\"language\"\r\n\r\nhe\r\n"), std::string::npos) << seen(fallback_body);
  EXPECT_NE(seen(llm_body).find("Summarise for the sales team, in bullet points"), std::string::npos) << seen(llm_body);
  // The call is on the caller's timeline.
  auto call = body(server_->get("/api/calls/CA400?business_id=acme"));
  std::string lead = call["call"]["contact_id"];
  auto timeline = body(server_->get("/api/leads/" + lead + "/timeline?business_id=acme"));
  std::string items = timeline["items"].dump();
  EXPECT_NE(items.find("\"type\":\"call\""), std::string::npos) << items;
  EXPECT_NE(items.find("Wants a quote."), std::string::npos) << items;
  // An admin has it transcribed again: a second transcript and summary follow.
  auto retry = test::http("POST", server_->url("/api/calls/CA400/retry_transcription?business_id=acme"), "{}",
                          {crmd_server::auth(), crmd_server::json()});
  EXPECT_EQ(retry.status, 202) << retry.body;
  for (int i = 0; i < 100 && events("call_summarized", "CA400") < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(events("call_transcribed", "CA400"), 2u);
  EXPECT_EQ(events("call_summarized", "CA400"), 2u);
  // Provider keys and the auth token never reach the log, even with the
  // primary's failure and the transcript recorded.
  auto all = test::run({CRMD_BINARY, "events", "--data-dir", dir_->sub("data")}, dir_->path());
  EXPECT_EQ(all.out.find("sk-primary-never-logged"), std::string::npos);
  EXPECT_EQ(all.out.find("sk-llm-never-logged"), std::string::npos);
  EXPECT_EQ(all.out.find(token), std::string::npos) << "nor the Twilio auth token";
  // A repeated recording callback starts nothing again.
  ASSERT_EQ(twilio("/webhook/recording_status?tenant=acme", rec, host + "/webhook/recording_status?tenant=acme").status, 200);
  EXPECT_EQ(events("recording_available", "RE400"), 1u);
}

TEST_F(twilio_test, both_providers_failing_leave_a_visible_failed_transcription_and_no_summary) {
  fallback_fails = true;
  std::string base = "CallSid=CA710&From=%2B972507777777&To=%2B97233763805&Direction=inbound";
  ASSERT_EQ(twilio("/webhook/incoming_call", base + "&CallStatus=ringing").status, 200);
  std::string rec = "CallSid=CA710&RecordingSid=RE710&RecordingStatus=completed&RecordingDuration=7&RecordingUrl=" +
                    media_->base_url() + "/2010-04-01/Accounts/ACtest/Recordings/RE710";
  ASSERT_EQ(twilio("/webhook/recording_status?tenant=acme", rec, host + "/webhook/recording_status?tenant=acme").status, 200);
  for (int i = 0; i < 150 && events("call_transcription_failed", "CA710") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  fallback_fails = false;
  EXPECT_EQ(events("recording_downloaded", "RE710"), 1u);
  EXPECT_EQ(events("call_transcription_failed", "CA710"), 1u);
  EXPECT_EQ(events("call_transcribed", "CA710"), 0u);
  EXPECT_EQ(events("call_summarized", "CA710"), 0u) << "nothing to summarise";
  // Visible to the business: the call says its transcription failed.
  json call;
  for (int i = 0; i < 50; ++i) {
    call = body(server_->get("/api/calls/CA710?business_id=acme"))["call"];
    if (call.value("transcript_state", "") == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(call.value("transcript_state", ""), "failed") << call.dump();
  // The recording is acme's: another tenant sees neither it nor the transcript.
  auto audio = server_->get("/api/calls/CA710/recording?business_id=acme");
  EXPECT_EQ(audio.status, 200);
  EXPECT_EQ(audio.headers["content-type"], "audio/mpeg");
  auto gamma = server_->post("/api/admin/tenants", R"({"id":"gamma","name":"Gamma"})");
  ASSERT_TRUE(gamma.status == 201 || gamma.status == 409);
  for (const char* what : {"/recording", "/transcript", ""})
    test::expect_error(server_->get(std::string("/api/calls/CA710") + what + "?business_id=gamma"), 404, "call_not_found");
}

// Every step's failure is an event, never silence: a refused download, and
// a summary the LLM could not make.
TEST_F(twilio_test, a_refused_download_and_a_failed_summary_are_events) {
  auto record = [](const std::string& sid, const std::string& rec_sid, const std::string& from) {
    ASSERT_EQ(twilio("/webhook/incoming_call", "CallSid=" + sid + "&From=%2B" + from + "&To=%2B97233763805").status, 200);
    std::string rec = "CallSid=" + sid + "&RecordingSid=" + rec_sid + "&RecordingStatus=completed&RecordingUrl=" +
                      media_->base_url() + "/2010-04-01/Accounts/ACtest/Recordings/" + rec_sid;
    ASSERT_EQ(twilio("/webhook/recording_status?tenant=acme", rec, host + "/webhook/recording_status?tenant=acme").status,
              200);
  };
  media_forbidden = true;
  record("CA720", "RE720", "972507200000");
  for (int i = 0; i < 150 && events("recording_download_failed", "RE720") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  media_forbidden = false;
  EXPECT_EQ(events("recording_download_failed", "RE720"), 1u);
  EXPECT_EQ(events("call_transcribed", "CA720"), 0u);
  llm_fails = true;
  record("CA730", "RE730", "972507300000");
  for (int i = 0; i < 150 && events("call_summary_failed", "CA730") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  llm_fails = false;
  EXPECT_EQ(events("call_transcribed", "CA730"), 1u);
  EXPECT_EQ(events("call_summary_failed", "CA730"), 1u);
  EXPECT_EQ(events("call_summarized", "CA730"), 0u);
}

// Each tenant's number brings its calls to that tenant, on the call's own
// stream "<tenant>/call/<CallSid>".
TEST_F(twilio_test, a_second_tenants_number_routes_its_calls_to_it) {
  auto delta = server_->post("/api/admin/tenants", R"({"id":"delta","name":"Delta"})");
  ASSERT_TRUE(delta.status == 201 || delta.status == 409);
  ASSERT_EQ(server_->put("/api/admin/tenants/delta/phone_numbers", R"({"phone_numbers":["+97233000999"]})").status, 200);
  ASSERT_EQ(twilio("/webhook/incoming_call", "CallSid=CA740&From=%2B972507400000&To=%2B97233000999").status, 200);
  EXPECT_EQ(events("call_started", "\"stream\":\"delta/call/CA740\""), 1u);
  EXPECT_EQ(events("call_started", "\"stream\":\"acme/call/CA740\""), 0u);
  json call;
  for (int i = 0; i < 50; ++i) {
    auto r = server_->get("/api/calls/CA740?business_id=delta");
    if (r.status == 200) {
      call = body(r)["call"];
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(call.is_object()) << "delta has the call";
  test::expect_error(server_->get("/api/calls/CA740?business_id=acme"), 404, "call_not_found");
}

TEST_F(twilio_test, a_pipeline_cut_by_a_crash_resumes_after_restart_and_the_call_is_readable) {
  std::string base = "CallSid=CA500&From=%2B972504444444&To=%2B97233763805&Direction=inbound";
  ASSERT_EQ(twilio("/webhook/incoming_call", base + "&CallStatus=ringing").status, 200);
  media_404s_left = 1000;  // the file keeps "not existing yet" while crmd dies
  std::string rec = "CallSid=CA500&RecordingSid=RE500&RecordingStatus=completed&RecordingDuration=7&RecordingUrl=" +
                    media_->base_url() + "/2010-04-01/Accounts/ACtest/Recordings/RE500";
  ASSERT_EQ(twilio("/webhook/recording_status?tenant=acme", rec, host + "/webhook/recording_status?tenant=acme").status, 200);
  int before = media_calls.load();
  for (int i = 0; i < 50 && media_calls.load() == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server_->kill_now();  // SIGKILL in the middle of the download's retries
  EXPECT_EQ(events("recording_downloaded", "RE500"), 0u);
  media_404s_left = 0;
  ASSERT_TRUE(server_->start());
  for (int i = 0; i < 150 && events("call_summarized", "CA500") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(events("recording_downloaded", "RE500"), 1u) << "resumed once, not twice";
  EXPECT_EQ(events("call_summarized", "CA500"), 1u);
  // The read side: the call, its transcript and its recording (byte ranges).
  auto call = server_->get("/api/calls/CA500?business_id=acme");
  ASSERT_EQ(call.status, 200) << call.body;
  EXPECT_EQ(body(call)["call"]["from"], "+972504444444");
  auto tr = body(server_->get("/api/calls/CA500/transcript?business_id=acme"));
  EXPECT_EQ(tr["provider"], "fallback") << tr.dump();
  EXPECT_EQ(tr["summary"], "Wants a quote.");
  auto part = test::http("GET", server_->url("/api/calls/CA500/recording?business_id=acme"), {},
                         {crmd_server::auth(), "Range: bytes=0-2"});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, "ID3");
  EXPECT_EQ(part.headers["content-type"], "audio/mpeg");
  auto listed = body(server_->get("/api/calls?business_id=acme&customer_id=" + call_contact(call)));
  EXPECT_GE(listed["total"].get<int>(), 1) << listed.dump();
  EXPECT_EQ(server_->get("/api/calls/CA999?business_id=acme").status, 404);
}

// Development only: with signatures off, the business's go/no-go check works
// exactly as written (unsigned, '+' unencoded), and an unknown To is polite.
TEST(twilio_unsigned, validation_off_lets_the_plain_curl_check_through) {
  test::temp_dir dir;
  crmd_server server(dir.sub("data"), {{"VALIDATE_TWILIO_SIGNATURE", "false"}});
  server.log_to(dir.sub("crmd.log"));
  ASSERT_TRUE(server.start());
  auto r = test::http("POST", server.url("/webhook/twilio/voice"), "CallSid=CA_test&From=+1555000&To=+1555001",
                      {"Content-Type: application/x-www-form-urlencoded"});
  EXPECT_EQ(r.status, 200) << r.body;
  std::string log = test::read_file(dir.sub("crmd.log"));
  EXPECT_NE(log.find("WARNING signature NOT checked"), std::string::npos) << "loudly: " << log;
  EXPECT_EQ(r.headers["content-type"], "text/xml; charset=utf-8");
  EXPECT_NE(r.body.find("<Response>"), std::string::npos);
  server.terminate();
}

// A sender of forged signatures is slowed down after ten in a minute, in
// the webhook's own format: Twilio never sees JSON from crmd, also not then.
TEST(twilio_limits, forged_signatures_are_rate_limited_in_plain_text_and_valid_ones_never) {
  test::temp_dir dir;
  crmd_server server(dir.sub("data"), {{"TWILIO_AUTH_TOKEN", token}});
  server.log_to(dir.sub("crmd.log"));
  ASSERT_TRUE(server.start());
  ASSERT_EQ(server.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
  ASSERT_EQ(server.put("/api/admin/tenants/acme/phone_numbers", R"({"phone_numbers":["+97233763805"]})").status, 200);
  auto post = [&](const std::string& signature) {
    return test::http("POST", server.url("/webhook/incoming_call"), incoming,
                      {"Content-Type: application/x-www-form-urlencoded", "X-Twilio-Signature: " + signature});
  };
  for (int i = 0; i < 10; ++i) ASSERT_EQ(post("forged").status, 403) << i;
  // Each refusal is logged with the URL the signature was checked against.
  std::string log = test::read_file(dir.sub("crmd.log"));
  EXPECT_NE(log.find("wrong X-Twilio-Signature for URL " + server.url("/webhook/incoming_call")), std::string::npos)
      << log;
  auto limited = post("forged");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(limited.body.find('{'), std::string::npos) << limited.body;
  EXPECT_FALSE(limited.headers["retry-after"].empty());
  std::string own = server.url("/webhook/incoming_call");
  auto valid = post(connectors::twilio::compute_signature(token, own, *connectors::twilio::parse_form(incoming)));
  EXPECT_EQ(valid.status, 200) << "the same address, validly signed, is never limited: " << valid.body;
  server.terminate();
}

// Behind a proxy without PUBLIC_HOST: the forwarded scheme and host are the
// URL Twilio called, but only when crmd is told to trust the proxy.
TEST(twilio_proxy, forwarded_headers_name_the_signed_url_only_when_trusted) {
  auto check = [](bool trusted) {
    test::temp_dir dir;
    crmd_server server(dir.sub("data"), {{"TWILIO_AUTH_TOKEN", token}, {"CRMD_TRUST_PROXY", trusted ? "true" : "false"}});
    EXPECT_TRUE(server.start());
    EXPECT_EQ(server.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
    EXPECT_EQ(server.put("/api/admin/tenants/acme/phone_numbers", R"({"phone_numbers":["+97233763805"]})").status, 200);
    auto post = [&](const std::string& signed_url, bool forwarded) {
      std::vector<std::string> h{"Content-Type: application/x-www-form-urlencoded",
                                 "X-Twilio-Signature: " + connectors::twilio::compute_signature(
                                                              token, signed_url, *connectors::twilio::parse_form(incoming))};
      if (forwarded) h.insert(h.end(), {"X-Forwarded-Proto: https", "X-Forwarded-Host: crm.example.test"});
      return test::http("POST", server.url("/webhook/incoming_call"), incoming, h).status;
    };
    std::string own = server.url("/webhook/incoming_call");  // http://127.0.0.1:<port>/...
    std::string pub = "https://crm.example.test/webhook/incoming_call";
    EXPECT_EQ(post(own, false), 200) << "the request's own Host";
    EXPECT_EQ(post(pub, true), trusted ? 200 : 403);
    EXPECT_EQ(post(own, true), trusted ? 403 : 200);
    server.terminate();
  };
  check(true);
  check(false);
}

}  // namespace
}  // namespace crmd
