// Specifications of the call-recording pipeline, later steps: speech to text
// through a chain of OpenAI-compatible providers, and the LLM summary.
// Against fakes on 127.0.0.1, never the internet.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "connectors/summarizer.hpp"
#include "connectors/transcriber.hpp"
#include "tests/support/closed_port.hpp"
#include "tests/support/fake_http_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd::connectors {
namespace {

using json = nlohmann::json;

const std::string stt_key = "sk-stt-s3cret";
const std::string llm_key = "sk-llm-s3cret";
const std::string hebrew = "שלום, מדבר דני מהמוקד. \"הלקוח\" ביקש הצעת מחיר\nלשבוע הבא.";

struct form_part {
  std::string filename, content_type, data;
};

// The parts of a multipart/form-data body by name (what a provider would parse).
std::map<std::string, form_part> parse_form(const test::fake_request& r) {
  std::map<std::string, form_part> parts;
  std::string type = r.header("content-type");
  auto b = type.find("boundary=");
  if (type.rfind("multipart/form-data", 0) != 0 || b == std::string::npos) return parts;
  std::string delimiter = "--" + type.substr(b + 9);
  for (size_t at = r.body.find(delimiter); at != std::string::npos;) {
    size_t head = at + delimiter.size() + 2;  // past CRLF
    size_t next = r.body.find("\r\n" + delimiter, head);
    size_t blank = r.body.find("\r\n\r\n", head);
    if (next == std::string::npos || blank == std::string::npos || blank > next) break;
    std::string headers = r.body.substr(head, blank - head);
    auto field = [&](const std::string& key, const std::string& end) {
      auto k = headers.find(key);
      return k == std::string::npos
                 ? std::string()
                 : headers.substr(k + key.size(), headers.find(end, k + key.size()) - k - key.size());
    };
    parts[field("name=\"", "\"")] = {field("filename=\"", "\""), field("Content-Type: ", "\r\n"),
                                     r.body.substr(blank + 4, next - blank - 4)};
    at = next + 2;
  }
  return parts;
}

struct transcriber : ::testing::Test {
  test::temp_dir dir;
  std::string audio = dir.sub("CA1.mp3");
  std::string bytes = std::string("ID3\x04\0\0\r\n\r\n--x\xff\xfe", 15) + std::string(40000, 'a');
  void SetUp() override { std::ofstream(audio, std::ios::binary) << bytes; }
  static stt_provider provider(const std::string& name, const test::fake_http_server& s) {
    return {name, s.base_url(), stt_key, "whisper-1", 5000};
  }
};

test::fake_http_server::handler answering(int code, std::string body) {
  return [code, body = std::move(body)](const test::fake_request&) { return test::fake_response{code, body}; };
}

TEST_F(transcriber, the_upload_is_multipart_with_file_model_language_and_bearer_key) {
  test::fake_http_server primary(answering(200, R"({"text":"ok"})"));
  auto out = transcribe({provider("primary", primary)}, audio, "he");
  ASSERT_TRUE(out.result);
  auto reqs = primary.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/v1/audio/transcriptions");
  EXPECT_EQ(reqs[0].header("authorization"), "Bearer " + stt_key);
  auto form = parse_form(reqs[0]);
  ASSERT_EQ(form.size(), 4u) << reqs[0].body.substr(0, 400);
  EXPECT_EQ(form["file"].filename, "CA1.mp3");
  EXPECT_EQ(form["file"].content_type, "audio/mpeg");
  EXPECT_EQ(form["file"].data, bytes);
  EXPECT_EQ(form["model"].data, "whisper-1");
  EXPECT_EQ(form["language"].data, "he");
  EXPECT_EQ(form["response_format"].data, "json");
}

TEST_F(transcriber, a_failing_primary_falls_back) {
  test::fake_http_server primary(answering(500, R"({"error":{"message":"overloaded"}})"));
  test::fake_http_server fallback(answering(200, R"({"text":"from fallback"})"));
  auto out = transcribe({provider("primary", primary), provider("fallback", fallback)}, audio, "he");
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->provider, "fallback");
  EXPECT_EQ(out.result->text, "from fallback");
  EXPECT_EQ(out.result->language, "he");  // not in the answer: the requested one
  ASSERT_EQ(out.attempts.size(), 2u);
  EXPECT_EQ(out.attempts[0].provider, "primary");
  EXPECT_FALSE(out.attempts[0].ok);
  EXPECT_EQ(out.attempts[0].error, "unavailable (HTTP 500)");
  EXPECT_EQ(out.attempts[1].provider, "fallback");
  EXPECT_TRUE(out.attempts[1].ok);
  EXPECT_EQ(out.attempts[1].error, "");
}

