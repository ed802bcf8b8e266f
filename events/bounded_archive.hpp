// A cereal input archive that reads cereal's portable binary format
// (little-endian) straight from memory and refuses any size tag larger than
// the bytes that remain. Only codec.cpp and tests include this: it pulls in
// cereal.
#pragma once

#include <cereal/cereal.hpp>
#include <cstring>
#include <string>

namespace crmd::codec {

class bounded_input_archive
    : public cereal::InputArchive<bounded_input_archive, cereal::AllowEmptyClassElision> {
 public:
  bounded_input_archive(const char* data, size_t size)
      : InputArchive(this), p_(data), end_(data + size) {
    uint8_t little = 0;
    load_binary(&little, 1);
    // The portable archive's first byte says whether the writer was little endian.
    if (little != 1) throw cereal::Exception("payload is not little-endian portable binary");
  }

  void load_binary(void* out, size_t n) {
    if (size_t(end_ - p_) < n) throw cereal::Exception("payload truncated");
    std::memcpy(out, p_, n);
    p_ += n;
  }
  size_t remaining() const { return size_t(end_ - p_); }
  const char* take(size_t n) {
    if (remaining() < n) throw cereal::Exception("payload truncated");
    const char* at = p_;
    p_ += n;
    return at;
  }

 private:
  const char* p_;
  const char* end_;
};

template <class T>
std::enable_if_t<std::is_arithmetic<T>::value> CEREAL_LOAD_FUNCTION_NAME(
    bounded_input_archive& ar, T& t) {
  ar.load_binary(std::addressof(t), sizeof(t));
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(bounded_input_archive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(bounded_input_archive& ar, cereal::SizeTag<T>& t) {
  ar(t.size);
  // Every element of every container crmd stores takes at least one byte.
  if (static_cast<uint64_t>(t.size) > ar.remaining())
    throw cereal::Exception("size tag larger than the remaining payload");
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(bounded_input_archive& ar, cereal::BinaryData<T>& bd) {
  ar.load_binary(bd.data, static_cast<size_t>(bd.size));
}

// Strings are assigned straight from the payload: no zero-fill, and a string
// that already has the capacity (decode_into) allocates nothing.
inline void CEREAL_LOAD_FUNCTION_NAME(bounded_input_archive& ar, std::string& s) {
  uint64_t n = 0;
  ar.load_binary(&n, sizeof n);
  if (n > ar.remaining()) throw cereal::Exception("string length larger than the remaining payload");
  s.assign(ar.take(size_t(n)), size_t(n));
}

}  // namespace crmd::codec

CEREAL_REGISTER_ARCHIVE(crmd::codec::bounded_input_archive)
