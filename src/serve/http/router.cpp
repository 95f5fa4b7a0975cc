#include "serve/http/router.h"

namespace podserve::http {

void Router::add(std::string method, std::string path, Handler handler) {
  routes_.push_back({std::move(method), std::move(path), std::move(handler)});
}

void Router::add_prefix(std::string method, std::string prefix, Handler handler) {
  prefix_routes_.push_back({std::move(method), std::move(prefix), std::move(handler)});
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  Match m;
  // A trailing slash is the same route (FastAPI redirects; answering directly is friendlier to clients).
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  for (const Route& r : routes_) {
    if (r.path != path) continue;
    if (r.method == method) {
      m.handler = &r.handler;
      m.status = 200;
      m.allowed.clear();
      return m;
    }
    m.status = 405;
    if (!m.allowed.empty()) m.allowed += ", ";
    m.allowed += r.method;
  }
  if (m.status == 405) return m;
  size_t best = 0;
  for (const Route& r : prefix_routes_) {
    if (path.size() < r.path.size() || path.substr(0, r.path.size()) != r.path || r.path.size() < best) continue;
    if (r.path.size() > best) {  // a longer prefix replaces what shorter ones found
      best = r.path.size();
      m = Match{};
    }
    if (r.method == method) {
      m.handler = &r.handler;
      m.status = 200;
      m.allowed.clear();
    } else if (m.status != 200) {
      m.status = 405;
      if (!m.allowed.empty()) m.allowed += ", ";
      m.allowed += r.method;
    }
  }
  return m;
}

}  // namespace podserve::http
