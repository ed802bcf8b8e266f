// A small Stripe API client on libcurl: creating PaymentIntents.
//
// BLOCKING: each call does a whole HTTPS round trip (up to timeout_ms) on
// the calling thread. Run it on a worker thread (storage/worker_pool.hpp),
// never on a CAF actor or RESTinio I/O thread. Calls are thread-safe; each
// uses its own curl handle (no connection reuse).
//
// The client never retries. A caller that retries (after io_error, say)
// sends the same idempotency_key, so Stripe returns the first result instead
// of creating a second PaymentIntent; keys live at least 24 h, and reusing
// one with different parameters is refused by Stripe (400).
//
// Errors are values, never exceptions:
//   errc::invalid_argument  the request was refused before sending (bad
//                           amount, currency, key, options) or Stripe
//                           answered 4xx (card declined, bad parameters)
//   errc::conflict          409: a request with this idempotency key is still
//                           in flight at Stripe; retry later with the same key
//   errc::io_error          no answer (connection, TLS, timeout), 429, 5xx, or
//                           a 2xx body that is not a PaymentIntent
// The message is Stripe's error.message when it sent one (it is meant for
// people: "Your card was declined."); the reason is Stripe's error.code
// ("card_declined") when present and well formed, else "stripe_error";
// "stripe_unreachable" when no answer came, "invalid_request" when crmd
// refused before sending. The secret key never appears in a message.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "events/status.hpp"

namespace crmd::connectors {

struct stripe_options {
  std::string api_base = "https://api.stripe.com";  // no trailing slash; tests point it at 127.0.0.1
  std::string secret_key;                           // sk_live_... / sk_test_... / rk_...
  long timeout_ms = 10000;                          // the whole request, connect included
};

struct payment_intent_request {
  int64_t amount = 0;    // minor units (cents, agorot), > 0
  std::string currency;  // lowercase ISO 4217, three letters: "usd", "ils"
  // Sent as metadata[<key>]=<value>, in key order; crmd sets invoice_id and
  // tenant_id so webhooks can be routed back.
  std::map<std::string, std::string> metadata;
  // Required: 1..255 printable ASCII characters (no spaces), e.g. derived
  // from the invoice and attempt, so a retry never charges twice.
  std::string idempotency_key;
};

struct payment_intent {
  std::string id;             // "pi_..."
  std::string client_secret;  // handed to the browser for confirmation; never log it
  std::string status;         // "requires_payment_method", "succeeded", ...
  int64_t amount = 0;
  std::string currency;
};

// Responses larger than this are treated as a failed call.
constexpr size_t max_stripe_response_bytes = 1 << 20;

// POST {api_base}/v1/payment_intents, form-encoded, with
// "Authorization: Bearer <secret_key>" and "Idempotency-Key: <key>".
result<payment_intent> create_payment_intent(const stripe_options& o, const payment_intent_request& r);

// application/x-www-form-urlencoded body of `r`: amount, currency, then the
// metadata (exposed for tests).
std::string payment_intent_form(const payment_intent_request& r);

// Percent-encodes every byte except A-Z a-z 0-9 - . _ ~ (space is %20).
std::string form_encode(std::string_view s);

}  // namespace crmd::connectors