TEST_F(transcriber, when_every_provider_fails_there_is_no_result_and_each_attempt_says_why) {
  test::fake_http_server primary(
      answering(401, R"({"error":{"message":"Incorrect API key provided: sk-stt-s3cret"}})"));
  test::closed_port fallback;
  auto out = transcribe({provider("primary", primary), {"fallback", fallback.base_url(), stt_key, "whisper-1", 5000}},
                        audio, "he");
  EXPECT_FALSE(out.result);
  ASSERT_EQ(out.attempts.size(), 2u);
  EXPECT_EQ(out.attempts[0].error, "refused (HTTP 401)");
  EXPECT_EQ(out.attempts[1].error.rfind("unreachable (", 0), 0u) << out.attempts[1].error;
  for (const auto& a : out.attempts) {
    EXPECT_FALSE(a.ok);
    EXPECT_EQ(a.error.find(stt_key), std::string::npos) << a.error;
  }
}

TEST_F(transcriber, a_working_primary_means_the_fallback_is_never_called) {
  test::fake_http_server primary(answering(200, R"({"text":"primary text","language":"hebrew"})"));
  test::fake_http_server fallback(answering(200, R"({"text":"fallback text"})"));
  auto out = transcribe({provider("primary", primary), provider("fallback", fallback)}, audio, "he");
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->provider, "primary");
  EXPECT_EQ(out.result->language, "hebrew");  // the provider's own word wins
  EXPECT_EQ(out.attempts.size(), 1u);
  EXPECT_TRUE(fallback.requests().empty());
}

TEST_F(transcriber, a_200_that_is_not_a_transcription_is_a_failed_attempt) {
  for (std::string body : {"<html>gateway</html>", "[]", R"({"text":42})", R"({"error":"x"})"}) {
    test::fake_http_server primary(answering(200, body));
    test::fake_http_server fallback(answering(200, R"({"text":"fine"})"));
    auto out = transcribe({provider("primary", primary), provider("fallback", fallback)}, audio, "he");
    ASSERT_TRUE(out.result) << body;
    EXPECT_EQ(out.result->provider, "fallback");
    ASSERT_EQ(out.attempts.size(), 2u);
    EXPECT_EQ(out.attempts[0].error, "malformed answer (HTTP 200)") << body;
  }
}

TEST_F(transcriber, hebrew_text_round_trips) {
  test::fake_http_server primary(answering(200, json{{"text", hebrew}}.dump()));
  auto out = transcribe({provider("primary", primary)}, audio, "he");
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->text, hebrew);
  test::fake_http_server escaped(answering(200, json{{"text", hebrew}}.dump(-1, ' ', true)));  // \u05e9 form
  out = transcribe({provider("primary", escaped)}, audio, "he");
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->text, hebrew);
}

TEST_F(transcriber, empty_urls_are_skipped_and_optional_fields_are_left_out) {
  test::fake_http_server local(answering(200, R"({"text":""})"));
  stt_provider unset{"primary", "", stt_key};
  stt_provider open{"fallback", local.base_url() + "/v1/audio/transcriptions", "", "large-v3", 5000};
  auto out = transcribe({unset, open}, audio, "");
  ASSERT_TRUE(out.result);
  EXPECT_EQ(out.result->text, "");  // a silent call
  ASSERT_EQ(out.attempts.size(), 1u);
  EXPECT_EQ(out.attempts[0].provider, "fallback");
  auto reqs = local.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/v1/audio/transcriptions");  // not appended twice
  EXPECT_EQ(reqs[0].header("authorization"), "");
  auto form = parse_form(reqs[0]);
  EXPECT_EQ(form.count("language"), 0u);
  EXPECT_EQ(form["model"].data, "large-v3");
  EXPECT_TRUE(transcribe({unset}, audio, "he").attempts.empty());
}

TEST_F(transcriber, a_missing_audio_file_or_bad_configuration_sends_nothing) {
  test::fake_http_server primary(answering(200, R"({"text":"x"})"));
  auto out = transcribe({provider("primary", primary)}, dir.sub("missing.mp3"), "he");
  EXPECT_FALSE(out.result);
  ASSERT_EQ(out.attempts.size(), 1u);
  EXPECT_EQ(out.attempts[0].error, "audio file unreadable");
  out = transcribe({{"primary", "ftp://127.0.0.1/", stt_key}, {"fallback", primary.base_url(), "bad key\r\n"}}, audio,
                   "he");
  ASSERT_EQ(out.attempts.size(), 2u);
  EXPECT_EQ(out.attempts[0].error, "bad configuration (url)");
  EXPECT_EQ(out.attempts[1].error, "bad configuration (key)");
  EXPECT_TRUE(primary.requests().empty());
}

// --- summary -------------------------------------------------------------------------

