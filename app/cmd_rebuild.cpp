// crmd rebuild <view>: fold the whole log into a view again, server stopped.
#include <unistd.h>

#include <iostream>

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
                 "server is stopped.\nViews: " << names << "\n";
    return exit_ok;
  }
  if (a->positional.empty()) return fail("rebuild", "which view? one of: " + names, exit_usage);
  auto view = views::by_name(a->positional[0]);
  if (!view) return fail("rebuild", "unknown view '" + a->positional[0] + "' (views: " + names + ")", exit_usage);
  auto store = open_store(data_dir_from(*a), open_mode::existing);
  if (!store) return fail("rebuild", store.error().message(), exit_failure);
  bool tty = ::isatty(1);
  auto s = rebuild_view(*store->log, *store->kv, *view, [&](uint64_t done, uint64_t total) {
    if (tty) std::cout << "\rrebuilding " << view->name() << ": " << done << "/" << total << " events" << std::flush;
  });
  if (tty) std::cout << "\n";
  if (!s) return fail("rebuild", s.to_string(), exit_failure);
  std::cout << "rebuilt " << view->name() << " to position " << store->log->last_position() << "\n";
  return exit_ok;
}

}  // namespace crmd::cli
