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
#include <optional>
#include <utility>
#include <string>
#include <string_view>

namespace crmd::views {

// Appends `s` as a JSON string (quoted, escaped). false, and nothing
// appended, when `s` is not valid UTF-8.
bool append_json_string(std::string& out, std::string_view s);

// Where the value of `key` is in a top-level JSON object such as json_out
// and util::dump() write (no whitespace): [begin, end) of its bytes, or
// nullopt when there is no such key or the text is not of that shape. A
// view that changes one field of an entry replaces those bytes instead of
// parsing and dumping the whole entry; since the entry was written in
// util::dump()'s form, the result is what parse, change and dump would give.
std::optional<std::pair<size_t, size_t>> find_field(std::string_view json, std::string_view key);

// The value of `key` when it is a string without escapes (a status, an id):
// its bytes without the quotes; nullopt otherwise.
std::optional<std::string_view> plain_string_field(std::string_view json, std::string_view key);

// `json` with the value of `key` (which find_field finds) replaced by the
// string `value`, which must be printable ASCII without quotes or
// backslashes (checked). nullopt when either fails.
std::optional<std::string> with_plain_string_field(std::string_view json, std::string_view key,
                                                   std::string_view value);

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
