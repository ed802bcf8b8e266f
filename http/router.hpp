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
    routes_.push_back({std::move(method), pattern, split(pattern), std::move(h)});
  }

  struct match_result {
    const Handler* handler = nullptr;
    params_t params;
    std::vector<std::string> allowed;  // methods the path accepts, when handler is null
  };

  match_result match(std::string_view method, std::string_view path) const {
    match_result out;
    auto segs = split(path);
    for (auto& r : routes_) {
      params_t p;
      if (!matches(r.segments, segs, p)) continue;
      if (r.method == method && !out.handler) {
        out.handler = &r.handler;
        out.params = std::move(p);
      }
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
  static bool matches(const std::vector<std::string>& pat, const std::vector<std::string>& segs, params_t& p) {
    if (pat.size() != segs.size()) return false;
    for (size_t i = 0; i < pat.size(); ++i) {
      if (!pat[i].empty() && pat[i][0] == ':')
        p[pat[i].substr(1)] = segs[i];
      else if (pat[i] != segs[i])
        return false;
    }
    return true;
  }

  std::vector<route> routes_;
};

}  // namespace crmd::http
