#include "worker/worker_command.h"

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "net/http_client.h"
#include "serve/config.h"
#include "serve/serving_stack.h"
#include "worker/job_runner.h"
#include "worker/job_server.h"
#include "worker/route_call.h"
#include "worker/worker_config.h"

namespace podserve {
namespace {

namespace json = boost::json;
using worker::Job;
using worker::JobControl;
using worker::JobServer;
using worker::WorkerConfig;
using Clock = std::chrono::steady_clock;

constexpr auto kTooManyRequestsBackoff = std::chrono::seconds(5);  // the SDK's wait after a 429
constexpr auto kErrorBackoff = std::chrono::seconds(1);
constexpr auto kMinPollGap = std::chrono::milliseconds(250);  // when the server answers "no job" at once
// A take in flight when SIGTERM arrives may already carry a job the server counts as handed out: aborting it
// would lose that job, so the take gets this long to answer before it is dropped (runpod-python lets it finish).
constexpr auto kTakeGraceAfterSignal = std::chrono::seconds(3);
// A stop for a job this worker does not hold is remembered this long (the most recent ones only), in case the
// job's take answer is still on its way.
constexpr auto kEarlyStopMemory = std::chrono::seconds(60);
constexpr size_t kEarlyStopsKept = 64;

std::atomic<int> g_signals{0};  // SIGTERM/SIGINT received (written by the signal handler only)

extern "C" void on_stop_signal(int) { g_signals.fetch_add(1); }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

std::string worker_help_text() {
  return "Usage: podserve worker [--test_input '<job json>'] [serve's engine flags...]\n\n"
         "The RunPod serverless worker: loads the model, then takes jobs from RUNPOD_WEBHOOK_GET_JOB and posts\n"
         "results to RUNPOD_WEBHOOK_POST_OUTPUT / RUNPOD_WEBHOOK_POST_STREAM, pinging RUNPOD_WEBHOOK_PING every\n"
         "RUNPOD_PING_INTERVAL ms with the held job ids (Authorization: RUNPOD_AI_API_KEY, worker id RUNPOD_POD_ID).\n"
         "Without RUNPOD_WEBHOOK_GET_JOB (or with --test_input) it runs one job from --test_input or ./test_input.json\n"
         "and prints the result.\n\n"
         "Job shaping: MAX_CONCURRENCY (30), DEFAULT_BATCH_SIZE (50), MIN_BATCH_SIZE / DEFAULT_MIN_BATCH_SIZE (1),\n"
         "BATCH_SIZE_GROWTH_FACTOR / DEFAULT_BATCH_SIZE_GROWTH_FACTOR (3), RAW_OPENAI_OUTPUT (1).\n"
         "Model and engine: the flags and variables of `podserve serve --help` (MODEL_NAME, MAX_MODEL_LEN,\n"
         "OPENAI_SERVED_MODEL_NAME_OVERRIDE, OPENAI_RESPONSE_ROLE, CUSTOM_CHAT_TEMPLATE, ...).\n";
}

/// The jobs this worker holds: their controls (for job-stop) and threads.
class JobTracker {
 public:
  struct Entry {
    JobControl control;
    std::thread thread;
    bool done = false;
  };

  std::shared_ptr<Entry> add(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto e = std::make_shared<Entry>();
    jobs_[id] = e;
    const auto now = Clock::now();
    for (auto it = early_stops_.begin(); it != early_stops_.end(); ++it) {
      if (it->first == id && now - it->second < kEarlyStopMemory) {
        PODSERVE_LOG(kInfo) << "job " << id << ": stop requested by the job server before the job arrived";
        e->control.cancel();
        early_stops_.erase(it);
        break;
      }
    }
    return e;
  }
  void finish(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = jobs_.find(id); it != jobs_.end()) {
      it->second->done = true;
      finished_.push_back(it->second);
      jobs_.erase(it);
    }
    cv_.notify_all();
  }
  int held() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(jobs_.size());
  }
  std::vector<std::string> ids() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& [id, e] : jobs_) out.push_back(id);
    return out;
  }
  void cancel(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = jobs_.find(id); it != jobs_.end()) {
      PODSERVE_LOG(kInfo) << "job " << id << ": stop requested by the job server";
      it->second->control.cancel();
      return;
    }
    // The job-stop poll can answer between a take's answer and add(): kept a while for add() to apply.
    early_stops_.emplace_back(id, Clock::now());
    if (early_stops_.size() > kEarlyStopsKept) early_stops_.pop_front();
  }
  /// Waits until fewer than `limit` jobs are held or `timeout` passes.
  void wait_below(int limit, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return static_cast<int>(jobs_.size()) < limit; });
  }
  /// Joins the threads of finished jobs.
  void reap() {
    std::vector<std::shared_ptr<Entry>> done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done.swap(finished_);
    }
    for (auto& e : done) {
      if (e->thread.joinable()) e->thread.join();
    }
  }
  /// Waits for every held job, then joins all threads.
  void drain() {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return jobs_.empty(); });
    }
    reap();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Entry>> jobs_;
  std::vector<std::shared_ptr<Entry>> finished_;
  std::deque<std::pair<std::string, Clock::time_point>> early_stops_;  // stops for jobs not held (yet)
};

