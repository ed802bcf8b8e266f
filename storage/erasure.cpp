#include "storage/erasure.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "events/clock.hpp"
#include "events/time_format.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"

namespace crmd {

status append_erased(const std::string& data_dir, const std::string& subject) {
  std::string path = data_dir + "/erased_subjects";
  std::string line = subject + "\t" + rfc3339(system_clock().now_us()) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return status{errc::io_error, "cannot open " + path};
  bool ok = ::write(fd, line.data(), line.size()) == ssize_t(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return status{errc::io_error, "cannot write " + path};
  return status::ok();
}

result<std::vector<std::string>> read_erased(const std::string& file) {
  std::vector<std::string> out;
  std::ifstream in(file);
  if (!in) return out;
  for (std::string line; std::getline(in, line);) {
    auto tab = line.find('\t');
    std::string subject = line.substr(0, tab);
    if (!subject.empty()) out.push_back(subject);
  }
  return out;
}

result<std::vector<std::string>> reerase_listed(event_log& log, kv_store& kv, const std::string& data_dir) {
  auto listed = read_erased(data_dir + "/erased_subjects");
  if (!listed) return listed.error();
  std::set<std::string> tenants;
  for (auto& subject : *listed) {
    std::string key;
    auto s = kv.get(cf::keys, subject, &key);
    if (s.code() == errc::not_found) continue;  // erased in this store already
    if (!s) return s;
    if (auto e = log.erase_subject(subject); !e) return e;
    std::string tenant = subject.substr(0, subject.find('/'));
    tenants.insert(tenant);
    // The tenant aggregate's snapshot: "<tenant>/tenant/<tenant>\0..." keys.
    std::string prefix = tenant + "/tenant/" + tenant + std::string(1, '\0');
    std::string upper = prefix;
    upper.back() = '\1';
    auto b = kv.new_batch();
    auto it = kv.scan(cf::snapshots, prefix, upper);
    for (; it->valid(); it->next()) b->del(cf::snapshots, it->key());
    if (auto st = it->error(); !st) return st;
    if (auto st = kv.write(*b, true); !st) return st;
  }
  if (!tenants.empty())
    if (auto s = kv.purge(); !s) return s;
  return std::vector<std::string>(tenants.begin(), tenants.end());
}

}  // namespace crmd
