// Summarising a call transcript with an OpenAI-compatible chat completions
// endpoint (OpenAI, Azure-style proxies, a local vLLM/Ollama server), on
// libcurl.
//
// BLOCKING: one HTTPS round trip of up to timeout_ms (default 60 s) on the
// calling thread. Run it on a worker thread (storage/worker_pool.hpp), never
// on a CAF actor or RESTinio I/O thread. Calls are thread-safe; each uses its
// own curl handle. The client never retries and follows no redirects.
//
// The request body is built with nlohmann::json, so quotes, newlines and
// Hebrew in the transcript are encoded correctly (UTF-8 kept as is; invalid
// UTF-8 bytes are replaced by U+FFFD rather than failing the call).
//
// Errors are values, never exceptions:
//   errc::invalid_argument  "llm_not_configured": no url (or not an http(s)
//                           url, or a key that cannot go in a header);
//                           nothing is sent
//                           "llm_refused": the endpoint answered 4xx other
//                           than 429 (bad key, unknown model, too long)
//   errc::io_error          "llm_unavailable": no answer (connection, TLS,
//                           timeout), 429, 5xx, an answer over
//                           max_llm_response_bytes, or a 2xx without a string
//                           choices[0].message.content
// Messages name the HTTP status or curl error only: the endpoint's own error
// text is not copied (OpenAI's "Incorrect API key" message echoes part of
// the key), and the key never appears in a message.
#pragma once

#include <cstddef>
#include <string>

#include "events/status.hpp"

namespace crmd::connectors {

struct llm_options {
  std::string url;  // base such as "https://api.openai.com"; empty: summaries are off
  std::string key;  // Bearer token; may be empty (then no Authorization header)
  std::string model = "gpt-4o-mini";
  long timeout_ms = 60000;  // the whole request, connect included
};

// Answers larger than this are treated as a failed call.
constexpr size_t max_llm_response_bytes = 4 << 20;

// The JSON body summarize() sends (exposed for tests).
std::string chat_request_json(const std::string& model, const std::string& instructions,
                              const std::string& transcript_text);

// POST {url}/v1/chat/completions (appended unless url already ends with it), JSON
// {"model","messages":[{"role":"system","content":instructions},{"role":"user","content":transcript}]}
// -> choices[0].message.content. Errors: invalid_argument (no url configured, reason "llm_not_configured"; 4xx, reason
// "llm_refused"), io_error (transport, 5xx, 429, malformed answer; reason "llm_unavailable").
result<std::string> summarize(const llm_options& o, const std::string& instructions,
                              const std::string& transcript_text);

}  // namespace crmd::connectors
