// `podserve endpoint`'s RunPod API with a stranger's bodies, through its route table (EndpointService) over a real
// job store (SQLite, in memory). The first input byte picks what the rest is:
//   0: a POST /v2/local/run body (input, webhook, policy.executionTimeout / ttl / lowPriority);
//   1, 2: a worker's POST job-done / job-stream body for a job it holds ({"output"}, {"error"}, status);
//   3: any client or worker request: the first line "METHOD /v2/local/<op>/...?query", the body after it.
// Every answer must be JSON and never a 5xx; an accepted job must be readable back with its input. Left out:
// /runsync and the OpenAI passthrough without streaming, which wait (seconds, or until a worker answers) for the
// job to end; they share /run's body checks and the worker target covers what a worker does with the input.
#include <boost/json/parse.hpp>

#include "endpoint/endpoint_service.h"
#include "endpoint/job_json.h"
#include "support/fuzz_common.h"
#include "worker/route_call.h"

namespace {

using podserve::fuzz::fail;
namespace endpoint = podserve::endpoint;

struct Endpoint {
  endpoint::EndpointConfig config;
  std::unique_ptr<endpoint::JobStore> store;
  std::unique_ptr<endpoint::WorkerPool> pool;
  std::unique_ptr<endpoint::EndpointService> service;
  std::unique_ptr<podserve::worker::InProcessRoutes> routes;
};

Endpoint& ep() {
  static Endpoint e = [] {
    Endpoint x;
    x.config.job_take_wait_ms = 0;  // long polls answer at once
    auto store = endpoint::JobStore::open(":memory:");
    if (!store.ok()) fail("set-up: job store", store.status().to_string());
    x.store = std::move(store).value();
    x.pool = std::make_unique<endpoint::WorkerPool>(x.config, *x.store);
    x.service = std::make_unique<endpoint::EndpointService>(x.config, *x.store, *x.pool);
    podserve::http::Router router;
    x.service->register_routes(router);
    x.routes = std::make_unique<podserve::worker::InProcessRoutes>(std::move(router), 1);
    return x;
  }();
  return e;
}

/// Runs one request; fails on a 5xx or a body that is not JSON. Returns the status and body.
std::pair<int, std::string> call(const std::string& method, const std::string& target, std::string body) {
  const size_t q = target.find('?');
  podserve::worker::RouteCall c = ep().routes->start(method, target.substr(0, q), std::move(body));
  std::vector<podserve::worker::RouteEvent> events;
  while (c.next(&events)) {
  }
  if (events.size() != 1 || events[0].kind != podserve::worker::RouteEvent::kResponse) {
    fail("an endpoint route did not answer with one response");
  }
  const auto& e = events[0];
  if (e.status >= 500) fail("an endpoint route answered " + std::to_string(e.status), e.body);
  boost::system::error_code ec;
  if (!e.body.empty()) (void)boost::json::parse(e.body, ec);
  if (ec) fail("an endpoint answer is not JSON", e.body);
  return {e.status, e.body};
}

/// A queued job taken by worker "w": its id.
std::string held_job() {
  const int64_t now = endpoint::wall_ms();
  endpoint::NewJob job{"job-" + endpoint::random_uuid(), R"({"prompt":"hi"})", "", 600000, 86400000, false};
  if (!ep().store->submit(job, now).ok()) fail("set-up: submit");
  auto taken = ep().store->take("w", 1, now, 60000);
  if (!taken.ok() || taken->size() != 1) fail("set-up: take");
  return (*taken)[0].id;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  podserve::fuzz::quiet_logs();
  (void)ep();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto [status, body] = call("POST", "/v2/local/run", rest);
      if (status == 200) {  // accepted: the job is queued with the input it was given
        const boost::json::value v = boost::json::parse(body);
        const std::string id(v.at("id").as_string());
        const std::optional<endpoint::Job> job = ep().store->get(id);
        if (!job) fail("an accepted /run job is not in the store", id);
        boost::json::value sent = boost::json::parse(rest);
        if (boost::json::parse(job->input_json) != sent.at("input")) fail("a stored job's input differs", id);
      }
      break;
    }
    case 1:
    case 2: {
      const std::string id = held_job();
      const char* op = data[0] % 4 == 1 ? "job-done" : "job-stream";
      call("POST", std::string("/v2/local/") + op + "/w/" + id, rest);
      call("GET", "/v2/local/status/" + id, "");
      call("POST", "/v2/local/stream/" + id, "");
      break;
    }
    default: {
      const size_t eol = rest.find('\n');
      const std::string line = rest.substr(0, eol);
      const std::string body = eol == std::string::npos ? "" : rest.substr(eol + 1);
      const size_t sp = line.find(' ');
      if (sp == std::string::npos) break;
      const std::string method = line.substr(0, sp), target = line.substr(sp + 1);
      if (target.find("runsync") != std::string::npos || target.find("/openai/") != std::string::npos) break;
      call(method, target, body);
    }
  }
  // Keep the store small: nothing held or queued, and finished jobs dropped.
  (void)ep().store->release_worker("w");
  (void)ep().store->purge_queue();
  (void)ep().store->sweep(endpoint::wall_ms() + 1, 0, 0);
  return 0;
}
