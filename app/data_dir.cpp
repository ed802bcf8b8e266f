#include "app/data_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "storage/rocks_kv.hpp"

namespace crmd::cli {

std::string data_dir_from(const args& a) {
  if (auto d = a.get("data-dir")) return *d;
  if (const char* env = std::getenv("CRMD_DATA_DIR"); env && *env) return env;
  return "./data";
}

result<std::unique_ptr<event_log>> open_log(const std::string& dir, open_mode mode,
                                            log_options options) {
  auto s = open_store(dir, mode, options);
  if (!s) return s.error();
  return std::move(s->log);
}

result<opened_store> open_store(const std::string& dir, open_mode mode, log_options options) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (mode != open_mode::create)
      return status{errc::not_found, "data directory " + dir + " does not exist"};
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return status{errc::io_error, "cannot create data directory " + dir + ": " + ec.message()};
  } else if (!S_ISDIR(st.st_mode)) {
    return status{errc::invalid_argument, "data directory " + dir + " is not a directory"};
  }
  int need = mode == open_mode::read_only ? (R_OK | X_OK) : (R_OK | W_OK | X_OK);
  if (::access(dir.c_str(), need) != 0)
    return status{errc::io_error, "data directory " + dir + " is not accessible: " + std::strerror(errno)};

  rocks_options ro;
  ro.path = dir + "/db";
  ro.create_if_missing = mode == open_mode::create;
  ro.read_only = mode == open_mode::read_only;
  if (mode != open_mode::create && ::stat(ro.path.c_str(), &st) != 0)
    return status{errc::not_found, "no crmd store in " + dir + " (expected " + ro.path + ")"};
  auto kv = open_rocks_kv(ro);
  if (!kv) return kv.error();
  std::shared_ptr<kv_store> shared(std::move(*kv));
  auto log = open_event_log(shared, options);
  if (!log) return log.error();
  return opened_store{shared, std::move(*log)};
}

}  // namespace crmd::cli
