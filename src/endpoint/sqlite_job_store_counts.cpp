// SqliteJobStore's read-mostly side: counts for /health, /metrics and the scaler, and webhook bookkeeping.
#include "endpoint/sqlite_job_store.h"

namespace podserve::endpoint {
namespace {

constexpr int64_t kWebhookClaimMs = 60000;

}  // namespace

JobCounts SqliteJobStore::counts() {
  std::lock_guard<std::mutex> lock(mu_);
  JobCounts c;
  auto q = db_.prepare("SELECT status, COUNT(*) FROM jobs GROUP BY status");
  if (!q.ok()) return c;
  for (;;) {
    Result<bool> row = q->step();
    if (!row.ok() || !row.value()) break;
    const int64_t n = q->int_at(1);
    switch (static_cast<JobStatus>(q->int_at(0))) {
      case JobStatus::kInQueue: c.in_queue = n; break;
      case JobStatus::kInProgress: c.in_progress = n; break;
      case JobStatus::kCompleted: c.completed = n; break;
      case JobStatus::kFailed: c.failed = n; break;
      case JobStatus::kCancelled: c.cancelled = n; break;
      case JobStatus::kTimedOut: c.timed_out = n; break;
    }
  }
  auto oldest = db_.prepare("SELECT MIN(queued_ms) FROM jobs WHERE status = ?1");
  if (oldest.ok()) {
    oldest->bind(1, kQueued);
    Result<bool> row = oldest->step();
    if (row.ok() && row.value() && !oldest->is_null(0)) c.oldest_queued_ms = oldest->int_at(0);
  }
  auto retried = db_.prepare("SELECT value FROM counters WHERE name = 'retried'");
  if (retried.ok()) {
    Result<bool> row = retried->step();
    if (row.ok() && row.value()) c.retried = retried->int_at(0);
  }
  return c;
}

std::map<std::string, int> SqliteJobStore::jobs_by_worker() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, int> out;
  auto s = db_.prepare("SELECT worker_id, COUNT(*) FROM jobs WHERE status = ?1 GROUP BY worker_id");
  if (!s.ok()) return out;
  s->bind(1, kRunning);
  for (;;) {
    Result<bool> row = s->step();
    if (!row.ok() || !row.value()) break;
    out[s->text_at(0)] = static_cast<int>(s->int_at(1));
  }
  return out;
}

std::vector<PendingWebhook> SqliteJobStore::due_webhooks(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PendingWebhook> out;
  auto s = db_.prepare("SELECT id, webhook, webhook_attempts FROM jobs WHERE webhook_state = 1 AND status NOT IN "
                       "(?1, ?2) AND webhook_next_ms <= ?3 LIMIT 64");
  if (!s.ok()) return out;
  s->bind(1, kQueued).bind(2, kRunning).bind(3, now_ms);
  for (;;) {
    Result<bool> row = s->step();
    if (!row.ok() || !row.value()) break;
    out.push_back({s->text_at(0), s->text_at(1), static_cast<int>(s->int_at(2))});
  }
  // Claimed for a minute, as in PgJobStore (webhook_attempted records the real next time).
  for (const PendingWebhook& hook : out) {
    auto claim = db_.prepare("UPDATE jobs SET webhook_next_ms = ?2 WHERE id = ?1");
    if (claim.ok()) (void)claim->bind(1, hook.job_id).bind(2, now_ms + kWebhookClaimMs).run();
  }
  return out;
}

void SqliteJobStore::webhook_attempted(const std::string& job_id, bool delivered, bool give_up, int64_t next_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto s = db_.prepare("UPDATE jobs SET webhook_attempts = webhook_attempts + 1, webhook_state = ?2, "
                       "webhook_next_ms = ?3 WHERE id = ?1");
  if (!s.ok()) return;
  (void)s->bind(1, job_id).bind(2, (delivered || give_up) ? 0 : 1).bind(3, next_ms).run();
}

}  // namespace podserve::endpoint
