// crmd rebuild <view>: fold the whole log into a view again, server stopped.
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
  auto a = parse(argv, {{"data-dir"}, {"help"}, 1});
  if (!a) return fail("rebuild", a.error().message() + " (see crmd rebuild --help)", exit_usage);
  std::string names;
  for (auto& n : views::names()) names += (names.empty() ? "" : ", ") + n;
  if (a->has("help")) {
    std::cout << "usage: crmd rebuild <view> [--data-dir D]\n\nRebuilds a view from position 1 while the "
                 "server is stopped, with a progress bar.\nWhile crmd serves, use POST "
                 "/api/admin/projections/<view>/rebuild instead.\nViews: " << names << "\n";
    return exit_ok;
  }
  if (a->positional.empty()) return fail("rebuild", "which view? one of: " + names, exit_usage);
  auto view = views::by_name(a->positional[0]);
  if (!view) return fail("rebuild", "unknown view '" + a->positional[0] + "' (views: " + names + ")", exit_usage);
  auto store = open_store(data_dir_from(*a), open_mode::existing);
  if (!store) return fail("rebuild", store.error().message(), exit_failure);
  bool tty = ::isatty(1);
  auto started = std::chrono::steady_clock::now();
  auto s = rebuild_view(*store->log, *store->kv, *view, [&](uint64_t done, uint64_t total) {
    if (!tty || total == 0) return;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    double rate = secs > 0 ? done / secs : 0;
    int filled = static_cast<int>(30.0 * done / total);
    std::cout << "\r" << view->name() << " [" << std::string(filled, '#') << std::string(30 - filled, '.') << "] "
              << done << "/" << total << "  " << static_cast<uint64_t>(rate) << " events/s  ETA "
              << (rate > 0 ? static_cast<uint64_t>((total - done) / rate) : 0) << " s   " << std::flush;
  });
  if (tty) std::cout << "\n";
  if (!s) return fail("rebuild", s.to_string(), exit_failure);
  std::cout << "rebuilt " << view->name() << " to position " << store->log->last_position() << "\n";
  return exit_ok;
}

}  // namespace crmd::cli
