#include "connectors/twilio_signature.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <climits>

#include "storage/crypto.hpp"

namespace crmd::connectors::twilio {
namespace {

status malformed(const std::string& why) {
  return {errc::invalid_argument, "the form body is not valid (" + why + ")", "malformed_form"};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// '+' is a space and %XX a byte; a '%' not followed by two hex digits stays
// as it is, so a sloppy sender's "100%" signs and verifies as sent.
std::string decode_component(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
// above U+10FFFF. Twilio signs text; bytes that are not text cannot have come
// from it, and would sign differently in every SDK.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t trail = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the first trail byte
    if (c >= 0xC2 && c <= 0xDF) {
      trail = 1;
    } else if (c == 0xE0) {
      trail = 2, lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
      trail = 2;
    } else if (c == 0xED) {
      trail = 2, hi = 0x9F;
    } else if (c == 0xF0) {
      trail = 3, lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3) {
      trail = 3;
    } else if (c == 0xF4) {
      trail = 3, hi = 0x8F;
    } else {
      return false;
    }
    if (s.size() - i - 1 < trail) return false;
    auto first = static_cast<unsigned char>(s[i + 1]);
    if (first < lo || first > hi) return false;
    for (size_t k = 2; k <= trail; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += trail + 1;
  }
  return true;
}

// The part of the signed data after the URL: sorted once, then shared by
// every URL variant. std::string compares as unsigned char, i.e. byte order.
std::string signed_params(const form& params) {
  std::vector<const form::value_type*> sorted;
  sorted.reserve(params.size());
  size_t bytes = 0;
  for (const auto& p : params) {
    sorted.push_back(&p);
    bytes += p.first.size() + p.second.size();
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return *a < *b; });
  std::string out;
  out.reserve(bytes);
  for (const auto* p : sorted) out.append(p->first).append(p->second);
  return out;
}

std::string sign(std::string_view auth_token, std::string_view data) {
  if (auth_token.size() > static_cast<size_t>(INT_MAX)) return {};
  // HMAC() wants a non-null key pointer even for a zero-length key.
  static const unsigned char no_key = 0;
  const void* key = auth_token.empty() ? &no_key : static_cast<const void*>(auth_token.data());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC(EVP_sha1(), key, static_cast<int>(auth_token.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), mac, &mac_len))
    return {};
  return crypto::base64(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

result<form> parse_form(std::string_view body) {
  form out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view pair = body.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) continue;
    // Checked before decoding, so an oversized body costs one scan at most.
    if (out.size() == max_form_pairs) return malformed("more than " + std::to_string(max_form_pairs) + " parameters");
    size_t eq = pair.find('=');
    std::string name = decode_component(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? std::string() : decode_component(pair.substr(eq + 1));
    // The parameter's position, not its text: a body is not echoed into logs.
    if (!valid_utf8(name) || !valid_utf8(value))
      return malformed("parameter " + std::to_string(out.size() + 1) + " is not valid UTF-8");
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

std::string signing_string(std::string_view url, const form& params) {
  std::string out(url);
  out.append(signed_params(params));
  return out;
}

std::string compute_signature(std::string_view auth_token, std::string_view url, const form& params) {
  return sign(auth_token, signing_string(url, params));
}

std::vector<std::string> url_variants(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return {std::string(url)};
  std::string_view scheme = url.substr(0, sep);
  size_t authority_begin = sep + 3;
  size_t authority_end = url.find_first_of("/?#", authority_begin);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string_view authority = url.substr(authority_begin, authority_end - authority_begin);
  std::string_view prefix = url.substr(0, authority_begin), rest = url.substr(authority_end);

  // The last '@' ends the credentials: a password may hold an unescaped '@',
  // a host never does.
  size_t at = authority.rfind('@');
  std::string_view host_port = at == std::string_view::npos ? authority : authority.substr(at + 1);

  // An IPv6 literal's colons are inside its brackets; only a colon after ']'
  // starts a port.
  size_t colon = std::string_view::npos;
  if (!host_port.empty() && host_port.front() == '[') {
    size_t close = host_port.find(']');
    if (close != std::string_view::npos && close + 1 < host_port.size() && host_port[close + 1] == ':') colon = close + 1;
  } else {
    colon = host_port.rfind(':');
  }
  std::string_view host = host_port.substr(0, colon);

  std::string as_given = std::string(prefix).append(host_port).append(rest);
  std::vector<std::string> variants{as_given};
  std::string_view default_port = iequals(scheme, "https") ? "443" : iequals(scheme, "http") ? "80" : "";
  if (default_port.empty()) return variants;
  if (colon == std::string_view::npos) {
    variants.push_back(std::string(prefix).append(host).append(":").append(default_port).append(rest));
  } else if (host_port.substr(colon + 1) == default_port) {
    variants.push_back(std::string(prefix).append(host).append(rest));
  }
  return variants;
}

bool valid_signature(std::string_view auth_token, std::string_view url, const form& params,
                     std::string_view signature) {
  if (auth_token.empty() || signature.empty()) return false;
  std::vector<std::string> suffixes{signed_params(params)};
  // A name repeated with one value twice: twilio-python signs each pair,
  // twilio-node each distinct value; both forms still need the token.
  form distinct = params;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  if (distinct.size() != params.size()) suffixes.push_back(signed_params(distinct));
  bool match = false;
  // Every variant is compared (no early exit), each in constant time.
  for (const auto& variant : url_variants(url))
    for (const auto& suffix : suffixes) {
      std::string expected = sign(auth_token, variant + suffix);
      // An empty expectation means OpenSSL failed; it must never match anything.
      if (!expected.empty()) match |= crypto::constant_time_equal(signature, expected);
    }
  return match;
}

}  // namespace crmd::connectors::twilio
