// Speech to text for call recordings through a chain of OpenAI-compatible
// providers (POST /v1/audio/transcriptions: OpenAI Whisper, Groq, a local
// whisper server, ...), on libcurl.
//
// BLOCKING: each provider tried costs one upload and one answer, up to its
// timeout_ms (default 2 min), on the calling thread; the whole chain may take
// the sum. Run it on a worker thread (storage/worker_pool.hpp), never on a
// CAF actor or RESTinio I/O thread. Calls are thread-safe; each provider
// attempt uses its own curl handle.
//
// Providers are tried in order, each once (no retries here: the next
// provider is the retry); a provider whose url is empty is skipped and leaves
// no attempt. The first success ends the chain. Redirects are not followed.
//
// Errors are values, never exceptions: transcribe() always returns, with
// `result` empty when no provider succeeded, and one stt_attempt per
// provider tried. An attempt's error is a short reason and, when there was
// an answer, its HTTP status:
//   "bad configuration (url)"  / "(key)"   refused before sending
//   "audio file unreadable"                the local file is missing or unreadable
//   "unreachable (<curl error>)"           no answer (connection, TLS, timeout)
//   "refused (HTTP 4xx)"                   the provider refused (bad key, bad audio), 429 aside
//   "unavailable (HTTP 429|5xx|...)"       busy or broken
//   "answer too large (HTTP n)"            more than max_stt_response_bytes
//   "malformed answer (HTTP 2xx)"          not JSON with a string "text"
//   "internal error ..."                   crmd could not build the request (out of memory)
// The provider's own error text is never copied (OpenAI's echoes part of
// the key), and no error ever contains the key.
//
// A 2xx {"text": ""} (a silent call) is a success with empty text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace crmd::connectors {

struct stt_provider {
  std::string name;  // "primary" / "fallback" (goes into events; never the key)
  std::string url;   // base such as "https://api.openai.com"; "/v1/audio/transcriptions" is appended unless the url
                     // already ends with it
  std::string key;   // Bearer token; may be empty (then no Authorization header)
  std::string model = "whisper-1";
  long timeout_ms = 120000;
};

struct transcript {
  std::string text;      // UTF-8 as the provider sent it
  std::string language;  // the response's "language" if present, else the requested one
  std::string provider;  // stt_provider::name of the provider that answered
};

struct stt_attempt {
  std::string provider;
  bool ok = false;
  std::string error;  // short reason + HTTP status, no secrets; empty when ok
};

struct transcription_outcome {
  std::optional<transcript> result;
  std::vector<stt_attempt> attempts;  // in the order tried
};

// Answers larger than this are a failed attempt.
constexpr size_t max_stt_response_bytes = 4 << 20;

// Tries providers in order (skipping ones with an empty url), multipart/form-data POST with
// fields file (the audio file, filename = basename, Content-Type audio/mpeg), model, language
// (e.g. "he"; omitted if empty), response_format=json. Success = 2xx with JSON {"text": string}
// (language from the response's "language" if present, else the requested one). Anything else
// is a failed attempt and the next provider is tried. Never throws.
transcription_outcome transcribe(const std::vector<stt_provider>& chain, const std::string& audio_path,
                                 const std::string& language);

}  // namespace crmd::connectors
