// Internal to projections/: writing a view entry's JSON without building an
// nlohmann::json tree first.
//
// Building a tree of maps for every entry and dumping it was a large part of
// what folding an event cost (bench/RESULTS.md, issue 8). json_out writes
// the same bytes util::dump() gives for the same object: keys sorted (the
// caller writes them in ascending byte order, as nlohmann's std::map-backed
// objects are), no spaces, strings escaped as nlohmann escapes them with
// ensure_ascii off, and a string that is not valid UTF-8 has its bad bytes
// replaced exactly as util::dump() replaces them (nlohmann writes that one
// string). So a view can move to json_out without its stored bytes changing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace crmd::views {

// Appends `s` as a JSON string (quoted, escaped). false, and nothing
// appended, when `s` is not valid UTF-8.
bool append_json_string(std::string& out, std::string_view s);

class json_out {
 public:
  // Starts an object at the end of `out`; close() ends it.
  explicit json_out(std::string& out) : out_(out) { out_.push_back('{'); }

  json_out& str(std::string_view key, std::string_view value);
  // null when `value` is empty (the views' convention for "none").
  json_out& str_or_null(std::string_view key, std::string_view value) {
    return value.empty() ? null(key) : str(key, value);
  }
  json_out& num(std::string_view key, uint64_t value);
  json_out& num(std::string_view key, int64_t value);
  json_out& boolean(std::string_view key, bool value);
  json_out& null(std::string_view key);
  // A value already written as JSON (a nested object).
  json_out& raw(std::string_view key, std::string_view json);
  // Ends the object; the writer must not be used after.
  void close() { out_.push_back('}'); }

 private:
  void key(std::string_view k);

  std::string& out_;
  bool first_ = true;
#ifndef NDEBUG
  std::string last_;  // keys out of order would make bytes util::dump() never writes
#endif
};

}  // namespace crmd::views
