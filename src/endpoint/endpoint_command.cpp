#include "endpoint/endpoint_command.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/serialize.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "endpoint/endpoint_config.h"
#include "endpoint/endpoint_service.h"
#include "endpoint/job_json.h"
#include "endpoint/job_store.h"
#include "endpoint/worker_pool.h"
#include "net/http_client.h"
#include "serve/http/server.h"

namespace podserve {
namespace {

using endpoint::EndpointConfig;

constexpr auto kUpkeepPeriod = std::chrono::milliseconds(100);
constexpr int kWebhookAttempts = 3;
constexpr int64_t kWorkerStopGraceMs = 30000;  // SIGTERM'd workers finish their jobs within this, or are killed  // RunPod: the first try and up to 2 retries

/// Sleeps `period` or until stop is set.
class StopFlag {
 public:
  void set() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  bool wait_for(std::chrono::milliseconds period) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, period, [this] { return stop_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

/// Leases, timeouts, retention and worker scaling, every 100 ms.
void upkeep_loop(const EndpointConfig& config, endpoint::JobStore& store, endpoint::WorkerPool& pool,
                 StopFlag& stop) {
  do {
    const int64_t now = endpoint::wall_ms();
    Result<int> swept = store.sweep(now, config.result_retention_s * 1000, config.sync_result_retention_s * 1000);
    if (!swept.ok()) PODSERVE_LOG(kError) << "Job upkeep: " << swept.status().message();
    pool.tick(now);
  } while (!stop.wait_for(kUpkeepPeriod));
}

/// POSTs each finished job with a webhook its status object; retried twice, `webhook_retry_delay_s` apart.
void webhook_loop(const EndpointConfig& config, endpoint::JobStore& store, StopFlag& stop) {
  net::HttpClient client;
  do {
    for (const endpoint::PendingWebhook& hook : store.due_webhooks(endpoint::wall_ms())) {
      std::optional<endpoint::Job> job = store.get(hook.job_id);
      if (!job) continue;
      net::HttpRequest req;
      req.method = "POST";
      req.url = hook.url;
      req.headers = {{"Content-Type", "application/json"}};
      req.body = boost::json::serialize(endpoint::job_status_json(*job, endpoint::wall_ms()));
      req.timeout_s = 10;
      Result<net::HttpResponse> res = client.send(req);
      const bool delivered = res.ok() && res->status >= 200 && res->status < 300;
      const bool give_up = !delivered && hook.attempts + 1 >= kWebhookAttempts;
      if (!delivered) {
        PODSERVE_LOG(kWarning) << "Webhook for job " << hook.job_id << " to " << net::redact_url(hook.url) << ": "
                               << (res.ok() ? "HTTP " + std::to_string(res->status) : res.status().message())
                               << (give_up ? " (giving up)" : " (will retry)");
      }
      store.webhook_attempted(hook.job_id, delivered, give_up,
                              endpoint::wall_ms() + static_cast<int64_t>(config.webhook_retry_delay_s * 1000));
    }
  } while (!stop.wait_for(kUpkeepPeriod));
}

}  // namespace

int run_endpoint(int argc, char** argv) {
  std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  Result<EndpointConfig> parsed = endpoint::parse_endpoint_config(args, process_env());
  if (!parsed.ok()) {
    std::fprintf(stderr, "podserve endpoint: %s\n", parsed.status().message().c_str());
    return 2;
  }
  const EndpointConfig& config = parsed.value();
  if (config.show_help) {
    std::fputs(endpoint::endpoint_help_text().c_str(), stdout);
    return 0;
  }
  set_log_level(config.log_level);
  Result<std::unique_ptr<endpoint::JobStore>> store = endpoint::JobStore::open(config.db_path);
  if (!store.ok()) {
    PODSERVE_LOG(kError) << store.status().message();
    return 1;
  }
  endpoint::JobStore& jobs = *store.value();

  boost::asio::io_context ioc;
  endpoint::WorkerPool pool(config, jobs);
  endpoint::EndpointService service(config, jobs, pool);
  http::Router router;
  service.register_routes(router);
  http::ServerOptions options;
  options.host = config.host;
  options.port = config.port;
  options.idle_timeout = std::chrono::seconds(600);  // workers keep their connections between long polls
  http::HttpServer server(ioc, std::move(router), options, &endpoint::EndpointService::http_error);
  if (Status st = server.listen(); !st.ok()) {
    PODSERVE_LOG(kError) << st.message();
    return 1;
  }
  // Workers reach the endpoint on loopback when it listens on every address; the port is the bound one.
  const std::string worker_host = config.host == "0.0.0.0" || config.host == "::" ? "127.0.0.1" : config.host;
  pool.set_base_url("http://" + worker_host + ":" + std::to_string(server.port()) + "/v2/" + config.endpoint_id);
  server.start();

  const endpoint::JobCounts counts = jobs.counts();
  PODSERVE_LOG(kInfo) << "Endpoint " << config.endpoint_id << " on http://" << config.host << ":" << server.port()
                      << "/v2/" << config.endpoint_id << " (jobs in " << endpoint::redacted_db(config.db_path) << ": " << counts.in_queue
                      << " queued, " << counts.in_progress << " in progress; workers " << config.workers_min << ".."
                      << config.workers_max << ")";

  StopFlag stop;
  std::thread upkeep([&] { upkeep_loop(config, jobs, pool, stop); });
  std::thread webhooks([&] { webhook_loop(config, jobs, stop); });

  // On SIGINT/SIGTERM the workers are stopped first, while the server still answers them: they finish what they
  // hold and post it. Queued jobs stay in the database for the next start.
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  std::thread stopper;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    PODSERVE_LOG(kInfo) << "Received signal " << sig << ": stopping the workers (queued jobs stay in "
                        << endpoint::redacted_db(config.db_path) << ")";
    stopper = std::thread([&] {
      pool.stop_all(kWorkerStopGraceMs);
      server.stop_accepting();
      ioc.stop();
    });
  });
  std::vector<std::thread> io;
  for (int i = 1; i < config.io_threads; ++i) io.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (std::thread& t : io) t.join();
  if (stopper.joinable()) stopper.join();
  stop.set();
  upkeep.join();
  webhooks.join();
  pool.stop_all(kWorkerStopGraceMs);
  PODSERVE_LOG(kInfo) << "Stopped";
  return 0;
}

}  // namespace podserve