/// Sleeps up to `d`, returning early when `stop` turns true.
void sleep_unless(const std::function<bool()>& stop, Clock::duration d) {
  const auto until = Clock::now() + d;
  while (!stop() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

/// The final job-done body: `{"output": [items]}` or `{"error": "..."}` (§4.5, generator handlers).
json::value done_body(const worker::JobOutcome& outcome) {
  if (outcome.error) return json::object{{"error", *outcome.error}};
  json::array items(outcome.items.begin(), outcome.items.end());
  return json::object{{"output", std::move(items)}};
}

/// Local mode: one job from --test_input or ./test_input.json, result printed (the SDK's local test).
int run_local_job(const std::optional<std::string>& test_input, const WorkerConfig& config,
                  worker::InProcessRoutes& routes) {
  std::string text;
  if (test_input) {
    text = *test_input;
  } else {
    std::ifstream f("test_input.json");
    if (!f) {
      PODSERVE_LOG(kError) << "No RUNPOD_WEBHOOK_GET_JOB, no --test_input and no test_input.json: nothing to do";
      return 1;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    text = ss.str();
  }
  boost::system::error_code ec;
  json::value job = json::parse(text, ec);
  if (ec || !job.is_object() || !job.get_object().contains("input")) {
    PODSERVE_LOG(kError) << "The test input must be a JSON object with an \"input\" key"
                         << (ec ? " (" + ec.message() + ")" : "");
    return 1;
  }
  const json::value* id = job.get_object().if_contains("id");
  const std::string job_id = id != nullptr && id->is_string() ? std::string(id->get_string()) : "local_test";
  PODSERVE_LOG(kInfo) << "Local test job " << job_id;
  JobControl control;
  worker::JobOutcome outcome = worker::run_job(job.get_object().at("input"), config, routes, control,
                                               [](const json::value&) {});
  std::printf("%s\n", json::serialize(done_body(outcome)).c_str());
  std::fflush(stdout);
  if (outcome.error) {
    PODSERVE_LOG(kError) << "Local test job failed: " << *outcome.error;
    return 1;
  }
  PODSERVE_LOG(kInfo) << "Local test job completed";
  return 0;
}

/// Production: the take loop on this thread, a heartbeat thread, a job-stop thread, a thread per held job.
int run_job_loop(const WorkerConfig& config, worker::InProcessRoutes& routes) {
  JobServer server(config);
  JobTracker tracker;
  std::atomic<bool> fatal{false};
  std::atomic<bool> exiting{false};  // the held jobs are done: background threads stop
  auto stopping = [&] { return g_signals.load() > 0 || fatal.load(); };

  std::thread pinger;
  if (server.can_ping()) {
    pinger = std::thread([&] {
      net::HttpClient client;
      while (!exiting) {
        server.ping(client, tracker.ids());
        sleep_unless([&] { return exiting.load(); }, std::chrono::milliseconds(config.ping_interval_ms));
      }
    });
  }
  std::thread stop_poller;
  if (server.can_poll_stop()) {
    stop_poller = std::thread([&] {
      net::HttpClient client;
      auto keep_going = [&] { return !exiting.load(); };
      while (!exiting) {
        const auto started = Clock::now();
        Result<std::vector<std::string>> ids = server.poll_stop(client, keep_going);
        if (ids.ok()) {
          for (const std::string& id : ids.value()) tracker.cancel(id);
          sleep_unless(keep_going, kMinPollGap - (Clock::now() - started));
        } else if (ids.status().code() == StatusCode::kResourceExhausted) {
          sleep_unless([&] { return exiting.load(); }, kTooManyRequestsBackoff);
        } else if (!exiting) {
          PODSERVE_LOG(kDebug) << "job-stop poll failed: " << ids.status().message();
          sleep_unless([&] { return exiting.load(); }, kErrorBackoff);
        }
      }
    });
  }

  net::HttpClient client;
  std::optional<Clock::time_point> signal_seen;  // when the take loop first saw a stop signal
  auto keep_taking = [&] {
    if (fatal.load()) return false;
    if (g_signals.load() == 0) return true;
    if (!signal_seen) signal_seen = Clock::now();
    return Clock::now() - *signal_seen < kTakeGraceAfterSignal;
  };
  PODSERVE_LOG(kInfo) << "Worker " << config.worker_id << " taking jobs from " << net::redact_url(config.get_job_url)
                      << " (concurrency " << config.max_concurrency << ")";
  while (!stopping()) {
    tracker.reap();
    const int held = tracker.held();
    const int free_slots = config.max_concurrency - held;
    if (free_slots <= 0) {
      tracker.wait_below(config.max_concurrency, std::chrono::milliseconds(200));
      continue;
    }
    const auto started = Clock::now();
    Result<std::vector<Job>> jobs = server.take(client, free_slots, held > 0, keep_taking);
    if (!jobs.ok()) {
      if (jobs.status().code() == StatusCode::kCancelled) break;
      if (jobs.status().code() == StatusCode::kResourceExhausted) {
        PODSERVE_LOG(kWarning) << "job-take: too many requests; waiting 5 s";
        sleep_unless(stopping, kTooManyRequestsBackoff);
      } else {
        PODSERVE_LOG(kWarning) << "Failed to get job: " << jobs.status().message();
        sleep_unless(stopping, kErrorBackoff);
      }
      continue;
    }
    if (jobs.value().empty()) {
      sleep_unless(stopping, kMinPollGap - (Clock::now() - started));
      continue;
    }
    for (Job& job : jobs.value()) {
      if (tracker.held() >= config.max_concurrency) {
        PODSERVE_LOG(kWarning) << "job-take answered more jobs than free slots; running job " << job.id << " anyway";
      }
      std::shared_ptr<JobTracker::Entry> entry = tracker.add(job.id);
      PODSERVE_LOG(kInfo) << "job " << job.id << ": started";
      entry->thread = std::thread([&, entry, job = std::move(job)] {
        net::HttpClient post_client;
        worker::JobOutcome outcome = worker::run_job(
            job.input, config, routes, entry->control, [&](const json::value& item) {
              Status st = server.post_stream(post_client, job.id, item);
              if (!st.ok()) PODSERVE_LOG(kWarning) << "job " << job.id << ": stream item dropped: " << st.message();
            });
        if (outcome.cancelled) {
          PODSERVE_LOG(kInfo) << "job " << job.id << ": stopped (nothing posted)";
        } else {
          Status st = server.post_done(post_client, job.id, done_body(outcome));
          if (!st.ok()) PODSERVE_LOG(kError) << "job " << job.id << ": result dropped: " << st.message();
          if (outcome.error) {
            PODSERVE_LOG(kInfo) << "job " << job.id << ": failed: " << *outcome.error;
          } else {
            PODSERVE_LOG(kInfo) << "job " << job.id << ": completed";
          }
        }
        if (outcome.fatal) {
          PODSERVE_LOG(kError) << "The engine failed: taking no more jobs; exiting";
          fatal = true;
        }
        tracker.finish(job.id);
      });
    }
  }
  if (g_signals.load() > 0) {
    PODSERVE_LOG(kInfo) << "Stop signal: taking no more jobs; finishing " << tracker.held() << " held job(s)";
  }
  tracker.drain();
  exiting = true;
  if (pinger.joinable()) pinger.join();
  if (stop_poller.joinable()) stop_poller.join();
  PODSERVE_LOG(kInfo) << "Worker stopped";
  return fatal ? 1 : 0;
}

}  // namespace

int run_worker(int argc, char** argv) {
  std::vector<std::string> args;
  std::optional<std::string> test_input;
  for (int i = std::min(argc, 1); i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(worker_help_text().c_str(), stdout);
      std::fputs("\n", stdout);
      std::fputs(server_help_text().c_str(), stdout);
      return 0;
    }
    if (a == "--test_input" || a == "--test-input") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "podserve worker: --test_input needs a JSON value\n");
        return 2;
      }
      test_input = argv[++i];
    } else if (a.starts_with("--test_input=") || a.starts_with("--test-input=")) {
      test_input = a.substr(a.find('=') + 1);
    } else {
      args.push_back(std::move(a));
    }
  }
  const EnvLookup env = process_env();
  const std::vector<std::string> env_names = process_env_names();
  Result<ServerConfig> parsed = parse_server_config(args, env, env_names);
  if (!parsed.ok()) {
    std::fprintf(stderr, "podserve worker: %s\n", parsed.status().message().c_str());
    return 2;
  }
  Result<WorkerConfig> worker_config = worker::parse_worker_config(env);
  if (!worker_config.ok()) {
    std::fprintf(stderr, "podserve worker: %s\n", worker_config.status().message().c_str());
    return 2;
  }
  const ServerConfig& config = parsed.value();
  const WorkerConfig& wcfg = worker_config.value();
  set_log_level(config.log_level);
  for (const std::string& w : config.warnings) PODSERVE_LOG(kWarning) << w;
  install_signal_handlers();

  // The model first: no job is taken and no ping sent before it is ready.
  Result<ServingStack> stack = build_serving_stack(config);
  if (!stack.ok()) {
    PODSERVE_LOG(kError) << stack.status().message();
    return 1;
  }
  int exit_code = 0;
  {
    http::Router router;
    stack.value().service->register_routes(router);
    const int threads = config.io_threads > 0 ? config.io_threads : 2;
    worker::InProcessRoutes routes(std::move(router), threads);
    if (test_input || wcfg.get_job_url.empty()) {
      exit_code = run_local_job(test_input, wcfg, routes);
    } else {
      exit_code = run_job_loop(wcfg, routes);
    }
    stack.value().engine->shutdown();  // before the routes' threads stop: nothing is left waiting on them
    stack.value().service->join_background_work();  // adapter loads report to the routes' io_context
  }
  return exit_code;
}

}  // namespace podserve
