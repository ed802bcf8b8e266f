// crmd twilio-sign: the X-Twilio-Signature Twilio would send, so an operator
// can test a webhook with curl:
//   sig=$(crmd twilio-sign --url https://crm.example.com/webhook/twilio/voice -d 'CallSid=CA1&From=%2B1555')
//   curl -H "X-Twilio-Signature: $sig" -d 'CallSid=CA1&From=%2B1555' https://crm.example.com/webhook/twilio/voice
// -d may repeat (joined with '&', as curl does); the token is --token or TWILIO_AUTH_TOKEN.
#include <cstdlib>
#include <iostream>
#include <optional>

#include "app/cli_args.hpp"

#include "app/commands.hpp"
#include "connectors/twilio_signature.hpp"

namespace crmd::cli {

namespace {
const char* help = R"(usage: crmd twilio-sign --url URL [-d 'A=1&B=2']... [--token TOKEN]

Prints the X-Twilio-Signature for a form POST of the -d data to URL, signed
with TOKEN (default $TWILIO_AUTH_TOKEN). Write '+' as %2B in -d data, as curl
sends it unencoded and it would arrive as a space.
)";
}  // namespace

int run_twilio_sign(const argv_t& argv) {
  std::string url, data, token;
  if (const char* t = std::getenv("TWILIO_AUTH_TOKEN")) token = t;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    auto value = [&](const std::string& name) -> std::optional<std::string> {
      if (a.rfind(name + "=", 0) == 0) return a.substr(name.size() + 1);
      if (a == name && i + 1 < argv.size()) return argv[++i];
      return std::nullopt;
    };
    if (a == "--help" || a == "-h") {
      std::cout << help;
      return exit_ok;
    }
    if (auto v = value("--url")) url = *v;
    else if (auto d = value("-d")) data += (data.empty() ? "" : "&") + *d;
    else if (auto d2 = value("--data")) data += (data.empty() ? "" : "&") + *d2;
    else if (auto t = value("--token")) token = *t;
    else {
      std::cerr << "crmd twilio-sign: unexpected '" << a << "' (see crmd twilio-sign --help)\n";
      return exit_usage;
    }
  }
  if (url.empty()) {
    std::cerr << "crmd twilio-sign: --url is required (see crmd twilio-sign --help)\n";
    return exit_usage;
  }
  if (token.empty()) {
    std::cerr << "crmd twilio-sign: no token: set TWILIO_AUTH_TOKEN or pass --token\n";
    return exit_usage;
  }
  auto form = connectors::twilio::parse_form(data);
  if (!form) {
    std::cerr << "crmd twilio-sign: " << form.error().message() << "\n";
    return exit_usage;
  }
  std::cout << connectors::twilio::compute_signature(token, url, *form) << "\n";
  return exit_ok;
}

}  // namespace crmd::cli