const std::string instructions = "Summarise the call in Hebrew: who called, what they want, next steps.";

std::string completion(const std::string& content) {
  return json{{"id", "chatcmpl-1"},
              {"choices", json::array({{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}}})}}
      .dump();
}

llm_options llm(const test::fake_http_server& s) { return {s.base_url(), llm_key, "gpt-4o-mini", 5000}; }

TEST(summarizer, sends_model_instructions_and_the_transcript_intact_and_returns_the_content) {
  test::fake_http_server openai(answering(200, completion("סיכום: הלקוח מבקש הצעת מחיר.")));
  auto summary = summarize(llm(openai), instructions, hebrew);
  ASSERT_TRUE(summary) << summary.error().to_string();
  EXPECT_EQ(*summary, "סיכום: הלקוח מבקש הצעת מחיר.");
  auto reqs = openai.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/v1/chat/completions");
  EXPECT_EQ(reqs[0].header("authorization"), "Bearer " + llm_key);
  EXPECT_EQ(reqs[0].header("content-type"), "application/json");
  EXPECT_NE(reqs[0].body.find("שלום"), std::string::npos);  // UTF-8 as is, not \u escapes
  auto sent = json::parse(reqs[0].body);
  EXPECT_EQ(sent["model"], "gpt-4o-mini");
  ASSERT_EQ(sent["messages"].size(), 2u);
  EXPECT_EQ(sent["messages"][0], (json{{"role", "system"}, {"content", instructions}}));
  EXPECT_EQ(sent["messages"][1], (json{{"role", "user"}, {"content", hebrew}}));
}

TEST(summarizer, refusals_outages_and_odd_answers_map_to_their_codes) {
  const std::map<int, std::string> answers = {
      {400, R"({"error":{"message":"context too long"}})"},
      {401, R"({"error":{"message":"Incorrect API key provided: sk-llm-s3cret"}})"},
      {429, "{}"},
      {500, "{}"},
      {503, "upstream down"}};
  for (const auto& [code, body] : answers) {
    test::fake_http_server openai(answering(code, body));
    auto summary = summarize(llm(openai), instructions, hebrew);
    ASSERT_FALSE(summary);
    bool refused = code == 400 || code == 401;
    EXPECT_EQ(summary.error().code(), refused ? errc::invalid_argument : errc::io_error) << code;
    EXPECT_EQ(summary.error().reason(), refused ? "llm_refused" : "llm_unavailable") << code;
    EXPECT_NE(summary.error().message().find("HTTP " + std::to_string(code)), std::string::npos);
    EXPECT_EQ(summary.error().message().find(llm_key), std::string::npos) << summary.error().message();
  }
}

TEST(summarizer, a_malformed_answer_is_an_io_error) {
  for (std::string body : {"not json", "{}", R"({"choices":[]})", R"({"choices":[{"message":{"content":null}}]})",
                           R"({"choices":[{"text":"legacy"}]})"}) {
    test::fake_http_server openai(answering(200, body));
    auto summary = summarize(llm(openai), instructions, hebrew);
    ASSERT_FALSE(summary) << body;
    EXPECT_EQ(summary.error().code(), errc::io_error) << body;
    EXPECT_EQ(summary.error().reason(), "llm_unavailable") << body;
  }
}

TEST(summarizer, without_a_usable_endpoint_nothing_is_sent) {
  auto summary = summarize(llm_options{}, instructions, hebrew);
  ASSERT_FALSE(summary);
  EXPECT_EQ(summary.error().code(), errc::invalid_argument);
  EXPECT_EQ(summary.error().reason(), "llm_not_configured");
  summary = summarize({"file:///etc/passwd", llm_key}, instructions, hebrew);
  ASSERT_FALSE(summary);
  EXPECT_EQ(summary.error().reason(), "llm_not_configured");

  test::closed_port closed;
  summary = summarize({closed.base_url(), llm_key}, instructions, hebrew);
  ASSERT_FALSE(summary);
  EXPECT_EQ(summary.error().code(), errc::io_error);
  EXPECT_EQ(summary.error().reason(), "llm_unavailable");
}

TEST(summarizer, the_path_is_not_doubled_and_broken_utf8_is_replaced_not_thrown) {
  test::fake_http_server openai(answering(200, completion("ok")));
  auto summary = summarize({openai.base_url() + "/v1/chat/completions", ""}, instructions, "bad \xff\xfe bytes");
  ASSERT_TRUE(summary) << summary.error().to_string();
  auto reqs = openai.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/v1/chat/completions");
  EXPECT_EQ(reqs[0].header("authorization"), "");
  EXPECT_EQ(json::parse(reqs[0].body)["messages"][1]["content"], "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
}

}  // namespace
}  // namespace crmd::connectors
