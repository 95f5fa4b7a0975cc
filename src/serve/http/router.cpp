#include "serve/http/router.h"

namespace podserve::http {

void Router::add(std::string method, std::string path, Handler handler) {
  routes_.push_back({std::move(method), std::move(path), std::move(handler)});
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
  return m;
}

}  // namespace podserve::http
