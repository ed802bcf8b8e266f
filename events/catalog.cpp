#include "events/catalog.hpp"

#include <nlohmann/json.hpp>
#include <optional>

#include "events/codec.hpp"
#include "events/tenant_events.hpp"

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

}  // namespace

bool knows_type(std::string_view type) { return codec::knows_type<ev::tenant_event>(type); }

result<std::string> payload_to_json(std::string_view type, uint16_t schema_version,
                                    std::string_view payload) {
  if (codec::knows_type<ev::tenant_event>(type)) {
    auto r = codec::decode<ev::tenant_event>(type, schema_version, payload);
    if (!r) return r.error();
    // Invalid UTF-8 in stored strings is replaced rather than thrown on.
    return std::visit([](const auto& e) { return to_json(e); }, *r)
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return status{errc::unsupported, "unknown event type '" + std::string(type) + "'"};
}

}  // namespace crmd::catalog
