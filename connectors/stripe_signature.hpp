// Stripe webhook signatures (the Stripe-Signature header).
//
// The header is comma-separated `key=value` items: exactly one `t=<unix
// seconds>` and one or more `v1=<lowercase hex HMAC-SHA256>` over the signed
// payload "<t>.<raw body>" keyed with the endpoint's webhook secret. Stripe
// sends several v1 items while a secret is being rolled; any one matching
// is enough. Only v1 counts: v0 and unknown schemes are ignored, and items
// without '=' are skipped. Keys and values are taken as they are (no
// trimming), as Stripe's SDKs do.
//
// The raw body is the exact bytes received: re-serialised JSON no longer
// verifies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "events/status.hpp"

namespace crmd::connectors {

// Headers longer than this are refused unread (Stripe's are ~100 bytes per
// signature).
constexpr size_t max_stripe_signature_header_bytes = 8192;
constexpr int64_t default_stripe_tolerance_s = 300;

// ok when the header carries a single well-formed `t`, some `v1` equals the
// HMAC of "<t>.<raw_body>" under `secret` (constant-time compare), and
// |now_s - t| <= tolerance_s (a negative tolerance refuses everything).
// Otherwise errc::invalid_argument with reason "invalid_signature" and a
// message saying why: missing or oversized header, no t, a malformed or
// repeated t, no v1, no matching signature, or a timestamp out of tolerance.
// The signature is checked before the timestamp, so "too old" means a
// genuine but stale (possibly replayed) event.
status verify_stripe_signature(std::string_view header, std::string_view raw_body, std::string_view secret,
                               int64_t now_s, int64_t tolerance_s = default_stripe_tolerance_s);

// "t=<t>,v1=<hex>": the header Stripe would send for `raw_body` at time t,
// for tests and the fake Stripe server.
std::string stripe_signature_header(std::string_view raw_body, std::string_view secret, int64_t t);

}  // namespace crmd::connectors
