// Writes COUNT signed incoming_call webhook requests, one per line as
// "<form body>\t<X-Twilio-Signature>", for bench/twilio_incoming.lua: wrk's
// Lua cannot compute HMAC-SHA1, so requests are signed ahead of time.
// Usage: twilio_requests TOKEN URL COUNT OUT [RUN_PREFIX]
// CallSids are unique per line (and per RUN_PREFIX); callers come from a
// pool of 1000 numbers, so after the first pass they are existing leads.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "connectors/twilio_signature.hpp"

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: twilio_requests TOKEN URL COUNT OUT [RUN_PREFIX]\n");
    return 2;
  }
  std::string token = argv[1], url = argv[2], prefix = argc > 5 ? argv[5] : "A";
  long count = std::atol(argv[3]);
  FILE* out = std::fopen(argv[4], "w");
  if (!out) return 1;
  for (long i = 0; i < count; ++i) {
    char body[256];
    std::snprintf(body, sizeof body,
                  "AccountSid=ACbench&CallSid=CA%s%08ld&CallStatus=ringing&Direction=inbound&From=%%2B97250%07ld&"
                  "To=%%2B97233763805",
                  prefix.c_str(), i, 1000000 + i % 1000);
    auto form = crmd::connectors::twilio::parse_form(body);
    std::fprintf(out, "%s\t%s\n", body, crmd::connectors::twilio::compute_signature(token, url, *form).c_str());
  }
  return std::fclose(out) == 0 ? 0 : 1;
}
