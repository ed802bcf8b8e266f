// Internal to http/: the API's state and the per-request context the route
// handlers work with. Included by api.cpp and the routes_*.cpp files only.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

#include "actors/runtime.hpp"
#include "events/status.hpp"
#include "http/api.hpp"
#include "http/router.hpp"

namespace crmd::http {

using json = nlohmann::json;

struct call;
using call_ptr = std::shared_ptr<call>;
using handler_fn = std::function<void(const call_ptr&)>;

struct api::impl {
  api_deps deps;
  api_options opts;
  router<handler_fn> routes;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // principal -> the highest position acknowledged to it (read-your-writes).
  std::mutex positions_mu;
  std::unordered_map<std::string, uint64_t> positions;

  impl(api_deps d, api_options o) : deps(d), opts(std::move(o)) {}
  void note_position(const std::string& principal, uint64_t pos);
  uint64_t position_of(const std::string& principal);
  void add_routes();
};

// One request in flight.
struct call : std::enable_shared_from_this<call> {
  http_request req;
  std::shared_ptr<responder> out;
  params_t params;
  std::string request_id;
  std::string principal;  // who is calling ("admin" for the operator token)
  api::impl* ctx = nullptr;
  std::map<std::string, std::string> query;  // decoded query parameters

  void send_json(int status, const json& body, std::vector<std::pair<std::string, std::string>> extra = {});
  void send_raw_json(int status, std::string body);
  void error(int status, const std::string& code, const std::string& message,
             std::vector<std::pair<std::string, std::string>> extra = {});
  // Maps a rejection or failure to its status code and answers it.
  void fail(const status& s);
  event_metadata who() const;

  // The body as a JSON object, or answers 400/415 and returns nullopt.
  std::optional<json> json_body();
  // page/limit from the query (defaults 1 and 25, limit at most 200).
  bool paging(uint64_t& page, uint64_t& limit);
  // A tenant from the path, resolved through aliases; answers 404 if unknown.
  std::optional<std::string> tenant_param(const std::string& name = "tenant");
  // Runs `read` once the views include this principal's writes (and
  // `min_position` from the query); answers 503 after the consistency wait.
  void after_own_writes(std::function<void()> read);
  // Answers a command's outcome: `ok` builds the success body.
  command_done answer(int status, std::function<json(const command_ok&)> ok);
};

// Fields of a JSON body: a missing or mistyped field is a 400 naming it.
std::optional<std::string> string_field(const call_ptr& c, const json& body, const char* name, bool required);

// {"ok":true,"results":[<items>],"page":P,"pages":N,"total":T}: the one
// pagination shape of every list in crmd. Items are stored JSON objects.
std::string page_json(const std::vector<std::string>& items, uint64_t total, uint64_t page, uint64_t limit);

void add_tenant_routes(api::impl& a);
void add_prompt_routes(api::impl& a);

}  // namespace crmd::http
