// Definitions behind codec.hpp's encode_payload/decode_payload. Include this
// only where new event types are instantiated (codec.cpp, tests): it pulls in
// cereal.
#pragma once

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <exception>
#include <sstream>

#include "events/bounded_archive.hpp"
#include "events/codec.hpp"

namespace crmd::codec::detail {
struct any_field {
  template <class M> void operator()(const char*, M&) const {}
};
template <class T, class = void> struct has_fields : std::false_type {};
template <class T>
struct has_fields<T, std::void_t<decltype(std::declval<T&>().fields(any_field{}))>>
    : std::true_type {};
}  // namespace crmd::codec::detail

namespace cereal {
// Any struct with a `fields` visitor serializes as its fields in order.
// Found by ADL through the archive (both archives derive from cereal types).
template <class Archive, class T,
          std::enable_if_t<crmd::codec::detail::has_fields<T>::value, int> = 0>
void serialize(Archive& ar, T& value) {
  value.fields([&ar](const char*, auto& member) { ar(member); });
}
}  // namespace cereal

namespace crmd::codec {

template <class T>
std::string encode_payload(const T& value) {
  // One stream per thread: constructing an ostringstream costs more than encoding.
  thread_local std::ostringstream os(std::ios::binary);
  os.str(std::string());
  os.clear();
  {
    cereal::PortableBinaryOutputArchive ar(os);
    ar(const_cast<T&>(value));
  }
  return std::move(os).str();
}

template <class T>
status decode_payload(std::string_view payload, T& out) {
  try {
    bounded_input_archive ar(payload.data(), payload.size());
    ar(out);
    if (ar.remaining() != 0)
      return status{errc::corruption, std::string(T::type_name) + " payload has trailing bytes"};
    return status::ok();
  } catch (const std::exception& e) {
    return status{errc::corruption,
                  std::string(T::type_name) + " payload does not decode: " + e.what()};
  }
}

#define CRMD_CODEC_INSTANTIATE(T)                                        \
  template std::string crmd::codec::encode_payload<T>(const T&);         \
  template crmd::status crmd::codec::decode_payload<T>(std::string_view, T&);

}  // namespace crmd::codec
