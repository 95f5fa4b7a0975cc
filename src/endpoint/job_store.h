// The endpoint's durable job queue: every accepted job, its lease, stream items and result live in SQLite (WAL,
// synchronous=FULL), so a job accepted by /run survives a restart. A worker holds a job through a lease that its
// pings renew; an expired lease puts the job back in the queue. Every state change is one conditional UPDATE, so
// a job reaches exactly one terminal state and a result from a stale lease is refused.
//
// Times are wall-clock milliseconds passed in by the caller (leases must survive a restart; tests pass their own).
// Thread-safe: one mutex around the connection; each call is short.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "endpoint/sqlite.h"

namespace podserve::endpoint {

enum class JobStatus { kInQueue, kInProgress, kCompleted, kFailed, kCancelled, kTimedOut };

const char* job_status_name(JobStatus status);  // "IN_QUEUE", ...
bool is_terminal(JobStatus status);

struct NewJob {
  std::string id;
  std::string input_json;  // the client's "input" value, JSON text
  std::string webhook;     // "" = none
  int64_t execution_timeout_ms = 600000;
  int64_t ttl_ms = 86400000;
  bool sync = false;       // /runsync: shorter result retention
};

struct Job {
  std::string id;
  JobStatus status = JobStatus::kInQueue;
  std::string input_json;
  std::string webhook;
  int64_t execution_timeout_ms = 0;
  int64_t ttl_ms = 0;
  int64_t created_ms = 0;
  int64_t started_ms = 0;   // 0 until a worker takes it
  int64_t finished_ms = 0;  // 0 until terminal
  std::string worker_id;
  int64_t attempts = 0;
  std::optional<std::string> output_json;  // JSON text
  std::optional<std::string> error;
  bool sync = false;
};

/// A worker's result post: body {"output"?, "error"?}. progress=true is the SDK's progress update (not terminal).
struct WorkerResult {
  std::optional<std::string> output_json;
  std::optional<std::string> error;
  bool progress = false;
};

struct JobCounts {
  int64_t in_queue = 0, in_progress = 0, completed = 0, failed = 0, cancelled = 0, timed_out = 0, retried = 0;
  int64_t oldest_queued_ms = 0;  // queue entry time of the oldest queued job, 0 when the queue is empty
};

struct StreamPoll {
  Job job;
  std::vector<std::string> items;  // output JSON texts produced since the previous poll
};

struct PendingWebhook {
  std::string job_id;
  std::string url;
  int attempts = 0;
};

class JobStore {
 public:
  static Result<std::unique_ptr<JobStore>> open(const std::string& path);

  Status submit(const NewJob& job, int64_t now_ms);
  std::optional<Job> get(const std::string& id);
  /// Leases up to `max_jobs` queued jobs (FIFO) to `worker_id` until now + lease_ms.
  Result<std::vector<Job>> take(const std::string& worker_id, int max_jobs, int64_t now_ms, int64_t lease_ms);
  /// Extends the leases of the listed jobs held by this worker; a listed job it was told to stop (cancelled, timed
  /// out) gets its stop signal again, since a worker drops one that arrives before it has started the job.
  Status renew(const std::string& worker_id, const std::vector<std::string>& job_ids, int64_t now_ms,
               int64_t lease_ms);
  /// Appends a stream item. kFailedPrecondition-like (kInvalidArgument) when the worker does not hold the job.
  Status add_stream_item(const std::string& job_id, const std::string& worker_id, const std::string& output_json,
                         int64_t now_ms, int64_t lease_ms);
  /// Ends the job (or records progress). Refused (kNotFound / kInvalidArgument) for a stale lease or ended job.
  Status finish(const std::string& job_id, const std::string& worker_id, const WorkerResult& result,
                int64_t now_ms);
  /// Items since the previous poll; advances the cursor.
  Result<StreamPoll> poll_stream(const std::string& id);
  /// Queued → CANCELLED; running → CANCELLED plus a stop signal for its worker; ended jobs stay as they are.
  Result<Job> cancel(const std::string& id, int64_t now_ms);
  /// FAILED / TIMED_OUT → back in the queue with the same id and input (kInvalidArgument otherwise).
  Result<Job> retry(const std::string& id, int64_t now_ms);
  /// Removes every queued job; returns how many.
  Result<int> purge_queue();
  /// Job ids this worker must stop (cancelled, timed out); each signal is returned once (renew may queue it again).
  Result<std::vector<std::string>> take_stop_signals(const std::string& worker_id);

  /// Periodic upkeep: expired leases back to the queue, executionTimeout / ttl → TIMED_OUT, old results removed.
  /// Returns the number of jobs that changed state.
  Result<int> sweep(int64_t now_ms, int64_t retention_ms, int64_t sync_retention_ms);
  /// A worker known to be gone (process exited): its jobs go back to the queue now.
  Result<int> release_worker(const std::string& worker_id);

  JobCounts counts();
  /// In-progress jobs per worker id.
  std::map<std::string, int> jobs_by_worker();
  /// Terminal jobs whose webhook is due.
  std::vector<PendingWebhook> due_webhooks(int64_t now_ms);
  /// Records a delivery attempt: delivered, or retry at next_ms (give_up stops further attempts).
  void webhook_attempted(const std::string& job_id, bool delivered, bool give_up, int64_t next_ms);

 private:
  explicit JobStore(SqliteDb db) : db_(std::move(db)) {}
  Result<Job> load(const std::string& id);
  Status requeue_where(const std::string& condition, int64_t bind_value, const std::string& bind_text, int* count);
  Status bump_counter(const char* name, int64_t by);

  std::mutex mu_;
  SqliteDb db_;
};

}  // namespace podserve::endpoint
