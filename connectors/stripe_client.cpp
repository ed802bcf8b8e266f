#include "connectors/stripe_client.hpp"

#include <curl/curl.h>

#include <mutex>
#include <nlohmann/json.hpp>

namespace crmd::connectors {
namespace {

using json = nlohmann::json;

status refused(const std::string& why) {
  return {errc::invalid_argument, "the payment request is not valid (" + why + ")", "invalid_request"};
}

// Printable ASCII without spaces: nothing that could end or split a header line.
bool header_safe(const std::string& s) {
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

status validate(const stripe_options& o, const payment_intent_request& r) {
  if (o.secret_key.empty() || !header_safe(o.secret_key)) return refused("missing or malformed secret key");
  if (o.api_base.rfind("https://", 0) != 0 && o.api_base.rfind("http://", 0) != 0)
    return refused("api_base must be an http(s) URL");
  if (o.timeout_ms <= 0) return refused("timeout_ms must be positive");
  if (r.amount <= 0) return refused("amount must be positive");
  if (r.currency.size() != 3) return refused("currency must be a three-letter ISO code");
  for (char c : r.currency)
    if (c < 'a' || c > 'z') return refused("currency must be lowercase");
  if (r.idempotency_key.empty() || r.idempotency_key.size() > 255 || !header_safe(r.idempotency_key))
    return refused("idempotency key must be 1..255 printable characters");
  for (auto& [k, v] : r.metadata)
    if (k.empty()) return refused("metadata keys must not be empty");
  return status::ok();
}

// curl_global_init is not safe to race with other curl calls on every
// libcurl build; doing it once here, before the first handle, is.
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct body_sink {
  std::string data;
  bool overflow = false;
};

size_t collect(char* p, size_t size, size_t n, void* out) {
  auto* sink = static_cast<body_sink*>(out);
  if (sink->data.size() + size * n > max_stripe_response_bytes) {
    sink->overflow = true;
    return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR
  }
  sink->data.append(p, size * n);
  return size * n;
}

std::string reason_from(const json& err) {
  auto code = err.find("code");
  if (code == err.end() || !code->is_string()) return "stripe_error";
  const auto& s = code->get_ref<const std::string&>();
  if (s.empty() || s.size() > 64) return "stripe_error";
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return "stripe_error";
  return s;
}

status stripe_error(long http_status, const std::string& body) {
  errc code = errc::invalid_argument;
  if (http_status == 409) code = errc::conflict;
  else if (http_status == 429 || http_status >= 500 || http_status < 400) code = errc::io_error;
  std::string message = "Stripe answered HTTP " + std::to_string(http_status);
  std::string reason = "stripe_error";
  auto j = json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (auto e = j.find("error"); e != j.end() && e->is_object()) {
      if (auto m = e->find("message"); m != e->end() && m->is_string() && !m->get_ref<const std::string&>().empty())
        message = m->get<std::string>();
      reason = reason_from(*e);
    }
  }
  return {code, std::move(message), std::move(reason)};
}

bool get_string(const json& j, const char* name, std::string& out) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

result<payment_intent> parse_intent(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  payment_intent p;
  bool ok = j.is_object() && get_string(j, "id", p.id) && get_string(j, "client_secret", p.client_secret) &&
            get_string(j, "status", p.status) && get_string(j, "currency", p.currency);
  if (ok) {
    auto a = j.find("amount");
    ok = a != j.end() && a->is_number_integer();
    if (ok) p.amount = a->get<int64_t>();
  }
  if (!ok || p.id.empty())
    return status{errc::io_error, "Stripe answered with something that is not a PaymentIntent", "stripe_error"};
  return p;
}

}  // namespace

std::string form_encode(std::string_view s) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

std::string payment_intent_form(const payment_intent_request& r) {
  // Brackets stay literal in keys, as Stripe's own SDKs send them.
  std::string body = "amount=" + std::to_string(r.amount) + "&currency=" + form_encode(r.currency);
  for (auto& [k, v] : r.metadata) body += "&metadata[" + form_encode(k) + "]=" + form_encode(v);
  return body;
}

result<payment_intent> create_payment_intent(const stripe_options& o, const payment_intent_request& r) {
  if (auto s = validate(o, r); !s) return s;
  init_curl_once();
  CURL* c = curl_easy_init();
  if (!c) return status{errc::io_error, "could not start an HTTP request to Stripe", "stripe_error"};

  std::string url = o.api_base + "/v1/payment_intents";
  std::string form = payment_intent_form(r);
  std::string auth = "Authorization: Bearer " + o.secret_key;
  std::string idem = "Idempotency-Key: " + r.idempotency_key;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, auth.c_str());
  headers = curl_slist_append(headers, idem.c_str());
  headers = curl_slist_append(headers, "Content-Type: application/x-www-form-urlencoded");
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  body_sink sink;
  char error_buffer[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, form.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(form.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o.timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM from a worker thread
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);

  CURLcode rc = curl_easy_perform(c);
  long http_status = 0;
  if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http_status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);

  if (rc != CURLE_OK) {
    std::string detail = sink.overflow ? "response too large" : error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
    return status{errc::io_error, "Stripe could not be reached (" + detail + ")", "stripe_unreachable"};
  }
  if (http_status < 200 || http_status > 299) return stripe_error(http_status, sink.data);
  return parse_intent(sink.data);
}

}  // namespace crmd::connectors
