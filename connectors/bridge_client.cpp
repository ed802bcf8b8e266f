#include "connectors/bridge_client.hpp"

#include <nlohmann/json.hpp>

#include "connectors/curl_common.hpp"
#include "connectors/stripe_client.hpp"  // form_encode

namespace crmd::connectors {
namespace {

using namespace detail;
using json = nlohmann::json;

status not_configured(const std::string& why) {
  return {errc::invalid_argument, "the WhatsApp bridge is not configured (" + why + ")", "bridge_not_configured"};
}

status invalid_request(const std::string& why) {
  return {errc::invalid_argument, "the WhatsApp bridge request is not valid (" + why + ")", "invalid_request"};
}

status bridge_error(const std::string& why) {
  return {errc::io_error, "the WhatsApp bridge failed (" + why + ")", "bridge_error"};
}

struct answer {
  long code = 0;
  std::string body;
};

std::string http_text(long code) { return "HTTP " + std::to_string(code); }

// The bridge's own error text, if it sent one ({"error": "..."} or
// {"message": "..."}): short, printable, and never the secret.
std::string bridge_detail(const std::string& body, const std::string& secret) {
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object()) return {};
  for (const char* name : {"error", "message"}) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) continue;
    std::string s = it->get<std::string>();
    if (s.size() > 200) s.resize(200);
    for (auto& c : s)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return redact(std::move(s), secret);
  }
  return {};
}

// One request to {base}/sessions/{tenant}[/{session}]{suffix}; a 2xx
// answer or an error. A null `request` means GET, else POST of that JSON body.
result<answer> exchange(const bridge_options& o, const std::string& tenant, const std::string& session,
                        const std::string& suffix, const std::string* request) {
  if (o.base_url.empty()) return not_configured("no base url");
  if (!is_http_url(o.base_url)) return not_configured("base url must be http:// or https://");
  if (!header_safe(o.internal_secret)) return not_configured("malformed internal secret");
  if (o.timeout_ms <= 0) return not_configured("timeout_ms must be positive");
  if (tenant.empty()) return invalid_request("no tenant");
  if (session.empty()) return invalid_request("no session");

  std::string base = o.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string url = base + "/sessions/" + form_encode(tenant);
  if (session != "main") url += "/" + form_encode(session);
  url += suffix;

  std::vector<std::string> headers{"Accept: application/json"};
  if (!o.internal_secret.empty()) headers.insert(headers.begin(), "X-Internal-Secret: " + o.internal_secret);
  if (request) headers.push_back("Content-Type: application/json");
  auto a = http_request(url, headers, request, o.timeout_ms, max_bridge_response_bytes);
  if (!a.started) return bridge_error("could not start an HTTP request");
  long code = a.code;
  if (a.overflow) return bridge_error("answer too large, " + http_text(code));
  if (a.rc != CURLE_OK)
    return status{errc::io_error, "the WhatsApp bridge could not be reached (" + redact(a.transport, o.internal_secret) + ")",
                  "bridge_unreachable"};
  if (code >= 400 && code <= 499) {
    std::string detail = bridge_detail(a.body, o.internal_secret);
    return status{errc::conflict,
                  "the WhatsApp bridge refused the request (" + http_text(code) + (detail.empty() ? "" : ": ") +
                      detail + ")",
                  "bridge_refused"};
  }
  if (code < 200 || code > 299) return bridge_error(http_text(code));
  return answer{code, std::move(a.body)};
}

// Runs `f`, turning anything the standard library throws (bad_alloc) into
// an error value.
template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception&) {
    return bridge_error("internal error");
  }
}

const std::string empty_object = "{}";

status post_object(const bridge_options& o, const std::string& tenant, const std::string& session, const char* suffix,
                   const std::string& body) {
  return guarded([&]() -> status {
    auto a = exchange(o, tenant, session, suffix, &body);
    return a ? status::ok() : a.error();
  });
}

bool optional_string(const json& j, const char* name, std::optional<std::string>& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

result<bridge_status_answer> parse_status(const answer& a) {
  auto j = json::parse(a.body, nullptr, false);
  auto malformed = [&] { return bridge_error("malformed status answer, " + http_text(a.code)); };
  if (!j.is_object()) return malformed();
  bridge_status_answer s;
  auto state = j.find("state");
  if (state == j.end() || !state->is_string()) return malformed();
  s.state = state->get<std::string>();
  if (!optional_string(j, "qr", s.qr)) return malformed();
  auto me = j.find("me");
  if (me != j.end() && !me->is_null()) {
    if (!me->is_object()) return malformed();
    std::optional<std::string> id, name;
    if (!optional_string(*me, "id", id) || !optional_string(*me, "name", name)) return malformed();
    s.me_id = id.value_or("");
    s.me_name = name.value_or("");
  }
  return s;
}

const json* non_empty_string(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return nullptr;
  return &*it;
}

result<std::string> parse_message_id(const answer& a) {
  auto j = json::parse(a.body, nullptr, false);
  if (j.is_object()) {
    if (auto id = non_empty_string(j, "id")) return id->get<std::string>();
    if (auto id = non_empty_string(j, "messageId")) return id->get<std::string>();
    if (auto key = j.find("key"); key != j.end() && key->is_object())
      if (auto id = non_empty_string(*key, "id")) return id->get<std::string>();
  }
  return bridge_error("the answer has no message id, " + http_text(a.code));
}

}  // namespace

status bridge_start(const bridge_options& o, const std::string& tenant, const std::string& session, bool restart,
                    int64_t max_qr_codes) {
  json body = json::object();
  if (restart) body["restart"] = true;
  if (max_qr_codes > 0) body["maxQrCodes"] = max_qr_codes;
  return post_object(o, tenant, session, "/start", body.dump());
}

status bridge_logout(const bridge_options& o, const std::string& tenant, const std::string& session) {
  return post_object(o, tenant, session, "/logout", empty_object);
}

result<bridge_status_answer> bridge_status(const bridge_options& o, const std::string& tenant,
                                           const std::string& session) {
  return guarded([&]() -> result<bridge_status_answer> {
    auto a = exchange(o, tenant, session, "/status", nullptr);
    if (!a) return a.error();
    return parse_status(*a);
  });
}

result<std::string> bridge_send(const bridge_options& o, const std::string& tenant, const std::string& to,
                                const std::string& text, const std::string& session) {
  return guarded([&]() -> result<std::string> {
    if (to.empty()) return invalid_request("no recipient");
    if (text.empty()) return invalid_request("no text");
    // UTF-8 stays UTF-8 (no \u escapes); a stray invalid byte becomes U+FFFD
    // instead of a type_error exception.
    std::string request = json{{"to", to}, {"text", text}}.dump(-1, ' ', false, json::error_handler_t::replace);
    auto a = exchange(o, tenant, session, "/messages", &request);
    if (!a) return a.error();
    return parse_message_id(*a);
  });
}

}  // namespace crmd::connectors
