// QR codes as SVG, for WhatsApp pairing (GET /api/whatsapp/qr).
//
// The bridge hands crmd the QR string Baileys emitted (`connection.update`
// `qr`, about 240 characters); crmd renders it itself with libqrencode, so
// no QR image, and no third-party renderer, ever sees the pairing text.
//
// The code is error correction level M, the whole text one 8-bit (byte mode)
// segment, the smallest version (1..40) that holds it, libqrencode's mask
// choice. The rendering is deterministic: the same text gives the same bytes.
//
// SVG shape (W = QR width in modules + 8):
//   <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 W W"
//        width="6W" height="6W" shape-rendering="crispEdges">
//   <rect width="W" height="W" fill="#fff"/>
//   <path fill="#000" d="M<x> <y>h<n>v1h-<n>z..."/></svg>
// One unit of the viewBox is one module; the code sits inside a 4-module
// white quiet zone. The path is one closed subpath per horizontal run of dark
// modules, `M<x> <y>h<n>v1h-<n>z` covering modules x..x+n-1 of row y (both in
// viewBox units, so offset by the quiet zone); runs never overlap or touch
// end to end within a row. No XML declaration: the text starts with "<svg".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "events/status.hpp"

namespace crmd::connectors {

// Longer texts are refused before encoding (version 40-M holds 2331 bytes;
// a Baileys QR string is ~240).
constexpr size_t max_qr_text_bytes = 2000;
// Pixels per module in the SVG's width/height (the viewBox stays in modules).
constexpr int qr_svg_pixels_per_module = 6;

// The SVG above for `text` (its bytes as they are, NULs included). Empty
// text, text over max_qr_text_bytes, or text libqrencode cannot encode:
// errc::invalid_argument with reason "qr_too_long". Out of memory inside
// libqrencode: errc::io_error.
result<std::string> qr_svg(std::string_view text);

// "data:image/svg+xml;base64," + base64(qr_svg(text)) (standard alphabet,
// padded, no line breaks), ready for an <img src>. Errors as qr_svg.
result<std::string> qr_data_url(std::string_view text);

}  // namespace crmd::connectors
