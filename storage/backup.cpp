#include "storage/backup.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <fstream>
#include <system_error>

#include "events/clock.hpp"
#include "events/time_format.hpp"
#include "storage/erasure.hpp"
#include "storage/kv.hpp"

namespace crmd {
namespace {

namespace fs = std::filesystem;

status io(const std::string& what, const std::error_code& ec) {
  return status{errc::io_error, what + ": " + ec.message()};
}

// Copies the regular files under `from` into `to` (created), counting them.
status copy_tree(const fs::path& from, const fs::path& to, backup_report& r) {
  std::error_code ec;
  if (!fs::exists(from, ec)) return status::ok();
  fs::create_directories(to, ec);
  if (ec) return io("cannot create " + to.string(), ec);
  for (fs::recursive_directory_iterator it(from, ec), end; !ec && it != end; it.increment(ec)) {
    auto rel = fs::relative(it->path(), from, ec);
    if (ec) break;
    if (it->is_directory(ec)) {
      fs::create_directories(to / rel, ec);
    } else if (it->is_regular_file(ec)) {
      // A recording still being downloaded has a temporary name; only whole
      // files are recorded by events, so partial ones stay behind.
      if (it->path().filename().string().find(".part") != std::string::npos) continue;
      fs::copy_file(it->path(), to / rel, fs::copy_options::overwrite_existing, ec);
      if (ec) break;
      r.files++;
      r.bytes += fs::file_size(to / rel, ec);
    }
    if (ec) break;
  }
  if (ec) return io("cannot copy " + from.string(), ec);
  return status::ok();
}

status copy_file_if_present(const fs::path& from, const fs::path& to, backup_report& r) {
  std::error_code ec;
  if (!fs::exists(from, ec)) return status::ok();
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return io("cannot copy " + from.string(), ec);
  ::chmod(to.c_str(), 0600);
  r.files++;
  r.bytes += fs::file_size(to, ec);
  return status::ok();
}

}  // namespace

result<backup_report> make_backup(kv_store& kv, const std::string& data_dir, const std::string& target) {
  try {
    std::error_code ec;
    fs::path t = fs::absolute(target, ec);
    if (ec || t.empty()) return status{errc::invalid_argument, "not a usable backup path: " + target};
    if (fs::exists(t, ec)) return status{errc::conflict, t.string() + " already exists", "already_exists"};
    if (!fs::is_directory(t.parent_path(), ec))
      return status{errc::not_found, "no directory " + t.parent_path().string()};
    fs::create_directory(t, ec);
    if (ec) return io("cannot create " + t.string(), ec);
    ::chmod(t.c_str(), 0700);
    backup_report r;
    r.dir = t.string();
    if (auto s = kv.checkpoint((t / "db").string()); !s) return s;
    if (auto s = copy_tree(fs::path(data_dir) / "recordings", t / "recordings", r); !s) return s;
    if (auto s = copy_file_if_present(fs::path(data_dir) / "secrets_key", t / "secrets_key", r); !s) return s;
    if (auto s = copy_file_if_present(fs::path(data_dir) / "erased_subjects", t / "erased_subjects", r); !s) return s;
    std::ofstream m(t / "manifest.json");
    m << "{\"format\":1,\"created_at\":\"" << rfc3339(system_clock().now_us()) << "\",\"source\":\""
      << fs::absolute(data_dir, ec).string() << "\",\"files\":" << r.files << ",\"bytes\":" << r.bytes << "}\n";
    m.close();
    if (!m) return status{errc::io_error, "cannot write the manifest in " + t.string()};
    return r;
  } catch (const std::exception& e) {
    return status{errc::io_error, std::string("backup failed: ") + e.what()};
  }
}

result<backup_report> restore_backup(const std::string& backup_dir, const std::string& data_dir) {
  try {
    std::error_code ec;
    fs::path from = fs::absolute(backup_dir, ec), to = fs::absolute(data_dir, ec);
    if (!fs::exists(from / "manifest.json", ec) || !fs::is_directory(from / "db", ec))
      return status{errc::not_found, from.string() + " is not a crmd backup (no manifest.json and db/)"};
    if (fs::exists(to, ec) && !fs::is_empty(to, ec))
      return status{errc::conflict, to.string() + " is not empty; restore into a new directory", "already_exists"};
    fs::create_directories(to, ec);
    if (ec) return io("cannot create " + to.string(), ec);
    ::chmod(to.c_str(), 0700);
    backup_report r;
    r.dir = to.string();
    if (auto s = copy_tree(from / "db", to / "db", r); !s) return s;
    if (auto s = copy_tree(from / "recordings", to / "recordings", r); !s) return s;
    if (auto s = copy_file_if_present(from / "secrets_key", to / "secrets_key", r); !s) return s;
    if (auto s = copy_file_if_present(from / "erased_subjects", to / "erased_subjects", r); !s) return s;
    // Erasures made since the backup: the source directory's list, if it is
    // still there, so that `serve` on the restored store erases them again.
    std::ifstream manifest(from / "manifest.json");
    std::string text((std::istreambuf_iterator<char>(manifest)), {});
    auto at = text.find("\"source\":\"");
    if (at != std::string::npos) {
      auto start = at + 10, end = text.find('"', start);
      fs::path source = text.substr(start, end - start);
      auto newer = read_erased((source / "erased_subjects").string());
      auto have = read_erased((to / "erased_subjects").string());
      if (newer && have)
        for (auto& s : *newer)
          if (std::find(have->begin(), have->end(), s) == have->end())
            if (auto st = append_erased(to.string(), s); !st) return st;
    }
    return r;
  } catch (const std::exception& e) {
    return status{errc::io_error, std::string("restore failed: ") + e.what()};
  }
}

}  // namespace crmd
