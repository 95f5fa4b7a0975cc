// Local workers: the endpoint starts and stops worker processes with the load, as RunPod's autoscaler does
// (workersMin / workersMax, idleTimeout, scaler QUEUE_DELAY or REQUEST_COUNT), restarts crashed ones, and
// keeps track of every worker that talks to it (also ones it did not start).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "endpoint/endpoint_config.h"
#include "endpoint/job_store.h"

namespace podserve::endpoint {

struct ScaleInputs {
  int64_t in_queue = 0;
  int64_t in_progress = 0;
  double oldest_wait_s = 0;  // how long the oldest queued job has waited
  int workers = 0;           // started and not stopping
  int starting = 0;          // of those, not yet talking to the endpoint
  int busy = 0;              // of those, holding at least one job
};

/// How many workers should run (RunPod's scaler rules), within [workers_min, workers_max].
/// REQUEST_COUNT: ceil((in_queue + in_progress) / value). QUEUE_DELAY: one more worker when the oldest job waited
/// longer than value seconds (and none is still starting), at least one while jobs wait, all current workers while
/// jobs wait, else the busy ones (idle workers then go after the idle timeout).
int desired_workers(const EndpointConfig& config, const ScaleInputs& in);

struct WorkerCounts {
  int idle = 0, running = 0, initializing = 0, stopping = 0;
};

class WorkerPool {
 public:
  WorkerPool(const EndpointConfig& config, JobStore& store) : config_(config), store_(store) {}
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// How workers reach the endpoint, e.g. http://127.0.0.1:8080/v2/local. Set before the first tick().
  void set_base_url(std::string url) { base_url_ = std::move(url); }
  /// Called by the worker API on each job-take / ping: the worker is up (and known even if not ours).
  void note_seen(const std::string& worker_id, int64_t now_ms);
  /// False for a worker being stopped or already gone: it gets no new jobs.
  bool accepts_jobs(const std::string& worker_id);
  /// Reaps exited children (their jobs go back to the queue at once), then scales up or down.
  void tick(int64_t now_ms);
  /// SIGTERM to every child, SIGKILL to those still there after `grace_ms`; no worker is started afterwards.
  void stop_all(int64_t grace_ms);
  WorkerCounts counts(int64_t now_ms);
  int64_t started_total() const { return started_total_.load(); }
  int64_t crashed_total() const { return crashed_total_.load(); }

 private:
  struct Worker {
    std::string id;
    pid_t pid = -1;            // -1: not started by us
    int64_t started_ms = 0;
    int64_t last_seen_ms = 0;  // 0: never talked to us yet
    int64_t last_busy_ms = 0;  // last tick it held a job (or when it came up)
    int64_t stop_sent_ms = 0;  // SIGTERM sent (draining)
    int jobs = 0;
  };
  void reap(int64_t now_ms);
  void start_one(int64_t now_ms);
  std::vector<std::string> worker_env(const std::string& worker_id) const;

  const EndpointConfig& config_;
  std::string base_url_;
  JobStore& store_;
  std::mutex mu_;
  std::map<std::string, Worker> workers_;
  std::set<std::string> gone_;  // workers of ours that exited: a late request must not bring them back
  int64_t next_start_allowed_ms_ = 0;  // back-off after a crash
  int crash_streak_ = 0;
  bool shutting_down_ = false;               // crashes since a worker last came up
  std::atomic<int64_t> started_total_{0};
  std::atomic<int64_t> crashed_total_{0};
  uint64_t next_index_ = 1;
};

}  // namespace podserve::endpoint
