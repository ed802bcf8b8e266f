// Twilio webhook signatures (the X-Twilio-Signature header).
//
// Twilio signs the full URL it requested (scheme through query string)
// followed by the form parameters of a POST, sorted by name, each appended
// as name then value with no separator: base64(HMAC-SHA1(auth token, that)).
// The server must check against the public URL Twilio called (behind a
// proxy, not the one the server sees), and against the parameters exactly as
// received: dropping or adding one, or a trailing slash on the path, changes
// the hash.
//
// Twilio is not consistent about the port: for voice over HTTPS it drops the
// port, elsewhere it may keep ":443". Its SDKs therefore accept the URL both
// with and without the default port, and so does valid_signature. Credentials
// in the URL (user:pass@) are never part of what Twilio signs.
//
// Only form-encoded bodies are covered here. For JSON bodies Twilio adds
// bodySHA256=<hex> to the URL and signs the URL alone (an empty form); the
// body hash is the caller's to check.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "events/status.hpp"

namespace crmd::connectors::twilio {

// One form parameter as decoded ('+' is a space, %XX decoded), in the order received.
using form = std::vector<std::pair<std::string, std::string>>;

// Twilio's voice callbacks carry a few dozen parameters; a body with more
// than this is not Twilio and is refused before it costs a sort.
constexpr size_t max_form_pairs = 1000;

// Parses an application/x-www-form-urlencoded body. Empty body -> empty form.
// A pair without '=' is a name with an empty value; empty pairs ("a=1&&b=2",
// a trailing '&') are skipped, as browsers and web frameworks do. Malformed
// %-escapes are kept literally (as Twilio's SDKs do). Refuses
// (errc::invalid_argument, reason "malformed_form") bodies with more than
// max_form_pairs pairs or a decoded name/value that is not valid UTF-8.
result<form> parse_form(std::string_view body);

// The data Twilio signs: url, then parameters sorted by name (byte order);
// a name that appears several times is appended once per value, values sorted
// (as Twilio's SDKs do: name+value for each value). The url is taken as it
// is: no port or credential handling (see url_variants).
std::string signing_string(std::string_view url, const form& params);

// base64(HMAC-SHA1(auth_token, signing_string(url, params))): 28 characters,
// or empty in the (never expected) case that OpenSSL fails.
std::string compute_signature(std::string_view auth_token, std::string_view url, const form& params);

// The URL variants Twilio's SDKs accept for one public URL: user:pass@ removed;
// as given, and with the default port added (":443" for https, ":80" for http)
// or removed when it was there. Non-default ports are left as they are, and
// so is a URL whose scheme is neither http nor https (one variant). The first
// variant is always the URL as given minus credentials; no two are equal.
std::vector<std::string> url_variants(std::string_view url);

// True when `signature` (the X-Twilio-Signature header) matches any variant,
// compared in constant time (CRYPTO_memcmp over equal-length strings). An empty
// token or signature is never valid.
bool valid_signature(std::string_view auth_token, std::string_view url, const form& params, std::string_view signature);

}  // namespace crmd::connectors::twilio
