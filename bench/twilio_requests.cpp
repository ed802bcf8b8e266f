// Writes COUNT signed incoming_call webhook requests for
// bench/twilio_incoming.lua (wrk's Lua cannot compute HMAC-SHA1, so they
// are signed ahead of time) as whole HTTP requests, alternately into OUT.0
// and OUT.1 (one file for each of wrk's two threads), each as
// "<length>\n<request bytes>". Whole requests, so that wrk's Lua only reads
// them: formatting each one there took a quarter of the machine from the
// server, and loading them all before the run let wrk's first thread run
// unclocked while its second was being set up.
// Usage: twilio_requests TOKEN URL COUNT OUT [RUN_PREFIX]
// CallSids are unique per line (and per RUN_PREFIX); callers come from a
// pool of 1000 numbers, so after the first pass they are existing leads.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "connectors/twilio_signature.hpp"

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: twilio_requests TOKEN URL COUNT OUT [RUN_PREFIX]\n");
    return 2;
  }
  std::string token = argv[1], url = argv[2], prefix = argc > 5 ? argv[5] : "A";
  long count = std::atol(argv[3]);
  std::string base = argv[4];
  FILE* out[2] = {std::fopen((base + ".0").c_str(), "wb"), std::fopen((base + ".1").c_str(), "wb")};
  if (!out[0] || !out[1]) return 1;
  for (long i = 0; i < count; ++i) {
    char body[256];
    std::snprintf(body, sizeof body,
                  "AccountSid=ACbench&CallSid=CA%s%08ld&CallStatus=ringing&Direction=inbound&From=%%2B97250%07ld&"
                  "To=%%2B97233763805",
                  prefix.c_str(), i, 1000000 + i % 1000);
    auto form = crmd::connectors::twilio::parse_form(body);
    std::string sig = crmd::connectors::twilio::compute_signature(token, url, *form);
    std::string request = "POST /webhook/incoming_call HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: " +
                          sig + "\r\nContent-Length: " + std::to_string(std::strlen(body)) + "\r\n\r\n" + body;
    std::fprintf(out[i % 2], "%zu\n%s", request.size(), request.c_str());
  }
  bool closed = std::fclose(out[0]) == 0;
  return std::fclose(out[1]) == 0 && closed ? 0 : 1;
}
