#include "events/catalog.hpp"

#include <nlohmann/json.hpp>
#include <optional>

#include "events/codec.hpp"
#include "events/call_events.hpp"
#include "events/identity_events.hpp"
#include "events/whatsapp_events.hpp"

namespace crmd::catalog {
namespace {

template <class V>
nlohmann::json to_json_value(const V& v) {
  return nlohmann::json(v);
}
template <class V>
nlohmann::json to_json_value(const std::optional<V>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

template <class Event>
nlohmann::json to_json(const Event& e) {
  nlohmann::json j = nlohmann::json::object();
  const_cast<Event&>(e).fields(
      [&j](const char* name, const auto& member) { j[name] = to_json_value(member); });
  return j;
}

template <class Variant>
std::optional<result<std::string>> try_render(std::string_view type, uint16_t schema_version,
                                              std::string_view payload) {
  if (!codec::knows_type<Variant>(type)) return std::nullopt;
  auto r = codec::decode<Variant>(type, schema_version, payload);
  if (!r) return result<std::string>(r.error());
  // Invalid UTF-8 in stored strings is replaced rather than thrown on.
  return result<std::string>(std::visit([](const auto& e) { return to_json(e); }, *r)
                                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

bool knows_type(std::string_view type) {
  return codec::knows_type<ev::tenant_event>(type) || codec::knows_type<ev::registry_event>(type) ||
         codec::knows_type<ev::auth_event>(type) || codec::knows_type<ev::call_event>(type) ||
         codec::knows_type<ev::whatsapp_event>(type);
}

result<std::string> payload_to_json(std::string_view type, uint16_t schema_version,
                                    std::string_view payload) {
  if (auto r = try_render<ev::tenant_event>(type, schema_version, payload)) return std::move(*r);
  if (auto r = try_render<ev::registry_event>(type, schema_version, payload)) return std::move(*r);
  if (auto r = try_render<ev::auth_event>(type, schema_version, payload)) return std::move(*r);
  if (auto r = try_render<ev::call_event>(type, schema_version, payload)) return std::move(*r);
  if (auto r = try_render<ev::whatsapp_event>(type, schema_version, payload)) return std::move(*r);
  return status{errc::unsupported, "unknown event type '" + std::string(type) + "'"};
}

}  // namespace crmd::catalog
