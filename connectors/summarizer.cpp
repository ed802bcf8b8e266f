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
  slist_ptr headers;  // declared before the easy handle, so freed after it
  bool built = (o.key.empty() || add_header(headers, "Authorization: Bearer " + o.key)) &&
               add_header(headers, "Content-Type: application/json") &&
               add_header(headers, "Accept: application/json") &&
               add_header(headers, "Expect:");  // no 100-continue round trip
  easy_ptr c = new_easy();
  if (!built || !c) return unavailable("could not start an HTTP request");

  bounded_body body(max_llm_response_bytes);
  char error_buffer[CURL_ERROR_SIZE] = {0};
  common_options(c.get(), url, o.timeout_ms, error_buffer);
  curl_easy_setopt(c.get(), CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c.get(), CURLOPT_POST, 1L);
  curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, request.data());
  curl_easy_setopt(c.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.size()));
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, collect_bounded);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &body);

  CURLcode rc = curl_easy_perform(c.get());
  long code = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
  std::string http = "HTTP " + std::to_string(code);
  if (body.overflow) return unavailable("answer too large, " + http);
  if (rc != CURLE_OK) return unavailable(redact(transport_detail(rc, error_buffer), o.key));
  if (code >= 400 && code <= 499 && code != 429)
    return status{errc::invalid_argument, "the LLM refused the request (" + http + ")", "llm_refused"};
  if (code < 200 || code > 299) return unavailable(http);
  return parse_content(body.data);
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
