// Internal to projections/: a contacts view entry without nlohmann::json.
//
// Every lead event rewrites its contact's JSON entry; parsing it into a
// tree of maps and dumping it again was most of what folding a lead event
// cost (bench/RESULTS.md, issue 8). The entry is a flat object of known
// fields, so it is read and written directly. The bytes are those
// util::dump() gives for the same object (sorted keys, no spaces), so the
// views stay byte-for-byte what they were; anything else (a string that is
// not valid UTF-8, an entry of another shape) is left to nlohmann, as
// before, by the callers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crmd::views {

struct contact_doc {
  std::string id, kind, name, phone, email, source, status, created_at, updated_at;
  std::optional<std::string> converted_at;
  bool deleted = false;  // written only when true
  uint64_t position = 0;
};

// false when a string is not valid UTF-8 (nlohmann replaces such bytes;
// the caller dumps with nlohmann then). `out` is overwritten.
bool dump_contact(const contact_doc& c, std::string& out);
// nullopt unless `json` is an object of exactly the fields dump_contact writes.
std::optional<contact_doc> parse_contact(std::string_view json);

}  // namespace crmd::views
