#include "app/cli_args.hpp"

#include "events/text.hpp"

namespace crmd::cli {

std::optional<std::string> args::get(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

result<std::optional<uint64_t>> args::get_u64(const std::string& name) const {
  auto v = get(name);
  if (!v) return std::optional<uint64_t>{};
  uint64_t n = 0;
  if (!parse_u64(*v, n))
    return status{errc::invalid_argument, "--" + name + " needs a non-negative integer, got '" + *v + "'"};
  return std::optional<uint64_t>{n};
}

result<args> parse(const std::vector<std::string>& argv, const spec& s) {
  args out;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
      std::string name = a.substr(2), value;
      bool inline_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        inline_value = true;
      }
      if (s.flags.count(name)) {
        if (inline_value) return status{errc::invalid_argument, "--" + name + " takes no value"};
        out.flags.insert(name);
      } else if (s.valued.count(name)) {
        if (!inline_value) {
          if (i + 1 >= argv.size()) return status{errc::invalid_argument, "--" + name + " needs a value"};
          value = argv[++i];
        }
        out.values[name] = value;
      } else {
        return status{errc::invalid_argument, "unknown option --" + name};
      }
    } else if (a == "-h") {
      out.flags.insert("help");
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      return status{errc::invalid_argument, "unknown option " + a};
    } else {
      if (out.positional.size() >= s.max_positional)
        return status{errc::invalid_argument, "unexpected argument '" + a + "'"};
      out.positional.push_back(a);
    }
  }
  return out;
}

}  // namespace crmd::cli
