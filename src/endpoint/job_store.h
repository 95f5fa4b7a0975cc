// The endpoint's durable job queue: every accepted job, its lease, stream items and result live in a database, so
// a job accepted by /run survives a restart. A worker holds a job through a lease that its pings renew; an expired
// lease puts the job back in the queue. Every state change is one conditional UPDATE, so a job reaches exactly one
// terminal state and a result from a stale lease is refused.
//
// One interface, two stores, the same tests (tests/unit/endpoint/job_store_test.cpp runs on both):
//   SqliteJobStore (sqlite_job_store.*): one embedded file, one endpoint process (the default);
//   PgJobStore (pg_job_store.*): PostgreSQL, shared by several endpoint replicas behind a load balancer.
//
// Times are wall-clock milliseconds passed in by the caller (leases must survive a restart; tests pass their own).
// Thread-safe: each store serializes its calls on its connection; each call is short.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

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

/// True for the URLs PgJobStore takes (postgresql://, postgres://); anything else is an SQLite file path.
bool is_postgres_url(const std::string& db);
/// `db` without the password of a PostgreSQL URL (for logs).
std::string redacted_db(const std::string& db);

class JobStore {
 public:
  /// A PostgreSQL URL opens PgJobStore, anything else SqliteJobStore (":memory:" for tests).
  static Result<std::unique_ptr<JobStore>> open(const std::string& db);
  virtual ~JobStore() = default;

  virtual Status submit(const NewJob& job, int64_t now_ms) = 0;
  virtual std::optional<Job> get(const std::string& id) = 0;
  /// Leases up to `max_jobs` queued jobs (FIFO) to `worker_id` until now + lease_ms.
  virtual Result<std::vector<Job>> take(const std::string& worker_id, int max_jobs, int64_t now_ms,
                                        int64_t lease_ms) = 0;
  /// Extends the leases of the listed jobs held by this worker; a listed job it was told to stop (cancelled, timed
  /// out) gets its stop signal again, since a worker drops one that arrives before it has started the job.
  virtual Status renew(const std::string& worker_id, const std::vector<std::string>& job_ids, int64_t now_ms,
                       int64_t lease_ms) = 0;
  /// Appends a stream item. kFailedPrecondition-like (kInvalidArgument) when the worker does not hold the job.
  virtual Status add_stream_item(const std::string& job_id, const std::string& worker_id,
                                 const std::string& output_json, int64_t now_ms, int64_t lease_ms) = 0;
  /// Ends the job (or records progress). Refused (kNotFound / kInvalidArgument) for a stale lease or ended job.
  virtual Status finish(const std::string& job_id, const std::string& worker_id, const WorkerResult& result,
                        int64_t now_ms) = 0;
  /// Items since the previous poll; advances the cursor.
  virtual Result<StreamPoll> poll_stream(const std::string& id) = 0;
  /// Queued → CANCELLED; running → CANCELLED plus a stop signal for its worker; ended jobs stay as they are.
  virtual Result<Job> cancel(const std::string& id, int64_t now_ms) = 0;
  /// FAILED / TIMED_OUT → back in the queue with the same id and input (kInvalidArgument otherwise).
  virtual Result<Job> retry(const std::string& id, int64_t now_ms) = 0;
  /// Removes every queued job; returns how many.
  virtual Result<int> purge_queue() = 0;
  /// Job ids this worker must stop (cancelled, timed out); each signal is returned once (renew may queue it again).
  virtual Result<std::vector<std::string>> take_stop_signals(const std::string& worker_id) = 0;

  /// Periodic upkeep: expired leases back to the queue, executionTimeout / ttl → TIMED_OUT, old results removed.
  /// Returns the number of jobs that changed state.
  virtual Result<int> sweep(int64_t now_ms, int64_t retention_ms, int64_t sync_retention_ms) = 0;
  /// A worker known to be gone (process exited): its jobs go back to the queue now.
  virtual Result<int> release_worker(const std::string& worker_id) = 0;

  /// Job counts (for /health, /metrics and the scaler): from the database, so every replica reports the same.
  virtual JobCounts counts() = 0;
  /// In-progress jobs per worker id.
  virtual std::map<std::string, int> jobs_by_worker() = 0;
  /// Terminal jobs whose webhook is due, claimed for a minute (not due again until webhook_attempted says when), so
  /// replicas sharing the database deliver each webhook once.
  virtual std::vector<PendingWebhook> due_webhooks(int64_t now_ms) = 0;
  /// Records a delivery attempt: delivered, or retry at next_ms (give_up stops further attempts).
  virtual void webhook_attempted(const std::string& job_id, bool delivered, bool give_up, int64_t next_ms) = 0;

  /// Moves whenever jobs may have changed: this process's writes and, on PostgreSQL, any replica's (heard through
  /// LISTEN/NOTIFY). Waiters (long polls, /runsync) read it in-process and query the database only when it moves,
  /// or after a backstop interval.
  virtual uint64_t change_count() const = 0;
};

}  // namespace podserve::endpoint
