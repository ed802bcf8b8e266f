// Command-line parsing shared by every sub-command: `--name value`,
// `--name=value` and bare flags, checked against what the command accepts.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "events/status.hpp"

namespace crmd::cli {

// Exit codes: 0 success, 1 the command ran and failed (bad data, I/O), 2 usage.
constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

struct spec {
  std::set<std::string> valued;  // options that take a value, without "--"
  std::set<std::string> flags;   // options that take none
  size_t max_positional = 0;
};

struct args {
  std::map<std::string, std::string> values;
  std::set<std::string> flags;
  std::vector<std::string> positional;

  std::optional<std::string> get(const std::string& name) const;
  bool has(const std::string& name) const { return flags.count(name) > 0; }
  // A non-negative integer option; errc::invalid_argument names the option.
  result<std::optional<uint64_t>> get_u64(const std::string& name) const;
};

// errc::invalid_argument with a one-line message for anything unexpected.
result<args> parse(const std::vector<std::string>& argv, const spec& s);

}  // namespace crmd::cli
