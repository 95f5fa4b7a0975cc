#include "endpoint/worker_pool.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "base/log.h"

extern char** environ;

namespace podserve::endpoint {
namespace {

constexpr int64_t kCrashBackoffMs = 1000;     // after a crash; doubles with each crash in a row
constexpr int64_t kMaxCrashBackoffMs = 30000;
constexpr int64_t kStopGraceMs = 30000;  // a stopping worker finishes its jobs; then SIGKILL

std::string random_suffix() {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 6; ++i) s += kAlphabet[rd() % (sizeof(kAlphabet) - 1)];
  return s;
}

}  // namespace

int desired_workers(const EndpointConfig& config, const ScaleInputs& in) {
  int want = 0;
  if (config.scaler_type == ScalerType::kRequestCount) {
    want = static_cast<int>(std::ceil(static_cast<double>(in.in_queue + in.in_progress) / config.scaler_value));
  } else {
    want = in.in_queue > 0 ? std::max(in.workers, 1) : in.busy;
    if (in.in_queue > 0 && in.oldest_wait_s > config.scaler_value && in.starting == 0) want = in.workers + 1;
  }
  return std::clamp(want, config.workers_min, config.workers_max);
}

WorkerPool::~WorkerPool() { stop_all(2000); }

void WorkerPool::note_seen(const std::string& worker_id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (gone_.count(worker_id)) return;
  Worker& w = workers_[worker_id];
  if (w.id.empty()) {  // a worker we did not start
    w.id = worker_id;
    w.started_ms = now_ms;
    w.last_busy_ms = now_ms;
  }
  if (w.last_seen_ms == 0) {
    w.last_busy_ms = now_ms;  // idle time counts from when it came up
    if (w.pid >= 0) crash_streak_ = 0;  // a worker of ours came up: the command works
  }
  w.last_seen_ms = now_ms;
}

bool WorkerPool::accepts_jobs(const std::string& worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (gone_.count(worker_id) || shutting_down_) return false;
  auto it = workers_.find(worker_id);
  return it == workers_.end() || it->second.stop_sent_ms == 0;
}

std::vector<std::string> WorkerPool::worker_env(const std::string& worker_id) const {
  // The variables RunPod sets for a worker (§4.1 of the spec): templates already carry '?' as the SDK appends '&'.
  std::vector<std::string> env = {
      "RUNPOD_WEBHOOK_GET_JOB=" + base_url_ + "/job-take/$ID?gpu=cpu",
      "RUNPOD_WEBHOOK_POST_OUTPUT=" + base_url_ + "/job-done/$RUNPOD_POD_ID/$ID?gpu=cpu",
      "RUNPOD_WEBHOOK_POST_STREAM=" + base_url_ + "/job-stream/$RUNPOD_POD_ID/$ID?gpu=cpu",
      "RUNPOD_WEBHOOK_PING=" + base_url_ + "/ping/$RUNPOD_POD_ID?gpu=cpu",
      "RUNPOD_PING_INTERVAL=" + std::to_string(config_.ping_interval_ms),
      // The SDK only pings when it has a key: an open endpoint still hands one out (and accepts any).
      "RUNPOD_AI_API_KEY=" + (config_.worker_api_key.empty() ? std::string("podserve-local") : config_.worker_api_key),
      "RUNPOD_POD_ID=" + worker_id,
      "RUNPOD_POD_HOSTNAME=" + worker_id,
  };
  for (char** e = environ; *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (!eq) continue;
    const std::string name(*e, static_cast<size_t>(eq - *e));
    const bool overridden = std::any_of(env.begin(), env.end(), [&](const std::string& v) {
      return v.compare(0, name.size() + 1, name + "=") == 0;
    });
    if (!overridden) env.emplace_back(*e);
  }
  return env;
}

