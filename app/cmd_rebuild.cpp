// crmd rebuild <view>|all: fold the whole log into a view (or every view,
// in one pass) again, server stopped.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>

#include "app/commands.hpp"
#include "app/data_dir.hpp"
#include "projections/runner.hpp"
#include "projections/views.hpp"

namespace crmd::cli {

int run_rebuild(const argv_t& argv) {
  auto a = parse(argv, {{"data-dir"}, {"help", "progress"}, 1});
  if (!a) return fail("rebuild", a.error().message() + " (see crmd rebuild --help)", exit_usage);
  std::string names;
  for (auto& n : views::names()) names += (names.empty() ? "" : ", ") + n;
  if (a->has("help")) {
    std::cout << "usage: crmd rebuild <view>|all [--data-dir D] [--progress]\n\nRebuilds a view (all: every view, in "
                 "one pass over the log) from position 1 while the\nserver is stopped, with a progress bar on a "
                 "terminal (--progress: always).\nWhile "
                 "crmd serves, use POST /api/admin/projections/<view>/rebuild instead.\nViews: " << names << "\n";
    return exit_ok;
  }
  if (a->positional.empty()) return fail("rebuild", "which view? one of: " + names + ", or all", exit_usage);
  std::vector<std::unique_ptr<projection>> owned;
  std::string what = a->positional[0];
  if (what == "all") {
    owned = views::all();
  } else if (auto view = views::by_name(what)) {
    owned.push_back(std::move(view));
  } else {
    return fail("rebuild", "unknown view '" + what + "' (views: " + names + ", or all)", exit_usage);
  }
  std::vector<projection*> chosen;
  for (auto& v : owned) chosen.push_back(v.get());
  auto store = open_store(data_dir_from(*a), open_mode::existing);
  if (!store) return fail("rebuild", store.error().message(), exit_failure);
  bool tty = ::isatty(1) || a->has("progress");
  auto started = std::chrono::steady_clock::now();
  auto s = rebuild_views(*store->log, *store->kv, chosen, {}, [&](uint64_t done, uint64_t total) {
    if (!tty || total == 0) return;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    double rate = secs > 0 ? done / secs : 0;
    int filled = static_cast<int>(30.0 * done / total);
    std::cout << "\r" << what << " [" << std::string(filled, '#') << std::string(30 - filled, '.') << "] "
              << done << "/" << total << "  " << static_cast<uint64_t>(rate) << " events/s  ETA "
              << (rate > 0 ? static_cast<uint64_t>((total - done) / rate) : 0) << " s   " << std::flush;
  });
  if (tty) std::cout << "\n";
  if (!s) return fail("rebuild", s.to_string(), exit_failure);
  std::cout << "rebuilt " << what << " to position " << store->log->last_position() << "\n";
  return exit_ok;
}

}  // namespace crmd::cli
