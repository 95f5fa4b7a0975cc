// JobStore in PostgreSQL: several endpoint replicas share one database behind any HTTP load balancer.
//   - Claims: UPDATE … FROM (SELECT … ORDER BY seq LIMIT n FOR UPDATE SKIP LOCKED): replicas never hand one job to
//     two workers and never wait on each other's claims. Completion is fenced as in SQLite (id, worker, status).
//   - Upkeep (lease expiry, timeouts, retention) runs on every replica, but one at a time: sweep() takes a
//     transaction-level advisory lock with pg_try_advisory_xact_lock and skips the round when another holds it.
//   - Webhooks: due_webhooks() claims the rows it returns (webhook_next_ms pushed ahead, SKIP LOCKED), so one
//     replica delivers each.
//   - Schema: versioned (schema_version); migrations run under an advisory lock, so replicas may start together.
//   - Wake-ups: a trigger NOTIFYs on every change; PgListener (one connection, one thread per replica) LISTENs and
//     moves change_count(), so a replica's waiters notice another replica's writes without polling the database.
// One connection per store behind a mutex (calls are single short statements or short transactions); a lost
// connection is reset with back-off (pg.h) and the call answers unavailable meanwhile: nothing accepted is lost,
// since /run answers only after its INSERT committed.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "endpoint/job_store.h"
#include "endpoint/pg.h"

namespace podserve::endpoint {

class PgJobStore : public JobStore {
 public:
  /// Connects and creates or migrates the schema.
  static Result<std::unique_ptr<JobStore>> open(const std::string& url);

  Status submit(const NewJob& job, int64_t now_ms) override;
  std::optional<Job> get(const std::string& id) override;
  Result<std::vector<Job>> take(const std::string& worker_id, int max_jobs, int64_t now_ms,
                                int64_t lease_ms) override;
  Status renew(const std::string& worker_id, const std::vector<std::string>& job_ids, int64_t now_ms,
               int64_t lease_ms) override;
  Status add_stream_item(const std::string& job_id, const std::string& worker_id, const std::string& output_json,
                         int64_t now_ms, int64_t lease_ms) override;
  Status finish(const std::string& job_id, const std::string& worker_id, const WorkerResult& result,
                int64_t now_ms) override;
  Result<StreamPoll> poll_stream(const std::string& id) override;
  Result<Job> cancel(const std::string& id, int64_t now_ms) override;
  Result<Job> retry(const std::string& id, int64_t now_ms) override;
  Result<int> purge_queue() override;
  Result<std::vector<std::string>> take_stop_signals(const std::string& worker_id) override;
  Result<int> sweep(int64_t now_ms, int64_t retention_ms, int64_t sync_retention_ms) override;
  Result<int> release_worker(const std::string& worker_id) override;
  JobCounts counts() override;
  std::map<std::string, int> jobs_by_worker() override;
  std::vector<PendingWebhook> due_webhooks(int64_t now_ms) override;
  void webhook_attempted(const std::string& job_id, bool delivered, bool give_up, int64_t next_ms) override;
  uint64_t change_count() const override { return changes_.load(std::memory_order_acquire); }

 private:
  PgJobStore(PgConn db, const std::string& url)
      : db_(std::move(db)), listener_(std::make_unique<PgListener>(url, "podserve_jobs", &changes_)) {}
  Result<Job> load(const std::string& id, bool for_update);
  /// Running jobs matching `condition` (on $1) back to the queue; returns how many.
  Result<int64_t> requeue_where(const std::string& condition, const PgParam& value);

  std::mutex mu_;
  PgConn db_;
  std::atomic<uint64_t> changes_{0};
  std::unique_ptr<PgListener> listener_;  // after changes_, which it increments
};

}  // namespace podserve::endpoint
