// JobStore in SQLite (WAL, synchronous=FULL): the embedded default, for one endpoint process. One mutex around
// the connection; transitions that read then write run in BEGIN IMMEDIATE.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "endpoint/job_store.h"
#include "endpoint/sqlite.h"

namespace podserve::endpoint {

class SqliteJobStore : public JobStore {
 public:
  /// Opens (creates) the file; ":memory:" is an in-memory database (tests).
  static Result<std::unique_ptr<JobStore>> open(const std::string& path);

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
  // The status column's values for the two live states (both .cpp files' queries bind them).
  static constexpr int kQueued = static_cast<int>(JobStatus::kInQueue);
  static constexpr int kRunning = static_cast<int>(JobStatus::kInProgress);

  explicit SqliteJobStore(SqliteDb db) : db_(std::move(db)) { db_.count_row_changes(&changes_); }
  Result<Job> load(const std::string& id);
  Status requeue_where(const std::string& condition, int64_t bind_value, const std::string& bind_text, int* count);
  Status bump_counter(const char* name, int64_t by);

  std::mutex mu_;
  SqliteDb db_;
  std::atomic<uint64_t> changes_{0};
};

}  // namespace podserve::endpoint
