// A small router on path segments: "/api/business/:tenant/prompts/:id".
// One lookup tells the handler, its parameters, or which methods the path
// does allow (for 405 + Allow). Literal routes added first win over
// parameter routes that would also match ("prompts/last" vs "prompts/:id").
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace crmd::http {

using params_t = std::map<std::string, std::string>;

template <class Handler>
class router {
 public:
  struct route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };

  void add(std::string method, std::string pattern, Handler h) {
    auto segments = split(pattern);
    // Empty segments never occur (split skips them); ':' marks a parameter.
    routes_.push_back({std::move(method), pattern, std::move(segments), std::move(h)});
  }

  struct match_result {
    const Handler* handler = nullptr;
    params_t params;
    std::vector<std::string> allowed;  // methods the path accepts, when handler is null
  };

  // Allocates only for the parameters of the route that matches: this runs
  // on every request.
  match_result match(std::string_view method, std::string_view path) const {
    match_result out;
    std::string_view segs[max_segments];
    size_t n = split_views(path, segs);
    if (n > max_segments) return out;  // longer than any route: 404
    for (auto& r : routes_) {
      if (r.method != method || !matches(r.segments, segs, n)) continue;
      out.handler = &r.handler;
      for (size_t i = 0; i < n; ++i)
        if (r.segments[i][0] == ':') out.params.emplace(r.segments[i].substr(1), std::string(segs[i]));
      return out;
    }
    // No route for this method: which methods would the path take (405)?
    for (auto& r : routes_) {
      if (!matches(r.segments, segs, n)) continue;
      bool seen = false;
      for (auto& m : out.allowed) seen = seen || m == r.method;
      if (!seen) out.allowed.push_back(r.method);
    }
    return out;
  }

  const std::vector<route>& routes() const { return routes_; }

  static std::vector<std::string> split(std::string_view path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
      if (path[i] == '/') {
        ++i;
        continue;
      }
      size_t j = path.find('/', i);
      if (j == std::string_view::npos) j = path.size();
      out.emplace_back(path.substr(i, j - i));
      i = j;
    }
    return out;
  }

 private:
  static constexpr size_t max_segments = 16;

  // Splits into at most max_segments views; returns the true count.
  static size_t split_views(std::string_view path, std::string_view* out) {
    size_t n = 0, i = 0;
    while (i < path.size()) {
      if (path[i] == '/') {
        ++i;
        continue;
      }
      size_t j = path.find('/', i);
      if (j == std::string_view::npos) j = path.size();
      if (n < max_segments) out[n] = path.substr(i, j - i);
      ++n;
      i = j;
    }
    return n;
  }

  static bool matches(const std::vector<std::string>& pat, const std::string_view* segs, size_t n) {
    if (pat.size() != n) return false;
    for (size_t i = 0; i < n; ++i)
      if (pat[i][0] != ':' && pat[i] != segs[i]) return false;
    return true;
  }

  std::vector<route> routes_;
};

}  // namespace crmd::http
