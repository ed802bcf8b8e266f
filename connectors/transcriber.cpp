#include "connectors/transcriber.hpp"

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "connectors/curl_common.hpp"

namespace crmd::connectors {
namespace {

using namespace detail;
using json = nlohmann::json;

constexpr std::string_view transcriptions_path = "/v1/audio/transcriptions";

bool audio_readable(const std::string& path) {
  std::error_code ec;
  return !path.empty() && std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), R_OK) == 0;
}

bool add_field(curl_mime* form, const char* name, const std::string& value) {
  curl_mimepart* part = curl_mime_addpart(form);
  return part && curl_mime_name(part, name) == CURLE_OK && curl_mime_data(part, value.data(), value.size()) == CURLE_OK;
}

std::string http_failure(long code) {
  std::string http = "HTTP " + std::to_string(code);
  if (code >= 400 && code <= 499 && code != 429) return "refused (" + http + ")";
  return "unavailable (" + http + ")";
}

// One provider, once. Fills `out` and returns an ok attempt on success.
stt_attempt try_provider(const stt_provider& p, const std::string& audio_path, const std::string& language,
                         std::optional<transcript>& out) {
  stt_attempt a;
  a.provider = p.name;
  if (!is_http_url(p.url) || p.timeout_ms <= 0) {
    a.error = "bad configuration (url)";
    return a;
  }
  if (!header_safe(p.key)) {
    a.error = "bad configuration (key)";
    return a;
  }
  if (!audio_readable(audio_path)) {
    a.error = "audio file unreadable";
    return a;
  }

  // Declared before the easy handle, so they are freed after it.
  slist_ptr headers;
  mime_ptr form;
  easy_ptr c = new_easy();
  if (!c) {
    a.error = "unreachable (could not start an HTTP request)";
    return a;
  }
  form.reset(curl_mime_init(c.get()));
  curl_mimepart* file = form ? curl_mime_addpart(form.get()) : nullptr;
  if (file && curl_mime_filedata(file, audio_path.c_str()) != CURLE_OK) {
    a.error = "audio file unreadable";
    return a;
  }
  std::string filename = std::filesystem::path(audio_path).filename().string();
  bool built = file && curl_mime_name(file, "file") == CURLE_OK &&
               curl_mime_filename(file, filename.c_str()) == CURLE_OK &&
               curl_mime_type(file, "audio/mpeg") == CURLE_OK && add_field(form.get(), "model", p.model) &&
               (language.empty() || add_field(form.get(), "language", language)) &&
               add_field(form.get(), "response_format", "json");
  built = built && (p.key.empty() || add_header(headers, "Authorization: Bearer " + p.key)) &&
          add_header(headers, "Accept: application/json") &&
          add_header(headers, "Expect:");  // no 100-continue round trip before the upload
  if (!built) {
    a.error = "internal error (request not built)";
    return a;
  }

  std::string url = with_path(p.url, transcriptions_path);
  bounded_body body(max_stt_response_bytes);
  char error_buffer[CURL_ERROR_SIZE] = {0};
  common_options(c.get(), url, p.timeout_ms, error_buffer);
  curl_easy_setopt(c.get(), CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c.get(), CURLOPT_MIMEPOST, form.get());
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, collect_bounded);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &body);

  CURLcode rc = curl_easy_perform(c.get());
  long code = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
  std::string http = "HTTP " + std::to_string(code);
  if (body.overflow) {
    a.error = "answer too large (" + http + ")";
  } else if (rc != CURLE_OK) {
    a.error = redact("unreachable (" + transport_detail(rc, error_buffer) + ")", p.key);
  } else if (code < 200 || code > 299) {
    a.error = http_failure(code);
  } else {
    auto j = json::parse(body.data, nullptr, false);
    auto text = j.is_object() ? j.find("text") : j.end();
    if (!j.is_object() || text == j.end() || !text->is_string()) {
      a.error = "malformed answer (" + http + ")";
      return a;
    }
    transcript t;
    t.text = text->get<std::string>();
    t.language = language;
    if (auto lang = j.find("language");
        lang != j.end() && lang->is_string() && !lang->get_ref<const std::string&>().empty())
      t.language = lang->get<std::string>();
    t.provider = p.name;
    out = std::move(t);
    a.ok = true;
  }
  return a;
}

}  // namespace

transcription_outcome transcribe(const std::vector<stt_provider>& chain, const std::string& audio_path,
                                 const std::string& language) {
  transcription_outcome o;
  for (const auto& p : chain) {
    if (p.url.empty()) continue;
    try {
      o.attempts.push_back(try_provider(p, audio_path, language, o.result));
    } catch (const std::exception&) {  // bad_alloc and the like: a failed attempt, not an escape
      o.result.reset();
      stt_attempt a;
      a.provider = p.name;
      a.error = "internal error";
      try {
        o.attempts.push_back(std::move(a));
      } catch (...) {
      }
    }
    if (o.result) break;
  }
  return o;
}

}  // namespace crmd::connectors
