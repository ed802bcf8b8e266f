// Every event type crmd knows, by name: the one place that lists the
// aggregates' variants, for tools that see events without knowing their
// aggregate (the CLI, replay, the audit trail).
#pragma once

#include <string>
#include <string_view>

#include "events/status.hpp"

namespace crmd::catalog {

bool knows_type(std::string_view type);

// Decodes a plaintext payload and renders it as a JSON object.
// errc::unsupported for unknown types or future versions, errc::corruption
// for bytes that do not decode.
result<std::string> payload_to_json(std::string_view type, uint16_t schema_version,
                                    std::string_view payload);

}  // namespace crmd::catalog
