// The one route table: (method, path) -> handler. Unknown paths are 404, known paths with another method 405.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "serve/http/http_types.h"

namespace podserve::http {

/// Handles one request on the connection's coroutine; answers through the writer.
using Handler = std::function<awaitable<void>(const HttpRequest&, ResponseWriter&)>;

class Router {
 public:
  /// Registers a handler for an exact path. Aliases are separate add() calls next to the canonical route.
  void add(std::string method, std::string path, Handler handler);
  /// Registers a handler for every path under `prefix` (which should end in '/'), for APIs with ids in the
  /// path; the handler reads them from req.path. Exact routes win; the longest matching prefix is taken.
  void add_prefix(std::string method, std::string prefix, Handler handler);

  struct Match {
    const Handler* handler = nullptr;  // set when status == 200
    int status = 404;                  // 200, 404 (no such path) or 405 (path exists, other method)
    std::string allowed;               // for 405: "GET, POST"
  };
  Match match(std::string_view method, std::string_view path) const;

 private:
  struct Route {
    std::string method;
    std::string path;
    Handler handler;
  };
  std::vector<Route> routes_;
  std::vector<Route> prefix_routes_;
};

}  // namespace podserve::http
