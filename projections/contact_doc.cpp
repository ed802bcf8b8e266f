#include "projections/contact_doc.hpp"

#include "projections/json_out.hpp"

namespace crmd::views {
namespace {

bool field(std::string& out, const char* name, std::string_view value) {
  out.push_back('"');
  out += name;
  out += "\":";
  if (!append_json_string(out, value)) return false;
  out.push_back(',');
  return true;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// What append_json_string writes, back; nullopt for any other escape.
bool get_string(std::string_view s, size_t& i, std::string& out) {
  if (i >= s.size() || s[i] != '"') return false;
  ++i;
  out.clear();
  for (;;) {
    size_t start = i;
    while (i < s.size() && s[i] != '"' && s[i] != '\\') ++i;
    out.append(s.substr(start, i - start));
    if (i >= s.size()) return false;
    if (s[i] == '"') {
      ++i;
      return true;
    }
    if (++i >= s.size()) return false;
    switch (s[i++]) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        if (i + 4 > s.size()) return false;
        int v = 0;
        for (int k = 0; k < 4; ++k) {
          int h = hex(s[i + k]);
          if (h < 0) return false;
          v = v * 16 + h;
        }
        if (v >= 0x20) return false;  // nlohmann escapes control characters only
        out.push_back(static_cast<char>(v));
        i += 4;
        break;
      }
      default: return false;
    }
  }
}

}  // namespace

bool dump_contact(const contact_doc& c, std::string& out) {
  out.clear();
  out.push_back('{');
  // Sorted keys, as nlohmann's std::map-backed objects dump them.
  if (c.converted_at && !field(out, "converted_at", *c.converted_at)) return false;
  if (!field(out, "created_at", c.created_at)) return false;
  if (c.deleted) out += "\"deleted\":true,";
  if (!field(out, "email", c.email) || !field(out, "id", c.id) || !field(out, "kind", c.kind) ||
      !field(out, "name", c.name) || !field(out, "phone", c.phone))
    return false;
  out += "\"position\":";
  out += std::to_string(c.position);
  out.push_back(',');
  if (!field(out, "source", c.source) || !field(out, "status", c.status) || !field(out, "updated_at", c.updated_at))
    return false;
  out.back() = '}';
  return true;
}

std::optional<contact_doc> parse_contact(std::string_view s) {
  contact_doc c;
  size_t i = 0;
  if (s.empty() || s[i++] != '{') return std::nullopt;
  std::string key;
  unsigned seen = 0;
  for (;;) {
    if (!get_string(s, i, key) || i >= s.size() || s[i++] != ':') return std::nullopt;
    if (key == "position") {
      if (i >= s.size() || s[i] < '0' || s[i] > '9') return std::nullopt;
      uint64_t v = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (v > (UINT64_MAX - 9) / 10) return std::nullopt;
        v = v * 10 + uint64_t(s[i++] - '0');
      }
      c.position = v;
      seen |= 1u << 0;
    } else if (key == "deleted") {
      if (s.substr(i, 4) != "true") return std::nullopt;
      i += 4;
      c.deleted = true;
    } else {
      std::string* dst = nullptr;
      unsigned bit = 0;
      if (key == "id") dst = &c.id, bit = 1;
      else if (key == "kind") dst = &c.kind, bit = 2;
      else if (key == "name") dst = &c.name, bit = 3;
      else if (key == "phone") dst = &c.phone, bit = 4;
      else if (key == "email") dst = &c.email, bit = 5;
      else if (key == "source") dst = &c.source, bit = 6;
      else if (key == "status") dst = &c.status, bit = 7;
      else if (key == "created_at") dst = &c.created_at, bit = 8;
      else if (key == "updated_at") dst = &c.updated_at, bit = 9;
      else if (key == "converted_at") dst = &c.converted_at.emplace(), bit = 10;
      else return std::nullopt;
      if (!get_string(s, i, *dst)) return std::nullopt;
      seen |= 1u << bit;
    }
    if (i >= s.size()) return std::nullopt;
    char sep = s[i++];
    if (sep == '}') break;
    if (sep != ',') return std::nullopt;
  }
  // Every field dump_contact always writes, and nothing after the object.
  if ((seen & 0x3FF) != 0x3FF || i != s.size()) return std::nullopt;
  return c;
}

}  // namespace crmd::views
