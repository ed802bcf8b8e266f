#include "connectors/qr_svg.hpp"

#include "storage/crypto.hpp"

#include <openssl/evp.h>
#include <qrencode.h>

#include <cerrno>
#include <memory>

namespace crmd::connectors {
namespace {

status too_long(const std::string& why) { return {errc::invalid_argument, why, "qr_too_long"}; }

struct qrcode_free {
  void operator()(QRcode* q) const { QRcode_free(q); }
};

constexpr int quiet_zone = 4;


}  // namespace

result<std::string> qr_svg(std::string_view text) {
  if (text.empty()) return too_long("the QR text is empty");
  if (text.size() > max_qr_text_bytes)
    return too_long("the QR text is " + std::to_string(text.size()) + " bytes, more than " +
                    std::to_string(max_qr_text_bytes));
  errno = 0;
  std::unique_ptr<QRcode, qrcode_free> qr(
      QRcode_encodeData(static_cast<int>(text.size()), reinterpret_cast<const unsigned char*>(text.data()), 0,
                        QR_ECLEVEL_M));
  if (!qr) {
    if (errno == ENOMEM) return status{errc::io_error, "libqrencode ran out of memory"};
    return too_long("a QR code cannot hold the " + std::to_string(text.size()) + "-byte text");
  }

  const int w = qr->width;
  const int size = w + 2 * quiet_zone;
  const std::string s = std::to_string(size);
  const std::string px = std::to_string(size * qr_svg_pixels_per_module);
  std::string svg;
  svg.reserve(static_cast<size_t>(w) * w * 6 + 256);
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + s + " " + s + "\" width=\"" + px +
         "\" height=\"" + px + "\" shape-rendering=\"crispEdges\">";
  svg += "<rect width=\"" + s + "\" height=\"" + s + "\" fill=\"#fff\"/>";
  svg += "<path fill=\"#000\" d=\"";
  // Bit 0 of each byte of qr->data is the module's colour (1 = dark).
  const unsigned char* row = qr->data;
  for (int y = 0; y < w; ++y, row += w) {
    for (int x = 0; x < w;) {
      if (!(row[x] & 1)) {
        ++x;
        continue;
      }
      int run = 1;
      while (x + run < w && (row[x + run] & 1)) ++run;
      const std::string n = std::to_string(run);
      svg += 'M';
      svg += std::to_string(x + quiet_zone);
      svg += ' ';
      svg += std::to_string(y + quiet_zone);
      svg += 'h' + n + "v1h-" + n + 'z';
      x += run;
    }
  }
  svg += "\"/></svg>";
  return svg;
}

result<std::string> qr_data_url(std::string_view text) {
  auto svg = qr_svg(text);
  if (!svg) return svg.error();
  return "data:image/svg+xml;base64," + crypto::base64(*svg);
}

}  // namespace crmd::connectors
