// Reading crmd's JSON answers in end-to-end tests, and counting the events a
// store holds (through `crmd events`, beside a running server).
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd::test {

inline nlohmann::json body(const http_result& r) { return nlohmann::json::parse(r.body, nullptr, false); }

// Every /api error has one shape: {"ok":false,"error":code,"message":...}.
inline void expect_error(const http_result& r, long status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  auto j = body(r);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j["ok"], false) << r.body;
  EXPECT_EQ(j["error"], code) << r.body;
}

// Events of `type` (whose JSON line contains `needle`) in <dir>/data.
inline size_t count_events(const temp_dir& dir, const std::string& type, const std::string& needle = "") {
  auto ev = run({CRMD_BINARY, "events", "--data-dir", dir.sub("data")}, dir.path());
  size_t n = 0;
  std::istringstream lines(ev.out);
  for (std::string line; std::getline(lines, line);)
    n += line.find("\"type\":\"" + type + "\"") != std::string::npos && line.find(needle) != std::string::npos;
  return n;
}

}  // namespace crmd::test
