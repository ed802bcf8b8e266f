#include "connectors/graph_client.hpp"

#include <nlohmann/json.hpp>

#include "connectors/curl_common.hpp"
#include "connectors/stripe_client.hpp"  // form_encode

namespace crmd::connectors {
namespace {

using namespace detail;
using json = nlohmann::json;

constexpr size_t max_graph_response_bytes = 64 * 1024;

status not_configured(const std::string& why) {
  return {errc::invalid_argument, "the WhatsApp Cloud API is not configured (" + why + ")", "graph_not_configured"};
}

status graph_error(const std::string& why) {
  return {errc::io_error, "the WhatsApp Cloud API failed (" + why + ")", "graph_error"};
}

// Meta's {"error":{"message":...,"code":N}}: short, printable, never the token.
std::string meta_detail(const std::string& body, const std::string& token) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return {};
  const auto& e = j["error"];
  std::string s = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
  if (e.contains("code") && e["code"].is_number_integer()) s += " (code " + std::to_string(e["code"].get<long long>()) + ")";
  if (s.size() > 200) s.resize(200);
  for (auto& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return redact(std::move(s), token);
}

result<std::string> send(const graph_options& o, const std::string& phone_number_id, const std::string& token,
                         const std::string& to, const std::string& text) {
  if (!is_http_url(o.base_url)) return not_configured("base url must be http:// or https://");
  if (phone_number_id.empty()) return not_configured("no phone_number_id");
  if (token.empty() || !header_safe(token)) return not_configured("no usable token");
  if (o.timeout_ms <= 0) return not_configured("timeout_ms must be positive");
  if (to.empty() || text.empty())
    return status{errc::invalid_argument, "the Cloud API request is not valid (recipient and text are required)",
                  "invalid_request"};

  std::string base = o.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string url = base + "/" + form_encode(phone_number_id) + "/messages";
  std::string request = json{{"messaging_product", "whatsapp"},
                             {"recipient_type", "individual"},
                             {"to", to},
                             {"type", "text"},
                             {"text", {{"preview_url", false}, {"body", text}}}}
                            .dump(-1, ' ', false, json::error_handler_t::replace);

  auto a = http_request(url, {"Authorization: Bearer " + token, "Content-Type: application/json"}, &request,
                        o.timeout_ms, max_graph_response_bytes);
  if (!a.started) return graph_error("could not start an HTTP request");
  long code = a.code;
  std::string http = "HTTP " + std::to_string(code);
  if (a.overflow) return graph_error("answer too large, " + http);
  if (a.rc != CURLE_OK)
    return status{errc::io_error, "the WhatsApp Cloud API could not be reached (" + redact(a.transport, token) + ")",
                  "graph_unreachable"};
  if (code >= 400 && code <= 499) {
    std::string detail = meta_detail(a.body, token);
    return status{errc::conflict,
                  "the WhatsApp Cloud API refused the message (" + http + (detail.empty() ? "" : ": ") + detail + ")",
                  "graph_refused"};
  }
  if (code < 200 || code > 299) return graph_error(http);
  auto j = json::parse(a.body, nullptr, false);
  if (j.is_object() && j.contains("messages") && j["messages"].is_array() && !j["messages"].empty() &&
      j["messages"][0].is_object() && j["messages"][0].contains("id") && j["messages"][0]["id"].is_string()) {
    std::string id = j["messages"][0]["id"].get<std::string>();
    if (!id.empty() && id.size() <= 128) return id;
  }
  return graph_error("no messages[0].id in the answer, " + http);
}

}  // namespace

result<std::string> graph_send_text(const graph_options& o, const std::string& phone_number_id,
                                    const std::string& token, const std::string& to, const std::string& text) {
  try {
    return send(o, phone_number_id, token, to, text);
  } catch (const std::exception&) {
    return graph_error("internal error");
  }
}

}  // namespace crmd::connectors
