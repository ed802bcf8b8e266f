#include "connectors/summarizer.hpp"

#include <nlohmann/json.hpp>

#include "connectors/curl_common.hpp"

namespace crmd::connectors {
namespace {

using namespace detail;
using json = nlohmann::json;

constexpr std::string_view completions_path = "/v1/chat/completions";

status not_configured(const std::string& why) {
  return {errc::invalid_argument, "no usable LLM endpoint is configured (" + why + ")", "llm_not_configured"};
}

status unavailable(const std::string& why) {
  return {errc::io_error, "the LLM could not summarise the call (" + why + ")", "llm_unavailable"};
}

result<std::string> parse_content(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object()) return unavailable("the answer is not JSON");
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object())
    return unavailable("the answer has no choices");
  const json& first = (*choices)[0];
  auto message = first.find("message");
  if (message == first.end() || !message->is_object()) return unavailable("the answer has no message");
  auto content = message->find("content");
  if (content == message->end() || !content->is_string()) return unavailable("the answer has no text content");
  return content->get<std::string>();
}

result<std::string> call(const llm_options& o, const std::string& instructions, const std::string& transcript_text) {
  if (o.url.empty()) return not_configured("no url");
  if (!is_http_url(o.url)) return not_configured("url must be http:// or https://");
  if (!header_safe(o.key)) return not_configured("malformed key");
  if (o.timeout_ms <= 0) return not_configured("timeout_ms must be positive");

  std::string request = chat_request_json(o.model, instructions, transcript_text);
  std::string url = with_path(o.url, completions_path);
  std::vector<std::string> headers{"Content-Type: application/json", "Accept: application/json"};
  if (!o.key.empty()) headers.insert(headers.begin(), "Authorization: Bearer " + o.key);
  auto a = http_request(url, headers, &request, o.timeout_ms, max_llm_response_bytes);
  if (!a.started) return unavailable("could not start an HTTP request");
  long code = a.code;
  std::string http = "HTTP " + std::to_string(code);
  if (a.overflow) return unavailable("answer too large, " + http);
  if (a.rc != CURLE_OK) return unavailable(redact(a.transport, o.key));
  if (code >= 400 && code <= 499 && code != 429)
    return status{errc::invalid_argument, "the LLM refused the request (" + http + ")", "llm_refused"};
  if (code < 200 || code > 299) return unavailable(http);
  return parse_content(a.body);
}

}  // namespace

std::string chat_request_json(const std::string& model, const std::string& instructions,
                              const std::string& transcript_text) {
  json body = {{"model", model},
               {"messages", json::array({{{"role", "system"}, {"content", instructions}},
                                         {{"role", "user"}, {"content", transcript_text}}})}};
  // UTF-8 stays UTF-8 (no \u escapes); a stray invalid byte becomes U+FFFD
  // instead of a type_error exception.
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

result<std::string> summarize(const llm_options& o, const std::string& instructions,
                              const std::string& transcript_text) {
  try {
    return call(o, instructions, transcript_text);
  } catch (const std::exception&) {  // bad_alloc and the like: still an error value
    return unavailable("internal error");
  }
}

}  // namespace crmd::connectors