void WorkerPool::start_one(int64_t now_ms) {
  const std::string id = "local-" + std::to_string(next_index_++) + "-" + random_suffix();
  std::string command = config_.worker_command;
  if (command.empty()) {
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    std::string path = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string("podserve");
    std::string quoted = "'";  // a single-quoted shell word: ' becomes '\''
    for (char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    command = quoted + "' worker";
  }
  const std::string shell_command = "exec " + command;
  // Everything the child needs is built before fork (only async-signal-safe calls after it).
  std::vector<std::string> env = worker_env(id);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = getpid();
  const int max_fd = static_cast<int>(std::min<long>(sysconf(_SC_OPEN_MAX), 1 << 20));
  const pid_t pid = fork();
  if (pid < 0) {
    PODSERVE_LOG(kError) << "Cannot start a worker: fork failed: " << std::strerror(errno);
    next_start_allowed_ms_ = now_ms + kCrashBackoffMs;
    return;
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // workers go when the endpoint goes
    if (getppid() != parent) _exit(1);
    // The worker gets stdin/out/err only. An inherited listening socket outlives an endpoint killed with -9: the
    // restarted endpoint cannot bind its port while the orphaned worker holds it, and that worker's pings and
    // results hang on a socket nobody accepts from (the soak saw both).
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
    {
      for (int fd = 3; fd < max_fd; ++fd) close(fd);
    }
    execle("/bin/sh", "sh", "-c", shell_command.c_str(), static_cast<char*>(nullptr), envp.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also here: a kill(-pid) right after fork must reach the group
  Worker w;
  w.id = id;
  w.pid = pid;
  w.started_ms = now_ms;
  w.last_busy_ms = now_ms;
  workers_[id] = w;
  ++started_total_;
  PODSERVE_LOG(kInfo) << "Started worker " << id << " (pid " << pid << "): " << command;
}

void WorkerPool::reap(int64_t now_ms) {
  for (auto it = workers_.begin(); it != workers_.end();) {
    Worker& w = it->second;
    if (w.pid < 0) {  // someone else's worker: forget it once it has been silent for a lease
      if (now_ms - w.last_seen_ms > config_.lease_timeout_ms) {
        it = workers_.erase(it);
      } else {
        ++it;
      }
      continue;
    }
    int wstatus = 0;
    const pid_t r = waitpid(w.pid, &wstatus, WNOHANG);
    if (r == 0) {
      if (w.stop_sent_ms && now_ms - w.stop_sent_ms > kStopGraceMs) kill(-w.pid, SIGKILL);
      ++it;
      continue;
    }
    const bool asked = w.stop_sent_ms != 0;
    const std::string how = WIFSIGNALED(wstatus) ? "signal " + std::to_string(WTERMSIG(wstatus))
                                                 : "exit code " + std::to_string(WEXITSTATUS(wstatus));
    kill(-w.pid, SIGKILL);  // what the worker started (e.g. the SDK's heartbeat process) goes with it
    Result<int> requeued = store_.release_worker(w.id);
    const int n = requeued.ok() ? requeued.value() : 0;
    if (asked) {
      PODSERVE_LOG(kInfo) << "Worker " << w.id << " stopped (" << how << ")";
    } else {
      ++crashed_total_;
      next_start_allowed_ms_ = now_ms + std::min(kMaxCrashBackoffMs, kCrashBackoffMs << std::min(crash_streak_, 5));
      ++crash_streak_;
      PODSERVE_LOG(kWarning) << "Worker " << w.id << " exited unexpectedly (" << how << "); " << n
                             << " job(s) back in the queue";
    }
    gone_.insert(w.id);
    it = workers_.erase(it);
  }
}

void WorkerPool::tick(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  reap(now_ms);
  const std::map<std::string, int> busy = store_.jobs_by_worker();
  ScaleInputs in;
  for (auto& [id, w] : workers_) {
    auto b = busy.find(id);
    w.jobs = b == busy.end() ? 0 : b->second;
    if (w.jobs > 0) w.last_busy_ms = now_ms;
    if (w.pid >= 0 && w.stop_sent_ms == 0) {
      ++in.workers;
      if (w.last_seen_ms == 0) ++in.starting;
      if (w.jobs > 0) ++in.busy;
    }
  }
  if (config_.workers_max == 0) return;  // external workers only
  const JobCounts counts = store_.counts();
  in.in_queue = counts.in_queue;
  in.in_progress = counts.in_progress;
  in.oldest_wait_s = counts.oldest_queued_ms ? static_cast<double>(now_ms - counts.oldest_queued_ms) / 1000.0 : 0;
  const int want = desired_workers(config_, in);
  if (want > in.workers) {
    if (now_ms < next_start_allowed_ms_) return;
    for (int i = in.workers; i < want; ++i) start_one(now_ms);
    return;
  }
  // Scale down: idle workers past the idle timeout, newest first, never below `want`.
  int excess = in.workers - want;
  const auto idle_ms = static_cast<int64_t>(config_.idle_timeout_s * 1000);
  for (auto it = workers_.rbegin(); it != workers_.rend() && excess > 0; ++it) {
    Worker& w = it->second;
    if (w.pid < 0 || w.stop_sent_ms || w.jobs > 0 || now_ms - w.last_busy_ms < idle_ms) continue;
    PODSERVE_LOG(kInfo) << "Stopping idle worker " << w.id << " (idle " << (now_ms - w.last_busy_ms) / 1000.0
                        << " s)";
    kill(-w.pid, SIGTERM);
    w.stop_sent_ms = now_ms;
    --excess;
  }
}

void WorkerPool::stop_all(int64_t grace_ms) {
  std::vector<pid_t> pids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
    for (auto& [id, w] : workers_) {
      if (w.pid < 0) continue;
      kill(-w.pid, SIGTERM);
      w.stop_sent_ms = 1;  // draining: no new jobs
      pids.push_back(w.pid);
    }
  }
  // Waited for without the lock: the worker API keeps answering the workers while they finish.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  for (pid_t pid : pids) {
    while (waitpid(pid, nullptr, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(-pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(-pid, SIGKILL);  // leftovers of its process group
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->second.pid >= 0) {
      gone_.insert(it->first);
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

WorkerCounts WorkerPool::counts(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  WorkerCounts c;
  for (const auto& [id, w] : workers_) {
    if (w.stop_sent_ms) ++c.stopping;
    else if (w.last_seen_ms == 0) ++c.initializing;
    else if (w.jobs > 0) ++c.running;
    else ++c.idle;
  }
  return c;
}

}  // namespace podserve::endpoint
