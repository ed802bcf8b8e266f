// Internal to whatsapp_parse.cpp and whatsapp_cloud.cpp: checked access to
// hostile JSON. Not part of the connectors' public API.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "connectors/whatsapp_parse.hpp"

// Returns the status of `expr` from the enclosing function when it failed.
#define WA_TRY(expr)               \
  do {                             \
    if (auto s_ = (expr); !s_) {   \
      return s_;                   \
    }                              \
  } while (0)

namespace crmd::connectors::wa::detail {

using json = nlohmann::json;

status malformed(const std::string& why);
status bad_field(const std::string& path, const std::string& why);

// Size and depth checks, then a non-throwing parse; the top level must be an
// object. `what` names the body in messages ("bridge body").
result<json> load_object(std::string_view body, const char* what);

// The member, or nullptr when absent or null. `obj` must be an object.
const json* member(const json& obj, const char* key);

enum class kind { identifier, text };
// Absent/null: ok, `out` untouched; `required` turns that into an error.
// Identifiers over max_string_bytes refuse; text is truncated (UTF-8 safe).
status get_string(const json& obj, const char* key, const std::string& path, std::string& out,
                  kind k, bool required = false);
status get_bool(const json& obj, const char* key, const std::string& path, bool& out);
// Integer, numeric string or protobufjs Long; absent/null leaves `out`.
status get_int(const json& obj, const char* key, const std::string& path, int64_t& out);
// An object member or absent/null (nullptr); any other type is an error.
status get_object(const json& obj, const char* key, const std::string& path, const json*& out);

// "+<digits>" when `digits` is 1-15 ASCII digits, else empty.
std::string e164(std::string_view digits);

}  // namespace crmd::connectors::wa::detail
