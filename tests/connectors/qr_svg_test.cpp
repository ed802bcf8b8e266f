// Specifications of the WhatsApp pairing QR rendering: libqrencode's matrix
// drawn as one SVG path, and its base64 data URL.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <qrencode.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "connectors/qr_svg.hpp"

namespace crmd::connectors {
namespace {

// Shaped like the `qr` of a Baileys connection.update: "<ref>,<noise key>,
// <identity key>,<adv secret>" (the keys are 32 bytes, base64).
const std::string baileys_qr =
    "2@Yh6mH0tZkQf3Xw8rV1cN2pL9sJ4dE7uB5aG0oK3iM6yT8qW1zR2xC5vF9nH4jD7lS0gA3bP6eU9cI2kO5mY8tX1wQ4rZ7hV0fN3dJ6sL9aE2u"
    "B5gK8pT1iM4oW7yC0qR3zX6vH9nF2jD5lS8cA1bP4eU7kI0gO3mY6tX9wQ2rZ5hV8fN1dJ4s==,"
    "Zx3bT8kQ2mN5vR7yW1pL4sJ6dF9gH0aC3eU5iO8rK2t=,"
    "Q9wE7rT5yU3iO1pA8sD6fG4hJ2kL0zX9cV7bN5mQ3W=,"
    "kP2oI4uY6tR8eW0qA1sD3fG5hJ7kL9zX2cV4bN6mM8=";

struct qrcode_free {
  void operator()(QRcode* q) const { QRcode_free(q); }
};
using qr_ptr = std::unique_ptr<QRcode, qrcode_free>;

// The matrix qr_svg should draw: level M, one 8-bit segment, smallest version.
qr_ptr reference(const std::string& text) { return qr_ptr(QRcode_encodeString8bit(text.c_str(), 0, QR_ECLEVEL_M)); }

int dark_modules(const QRcode& q) {
  int n = 0;
  for (int i = 0; i < q.width * q.width; ++i) n += q.data[i] & 1;
  return n;
}

std::string base64_decode(const std::string& b64) {
  std::string out(b64.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  if (n < 0) return "<invalid base64>";
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t pad = 0;
  if (!b64.empty() && b64.back() == '=') pad = (b64.size() >= 2 && b64[b64.size() - 2] == '=') ? 2 : 1;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// The path's `d`, as runs "M<x> <y>h<n>v1h-<n>z" painted onto a size x size grid.
struct painted {
  std::vector<std::vector<int>> grid;  // times each cell was painted
  int modules = 0;
  bool well_formed = true;
};

painted paint(const std::string& svg, int size) {
  painted p;
  p.grid.assign(size, std::vector<int>(size, 0));
  auto open = svg.find(" d=\"");
  if (open == std::string::npos) return {{}, 0, false};
  auto close = svg.find('"', open + 4);
  std::string d = svg.substr(open + 4, close - open - 4);
  static const std::regex run(R"(M(\d+) (\d+)h(\d+)v1h-(\d+)z)");
  size_t covered = 0;
  for (std::sregex_iterator it(d.begin(), d.end(), run), end; it != end; ++it) {
    const auto& m = *it;
    if (static_cast<size_t>(m.position()) != covered || m[3] != m[4]) p.well_formed = false;
    covered = m.position() + m.length();
    int x = std::stoi(m[1]), y = std::stoi(m[2]), n = std::stoi(m[3]);
    if (n < 1 || y >= size || x + n > size) {
      p.well_formed = false;
      continue;
    }
    for (int i = 0; i < n; ++i) ++p.grid[y][x + i];
    p.modules += n;
  }
  if (covered != d.size()) p.well_formed = false;
  return p;
}

void expect_refused(const result<std::string>& r) {
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_EQ(r.error().reason(), "qr_too_long");
}

TEST(qr_svg, a_baileys_qr_renders_as_an_svg_sized_for_the_chosen_version) {
  ASSERT_GT(baileys_qr.size(), 230u);
  auto svg = qr_svg(baileys_qr);
  ASSERT_TRUE(svg) << svg.error().to_string();
  auto ref = reference(baileys_qr);
  ASSERT_TRUE(ref);
  EXPECT_GE(ref->version, 9);  // ~240 bytes at level M
  const std::string s = std::to_string(ref->width + 8);
  EXPECT_EQ(svg->rfind("<svg", 0), 0u) << svg->substr(0, 80);
  EXPECT_NE(svg->find("viewBox=\"0 0 " + s + " " + s + "\""), std::string::npos) << svg->substr(0, 200);
  EXPECT_NE(svg->find("shape-rendering=\"crispEdges\""), std::string::npos);
  EXPECT_NE(svg->find("<rect width=\"" + s + "\" height=\"" + s + "\" fill=\"#fff\"/>"), std::string::npos);
  EXPECT_EQ(svg->find("<path"), svg->rfind("<path"));  // exactly one path
  EXPECT_NE(svg->find("<path fill=\"#000\""), std::string::npos);
  EXPECT_EQ(svg->size() - svg->rfind("</svg>"), 6u);
}

TEST(qr_svg, the_same_text_renders_the_same_bytes) {
  auto a = qr_svg(baileys_qr), b = qr_svg(baileys_qr);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  auto other = qr_svg(baileys_qr.substr(0, baileys_qr.size() - 1) + "A");
  ASSERT_TRUE(other);
  EXPECT_NE(*a, *other);
}

TEST(qr_svg, the_path_paints_exactly_the_dark_modules_inside_the_quiet_zone) {
  for (const std::string& text : {baileys_qr, std::string("x"), std::string(2000, 'q')}) {
    auto svg = qr_svg(text);
    ASSERT_TRUE(svg) << svg.error().to_string();
    auto ref = reference(text);
    ASSERT_TRUE(ref);
    const int w = ref->width, size = w + 8;
    auto p = paint(*svg, size);
    EXPECT_TRUE(p.well_formed) << text.size() << " bytes";
    EXPECT_EQ(p.modules, dark_modules(*ref)) << text.size() << " bytes";
    int mismatches = 0;
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        bool inside = x >= 4 && y >= 4 && x < 4 + w && y < 4 + w;
        int want = inside ? (ref->data[(y - 4) * w + (x - 4)] & 1) : 0;
        mismatches += p.grid[y][x] != want;
      }
    EXPECT_EQ(mismatches, 0) << text.size() << " bytes";
  }
}

TEST(qr_svg, the_whole_text_is_one_8bit_segment_even_when_digits_would_pack_tighter) {
  // 400 digits: numeric mode fits version 6-M; as bytes it needs version 15.
  std::string digits(400, '7');
  auto svg = qr_svg(digits);
  ASSERT_TRUE(svg);
  auto ref = reference(digits);
  ASSERT_TRUE(ref);
  qr_ptr mixed(QRcode_encodeString(digits.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));  // splits into segments
  ASSERT_TRUE(mixed);
  EXPECT_LT(mixed->version, ref->version);
  const std::string s = std::to_string(ref->width + 8);
  EXPECT_NE(svg->find("viewBox=\"0 0 " + s + " " + s + "\""), std::string::npos);
  EXPECT_EQ(paint(*svg, ref->width + 8).modules, dark_modules(*ref));
}

TEST(qr_svg, the_data_url_decodes_back_to_the_svg) {
  auto svg = qr_svg(baileys_qr);
  auto url = qr_data_url(baileys_qr);
  ASSERT_TRUE(svg && url);
  const std::string prefix = "data:image/svg+xml;base64,";
  ASSERT_EQ(url->rfind(prefix, 0), 0u);
  std::string b64 = url->substr(prefix.size());
  EXPECT_EQ(b64.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="),
            std::string::npos);
  EXPECT_EQ(b64.size() % 4, 0u);
  EXPECT_EQ(base64_decode(b64), *svg);
  // Every padding length decodes too (svg sizes differ by text).
  for (const std::string& text : {std::string("a"), std::string("ab"), std::string("abc"), std::string("abcd")}) {
    auto u = qr_data_url(text);
    auto v = qr_svg(text);
    ASSERT_TRUE(u && v);
    EXPECT_EQ(base64_decode(u->substr(prefix.size())), *v);
  }
}

TEST(qr_svg, empty_and_oversized_texts_are_refused) {
  expect_refused(qr_svg(""));
  expect_refused(qr_svg(std::string(3000, 'a')));
  expect_refused(qr_svg(std::string(max_qr_text_bytes + 1, 'a')));
  EXPECT_TRUE(qr_svg(std::string(max_qr_text_bytes, 'a')));
  expect_refused(qr_data_url(""));
  expect_refused(qr_data_url(std::string(3000, 'a')));
}

TEST(qr_svg, bytes_are_encoded_as_they_are_nul_included) {
  const std::string with_nul("ab\0cd", 5);
  auto a = qr_svg(with_nul);
  auto b = qr_svg("ab");
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
}

}  // namespace
}  // namespace crmd::connectors
