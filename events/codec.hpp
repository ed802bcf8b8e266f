// Event payload codec: cereal portable binary behind a closed std::variant.
//
// encode() writes a payload with cereal::PortableBinaryOutputArchive; the
// event's type name and schema version travel in the envelope, not in the
// payload. decode() reads that format with a bounded archive that refuses a
// length larger than the bytes that remain, so no payload can make it
// allocate more than its own size, and no exception leaves this codec.
//
// Schema evolution: a type at schema_version N may declare
//   static crmd::result<T> upcast(uint16_t from_version, std::string_view payload);
// which decode() calls for payloads written with an older version.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "events/status.hpp"

namespace crmd::codec {

// Binary encode/decode of one struct that has a `fields` visitor. Defined in
// codec.cpp for the event types listed there (explicit instantiation keeps
// cereal out of every other translation unit).
template <class T> std::string encode_payload(const T& value);
template <class T> status decode_payload(std::string_view payload, T& out);

struct encoded_event {
  const char* type = nullptr;
  uint16_t schema_version = 0;
  std::string payload;
};

template <class Variant>
encoded_event encode(const Variant& v) {
  return std::visit(
      [](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        return encoded_event{T::type_name, T::schema_version, encode_payload(e)};
      },
      v);
}

namespace detail {

template <class T, class = void> struct has_upcast : std::false_type {};
template <class T>
struct has_upcast<T, std::void_t<decltype(T::upcast(uint16_t{}, std::string_view{}))>>
    : std::true_type {};

template <class T>
result<T> decode_one(uint16_t version, std::string_view payload) {
  if (version > T::schema_version)
    return status{errc::unsupported, std::string(T::type_name) + " schema version " +
                                         std::to_string(version) + " is newer than this build's " +
                                         std::to_string(T::schema_version)};
  if (version < T::schema_version) {
    if constexpr (has_upcast<T>::value) {
      return T::upcast(version, payload);
    } else {
      return status{errc::unsupported, std::string(T::type_name) + " has no upcast from version " +
                                           std::to_string(version)};
    }
  }
  T out;
  if (auto s = decode_payload(payload, out); !s) return s;
  return out;
}

template <class Variant, size_t I = 0>
result<Variant> decode_variant(std::string_view type, uint16_t version, std::string_view payload) {
  if constexpr (I == std::variant_size_v<Variant>) {
    return status{errc::unsupported, "unknown event type '" + std::string(type) + "'"};
  } else {
    using T = std::variant_alternative_t<I, Variant>;
    constexpr std::string_view name = T::type_name;  // length known at compile time
    if (type == name) {
      auto r = decode_one<T>(version, payload);
      if (!r) return r.error();
      return Variant{std::in_place_index<I>, std::move(*r)};
    }
    return decode_variant<Variant, I + 1>(type, version, payload);
  }
}

}  // namespace detail

// errc::unsupported for an unknown type or a future schema version,
// errc::corruption for bytes that do not decode.
template <class Variant>
result<Variant> decode(std::string_view type, uint16_t version, std::string_view payload) {
  return detail::decode_variant<Variant>(type, version, payload);
}

namespace detail {
template <class Variant, size_t I = 0>
status decode_into(std::string_view type, uint16_t version, std::string_view payload, Variant& out) {
  if constexpr (I == std::variant_size_v<Variant>) {
    return status{errc::unsupported, "unknown event type '" + std::string(type) + "'"};
  } else {
    using T = std::variant_alternative_t<I, Variant>;
    constexpr std::string_view name = T::type_name;
    if (type != name) return decode_into<Variant, I + 1>(type, version, payload, out);
    if (version != T::schema_version) {
      auto r = decode_one<T>(version, payload);
      if (!r) return r.error();
      out.template emplace<I>(std::move(*r));
      return status::ok();
    }
    if (out.index() != I) out.template emplace<I>();
    return decode_payload(payload, std::get<I>(out));
  }
}
}  // namespace detail

// Like decode(), but into an existing variant: when it already holds the same
// alternative its strings' capacity is reused, so a replay loop that keeps
// one scratch event allocates nothing per event. On error `out` is unspecified.
template <class Variant>
status decode_into(std::string_view type, uint16_t version, std::string_view payload, Variant& out) {
  return detail::decode_into<Variant>(type, version, payload, out);
}

template <class Variant, size_t I = 0>
bool knows_type(std::string_view type) {
  if constexpr (I == std::variant_size_v<Variant>) {
    return false;
  } else {
    return type == std::variant_alternative_t<I, Variant>::type_name ||
           knows_type<Variant, I + 1>(type);
  }
}

}  // namespace crmd::codec
