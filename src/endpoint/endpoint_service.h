// The HTTP face of `podserve endpoint`: RunPod's client API and its worker protocol under /v2/<endpoint id>/,
// plus /health and /metrics at the top. One prefix route dispatches on the path's segments.
//
// Client side (Authorization: Bearer <key>): run, runsync, status/<id>, stream/<id>, cancel/<id>, retry/<id>,
// purge-queue, health, openai/v1/{chat/completions,completions,models}.
// Worker side (Authorization: <worker key>): job-take/<worker>, job-take-batch/<worker>, job-stop/<worker>,
// job-done/<worker>/<job>, job-stream/<worker>/<job>, ping/<worker>.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "endpoint/endpoint_config.h"
#include "endpoint/job_store.h"
#include "endpoint/worker_pool.h"
#include "serve/http/router.h"

namespace podserve::endpoint {

class EndpointService {
 public:
  EndpointService(const EndpointConfig& config, JobStore& store, WorkerPool& pool)
      : config_(config), store_(store), pool_(pool) {}

  void register_routes(http::Router& router);
  /// `{"error": message}` responses for what the HTTP layer answers itself (404, 413, ...).
  static http::HttpResponse http_error(int status, const std::string& message);
  std::string metrics_text();

 private:
  using Segments = std::vector<std::string_view>;
  http::awaitable<void> dispatch(const http::HttpRequest& req, http::ResponseWriter& w);
  bool client_authorized(const http::HttpRequest& req) const;
  bool worker_authorized(const http::HttpRequest& req) const;

  // client_api.cpp
  http::awaitable<void> run(const http::HttpRequest& req, http::ResponseWriter& w, bool sync);
  http::awaitable<void> status(std::string id, http::ResponseWriter& w);
  http::awaitable<void> stream(std::string id, http::ResponseWriter& w);
  http::awaitable<void> cancel(std::string id, http::ResponseWriter& w);
  http::awaitable<void> retry(std::string id, http::ResponseWriter& w);
  http::awaitable<void> purge_queue(http::ResponseWriter& w);
  http::awaitable<void> health(http::ResponseWriter& w);
  // openai_passthrough.cpp
  http::awaitable<void> openai(const http::HttpRequest& req, std::string route, http::ResponseWriter& w);
  // worker_api.cpp
  http::awaitable<void> job_take(const http::HttpRequest& req, std::string worker, bool batch,
                                 http::ResponseWriter& w);
  http::awaitable<void> job_stop(std::string worker, http::ResponseWriter& w);
  http::awaitable<void> job_result(const http::HttpRequest& req, std::string worker, std::string job,
                                   bool stream_item, http::ResponseWriter& w);
  http::awaitable<void> ping(const http::HttpRequest& req, std::string worker, http::ResponseWriter& w);

  const EndpointConfig& config_;
  JobStore& store_;
  WorkerPool& pool_;
};

/// Sends a JSON body.
http::awaitable<void> send_json(http::ResponseWriter& w, int status, std::string body);
/// Sends {"error": message}.
http::awaitable<void> send_error(http::ResponseWriter& w, int status, std::string message);
/// Sleeps on the connection's executor (the polling loops of long polls and waits).
http::awaitable<void> sleep_ms(http::ResponseWriter& w, int64_t ms);
/// Waits until store.change_count() moves past `seen` (checked in-process every few ms; on PostgreSQL it moves
/// with any replica's writes) or `max_ms` passed: waiters query the database only when something may have changed.
http::awaitable<void> wait_for_change(http::ResponseWriter& w, const JobStore& store, uint64_t seen, int64_t max_ms);
/// The longest a waiter goes without querying the database (the backstop of the change count).
constexpr int64_t kChangeBackstopMs = 1000;

}  // namespace podserve::endpoint
