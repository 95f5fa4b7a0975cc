#include "serve/serve_command.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <csignal>
#include <sys/resource.h>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "engine/engine.h"
#include "serve/config.h"
#include "serve/http/server.h"
#include "serve/openai/service.h"
#include "serve/playground/playground.h"
#include "serve/serving_stack.h"

namespace podserve {
namespace {

namespace net = boost::asio;

constexpr auto kAbortFlushTimeout = std::chrono::seconds(2);

/// Each streaming client holds one socket: raise the soft open-files limit to the hard one when it is lower
/// than what `wanted` connections need (the default soft limit is often 1024).
void raise_fd_limit(rlim_t wanted) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < wanted && lim.rlim_cur < lim.rlim_max) {
    const rlim_t old = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) == 0) {
      PODSERVE_LOG(kInfo) << "Raised the open-files limit from " << old << " to "
                          << (lim.rlim_max == RLIM_INFINITY ? std::string("unlimited") : std::to_string(lim.rlim_max));
    } else {
      PODSERVE_LOG(kWarning) << "Cannot raise the open-files limit from " << old;
    }
  }
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < wanted) {
    PODSERVE_LOG(kWarning) << "The open-files limit is " << lim.rlim_cur << ": fewer than " << wanted
                           << " concurrent connections are possible (raise it with ulimit -n)";
  }
}

int pick_io_threads(int configured) {
  if (configured > 0) return configured;
  // The engine owns the cores; HTTP work is parsing, templating and small writes.
  int hw = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(hw / 4, 2, 4);
}

/// Graceful stop: no new connections, in-flight requests finish (bounded), then the engine aborts the rest.
net::awaitable<void> shut_down(net::io_context& ioc, http::HttpServer& server, Engine& engine,
                               std::chrono::seconds drain_timeout) {
  server.stop_accepting();
  PODSERVE_LOG(kInfo) << "Shutting down: waiting for " << server.active_requests() << " in-flight request(s)";
  net::steady_timer timer(ioc);
  auto wait_idle = [&](std::chrono::steady_clock::duration limit) -> net::awaitable<void> {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (server.active_requests() > 0 && std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(50));
      co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    }
  };
  co_await wait_idle(drain_timeout);
  if (server.active_requests() > 0) {
    PODSERVE_LOG(kWarning) << "Shutdown timeout (" << drain_timeout.count() << " s): aborting "
                           << server.active_requests() << " request(s)";
  }
  engine.shutdown();  // the rest end with kAbort: streams get an error event and [DONE], others a 503
  co_await wait_idle(kAbortFlushTimeout);
  ioc.stop();
}

}  // namespace

int run_serve(int argc, char** argv) {
  std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  const std::vector<std::string> env_names = process_env_names();
  Result<ServerConfig> parsed = parse_server_config(args, process_env(), env_names);
  if (!parsed.ok()) {
    std::fprintf(stderr, "podserve serve: %s\n", parsed.status().message().c_str());
    return 2;
  }
  const ServerConfig& config = parsed.value();
  if (config.show_help) {
    std::fputs(server_help_text().c_str(), stdout);
    return 0;
  }
  set_log_level(config.log_level);
  for (const std::string& w : config.warnings) PODSERVE_LOG(kWarning) << w;
  Result<ServingStack> stack = build_serving_stack(config);
  if (!stack.ok()) {
    PODSERVE_LOG(kError) << stack.status().message();
    return 1;
  }
  Engine& eng = *stack.value().engine;
  openai::OpenAiService& service = *stack.value().service;

  // Declared after the stack, so destroyed before it; the engine is shut down before either goes away.
  net::io_context ioc;
  http::Router router;
  service.register_routes(router);
  if (!config.disable_playground) playground::register_routes(router);
  http::ServerOptions options;
  options.host = config.host;
  options.port = config.port;
  options.max_body_bytes = config.max_body_bytes;
  options.max_header_bytes = config.max_header_bytes;
  options.idle_timeout = std::chrono::seconds(config.keepalive_timeout_s);
  options.request_timeout = std::chrono::seconds(config.request_timeout_s);
  options.request_id_headers = config.enable_request_id_headers;
  raise_fd_limit(4096);
  http::HttpServer server(ioc, std::move(router), options, &openai::OpenAiService::http_error,
                          [&service](const http::HttpRequest& req) { return service.filter_request(req); });
  if (Status st = server.listen(); !st.ok()) {
    PODSERVE_LOG(kError) << st.message();
    eng.shutdown();
    return 1;
  }
  server.start();

  net::signal_set signals(ioc, SIGINT, SIGTERM);
  std::atomic<bool> stopping{false};
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                            int sig) {
    if (ec) return;
    if (stopping.exchange(true)) {  // a second signal: stop now
      PODSERVE_LOG(kWarning) << "Second signal: stopping immediately";
      ioc.stop();
      return;
    }
    PODSERVE_LOG(kInfo) << "Received signal " << sig;
    net::co_spawn(ioc, shut_down(ioc, server, eng, std::chrono::seconds(config.shutdown_timeout_s)),
                 net::detached);
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);

  const int threads = pick_io_threads(config.io_threads);
  PODSERVE_LOG(kInfo) << "Serving " << config.served_model_name << " on http://" << config.host << ":"
                      << server.port() << " (max_model_len " << eng.max_model_len() << ", " << threads
                      << " HTTP threads" << (config.api_keys.empty() ? "" : ", API key required") << ")";
  if (!config.disable_playground) {
    PODSERVE_LOG(kInfo) << "Chat playground: http://" << (config.host == "0.0.0.0" ? "localhost" : config.host) << ":"
                        << server.port() << "/";
  }
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (std::thread& t : pool) t.join();
  service.join_background_work();  // while ioc, which adapter loads report to, still exists
  eng.shutdown();
  PODSERVE_LOG(kInfo) << "Stopped";
  return 0;
}

}  // namespace podserve
