#include "endpoint/pg_job_store.h"

#include <algorithm>
#include <utility>

namespace podserve::endpoint {
namespace {

// The SQL below writes statuses as numbers: IN_QUEUE 0, IN_PROGRESS 1, COMPLETED 2, FAILED 3, CANCELLED 4,
// TIMED_OUT 5 (the same numbers as the SQLite store's).
static_assert(static_cast<int>(JobStatus::kInQueue) == 0 && static_cast<int>(JobStatus::kInProgress) == 1 &&
              static_cast<int>(JobStatus::kCompleted) == 2 && static_cast<int>(JobStatus::kFailed) == 3 &&
              static_cast<int>(JobStatus::kCancelled) == 4 && static_cast<int>(JobStatus::kTimedOut) == 5);

// Advisory lock keys (any two constants no other application on the database uses).
constexpr const char* kMigrationLock = "7136250001";
constexpr const char* kSweepLock = "7136250002";

// Migration N brings the schema from version N to N + 1. Append; never edit one that has shipped.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE SEQUENCE job_order;
CREATE TABLE jobs(
  id TEXT PRIMARY KEY,
  seq BIGINT NOT NULL DEFAULT nextval('job_order'),
  status SMALLINT NOT NULL,
  input TEXT NOT NULL,
  webhook TEXT NOT NULL DEFAULT '',
  execution_timeout_ms BIGINT NOT NULL,
  ttl_ms BIGINT NOT NULL,
  created_ms BIGINT NOT NULL,
  queued_ms BIGINT NOT NULL,
  started_ms BIGINT NOT NULL DEFAULT 0,
  finished_ms BIGINT NOT NULL DEFAULT 0,
  worker_id TEXT NOT NULL DEFAULT '',
  lease_expires_ms BIGINT NOT NULL DEFAULT 0,
  attempts BIGINT NOT NULL DEFAULT 0,
  output TEXT,
  error TEXT,
  stream_cursor BIGINT NOT NULL DEFAULT 0,
  stream_count BIGINT NOT NULL DEFAULT 0,
  sync BOOLEAN NOT NULL DEFAULT FALSE,
  webhook_state SMALLINT NOT NULL DEFAULT 0,
  webhook_attempts INTEGER NOT NULL DEFAULT 0,
  webhook_next_ms BIGINT NOT NULL DEFAULT 0);
CREATE INDEX jobs_by_status ON jobs(status, seq);
CREATE TABLE stream_items(job_id TEXT NOT NULL, seq BIGINT NOT NULL, output TEXT NOT NULL, PRIMARY KEY(job_id, seq));
CREATE TABLE stop_signals(worker_id TEXT NOT NULL, job_id TEXT NOT NULL, PRIMARY KEY(worker_id, job_id));
CREATE TABLE counters(name TEXT PRIMARY KEY, value BIGINT NOT NULL);
)sql",
    // 2: every change of a job, stream item or stop signal notifies the replicas' listeners (PgListener), which
    // wake their long polls and /runsync waiters. Row-level: statements that change nothing notify nobody.
    R"sql(
CREATE FUNCTION podserve_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('podserve_jobs', '');
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_changed AFTER INSERT OR UPDATE OR DELETE ON jobs
  FOR EACH ROW EXECUTE FUNCTION podserve_notify_jobs();
CREATE TRIGGER stream_items_added AFTER INSERT ON stream_items
  FOR EACH ROW EXECUTE FUNCTION podserve_notify_jobs();
CREATE TRIGGER stop_signals_added AFTER INSERT ON stop_signals
  FOR EACH ROW EXECUTE FUNCTION podserve_notify_jobs();
)sql",
};

constexpr const char* kPgJobColumns =
    "id, status, input, webhook, execution_timeout_ms, ttl_ms, created_ms, started_ms, finished_ms, worker_id, "
    "attempts, output, error, sync, seq";

Job read_job(const PgResult& r, int row) {
  Job j;
  j.id = r.text_at(row, 0);
  j.status = static_cast<JobStatus>(r.int_at(row, 1));
  j.input_json = r.text_at(row, 2);
  j.webhook = r.text_at(row, 3);
  j.execution_timeout_ms = r.int_at(row, 4);
  j.ttl_ms = r.int_at(row, 5);
  j.created_ms = r.int_at(row, 6);
  j.started_ms = r.int_at(row, 7);
  j.finished_ms = r.int_at(row, 8);
  j.worker_id = r.text_at(row, 9);
  j.attempts = r.int_at(row, 10);
  if (!r.is_null(row, 11)) j.output_json = r.text_at(row, 11);
  if (!r.is_null(row, 12)) j.error = r.text_at(row, 12);
  j.sync = r.text_at(row, 13) == "t";
  return j;
}

/// BEGIN … COMMIT, rolled back unless commit() succeeded.
class PgTransaction {
 public:
  explicit PgTransaction(PgConn& db) : db_(db) { begun_ = db_.exec("BEGIN"); }
  ~PgTransaction() {
    if (begun_.ok() && !done_) (void)db_.exec("ROLLBACK");
  }
  const Status& begun() const { return begun_; }
  Status commit() {
    done_ = true;
    return db_.exec("COMMIT");
  }

 private:
  PgConn& db_;
  Status begun_;
  bool done_ = false;
};

Status migrate(PgConn& db) {
  PgTransaction tx(db);
  PODSERVE_RETURN_IF_ERROR(tx.begun());
  // Replicas starting together: the first migrates, the others wait here and then find nothing to do.
  PODSERVE_RETURN_IF_ERROR(db.query("SELECT pg_advisory_xact_lock($1)", {kMigrationLock}).status());
  PODSERVE_RETURN_IF_ERROR(db.exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)"));
  PODSERVE_ASSIGN_OR_RETURN(PgResult v, db.query("SELECT COALESCE(MAX(version), 0) FROM schema_version"));
  const int64_t have = v.int_at(0, 0);
  constexpr int64_t kWant = static_cast<int64_t>(std::size(kMigrations));
  if (have > kWant) {
    return invalid_argument("the job database has schema version " + std::to_string(have) +
                            ", newer than this podserve's " + std::to_string(kWant) + ": upgrade podserve");
  }
  for (int64_t i = have; i < kWant; ++i) PODSERVE_RETURN_IF_ERROR(db.exec(kMigrations[i]));
  if (have != kWant) {
    PODSERVE_RETURN_IF_ERROR(db.exec("DELETE FROM schema_version"));
    PODSERVE_RETURN_IF_ERROR(db.query("INSERT INTO schema_version VALUES($1)", {pg_int(kWant)}).status());
  }
  return tx.commit();
}

Status bump_retried(PgConn& db, int64_t by) {
  return db.query("INSERT INTO counters(name, value) VALUES('retried', $1) ON CONFLICT(name) DO UPDATE SET "
                  "value = counters.value + EXCLUDED.value", {pg_int(by)})
      .status();
}

}  // namespace

Result<std::unique_ptr<JobStore>> PgJobStore::open(const std::string& url) {
  PODSERVE_ASSIGN_OR_RETURN(PgConn db, PgConn::connect(url));
  // Quiet NOTICEs ("relation already exists") and a bounded wait on locks held by a stuck replica.
  PODSERVE_RETURN_IF_ERROR(db.exec("SET client_min_messages = warning; SET lock_timeout = '10s'"));
  PODSERVE_RETURN_IF_ERROR(migrate(db));
  return std::unique_ptr<JobStore>(new PgJobStore(std::move(db), url));
}

Status PgJobStore::submit(const NewJob& job, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  return db_.query("INSERT INTO jobs(id, status, input, webhook, execution_timeout_ms, ttl_ms, created_ms, "
                   "queued_ms, sync, webhook_state) VALUES($1, 0, $2, $3, $4, $5, $6, $6, $7, $8)",
                   {job.id, job.input_json, job.webhook, pg_int(job.execution_timeout_ms), pg_int(job.ttl_ms),
                    pg_int(now_ms), job.sync ? "t" : "f", job.webhook.empty() ? "0" : "1"})
      .status();
}

Result<Job> PgJobStore::load(const std::string& id, bool for_update) {
  PODSERVE_ASSIGN_OR_RETURN(PgResult r, db_.query(std::string("SELECT ") + kPgJobColumns + " FROM jobs WHERE id = $1" +
                                                      (for_update ? " FOR UPDATE" : ""),
                                                  {id}));
  if (r.rows() == 0) return not_found("job " + id + " not found");
  return read_job(r, 0);
}

std::optional<Job> PgJobStore::get(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<Job> j = load(id, false);
  if (!j.ok()) return std::nullopt;
  return std::move(j).value();
}

Result<std::vector<Job>> PgJobStore::take(const std::string& worker_id, int max_jobs, int64_t now_ms,
                                          int64_t lease_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  // One statement: the oldest queued jobs no other replica is claiming right now, leased to this worker.
  PODSERVE_ASSIGN_OR_RETURN(
      PgResult r, db_.query(std::string("UPDATE jobs SET status = 1, worker_id = $1, started_ms = $2, "
                                        "lease_expires_ms = $3, attempts = attempts + 1, stream_count = 0 FROM "
                                        "(SELECT id AS picked FROM jobs WHERE status = 0 ORDER BY seq LIMIT $4 "
                                        "FOR UPDATE SKIP LOCKED) p WHERE id = p.picked RETURNING ") +
                                kPgJobColumns,
                            {worker_id, pg_int(now_ms), pg_int(now_ms + lease_ms), pg_int(max_jobs)}));
  std::vector<std::pair<int64_t, Job>> rows;
  for (int i = 0; i < r.rows(); ++i) rows.emplace_back(r.int_at(i, 14), read_job(r, i));
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Job> jobs;
  for (auto& [seq, j] : rows) jobs.push_back(std::move(j));
  return jobs;
}

Status PgJobStore::renew(const std::string& worker_id, const std::vector<std::string>& job_ids, int64_t now_ms,
                         int64_t lease_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& id : job_ids) {
    PODSERVE_ASSIGN_OR_RETURN(PgResult up, db_.query("UPDATE jobs SET lease_expires_ms = $3 WHERE id = $1 AND "
                                                     "worker_id = $2 AND status = 1",
                                                     {id, worker_id, pg_int(now_ms + lease_ms)}));
    if (up.affected() == 1) continue;
    // A job it was told to stop (cancelled, timed out): tell it again (see JobStore::renew).
    PODSERVE_RETURN_IF_ERROR(db_.query("INSERT INTO stop_signals SELECT worker_id, id FROM jobs WHERE id = $1 AND "
                                       "worker_id = $2 AND status IN (4, 5) ON CONFLICT DO NOTHING",
                                       {id, worker_id})
                                 .status());
  }
  return ok_status();
}

Status PgJobStore::add_stream_item(const std::string& job_id, const std::string& worker_id,
                                   const std::string& output_json, int64_t now_ms, int64_t lease_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  PODSERVE_ASSIGN_OR_RETURN(
      PgResult r, db_.query("WITH up AS (UPDATE jobs SET stream_count = stream_count + 1, lease_expires_ms = "
                            "GREATEST(lease_expires_ms, $3) WHERE id = $1 AND worker_id = $2 AND status = 1 "
                            "RETURNING id, stream_count) INSERT INTO stream_items(job_id, seq, output) "
                            "SELECT id, stream_count, $4 FROM up",
                            {job_id, worker_id, pg_int(now_ms + lease_ms), output_json}));
  if (r.affected() != 1) return invalid_argument("job " + job_id + " is not in progress on worker " + worker_id);
  return ok_status();
}

Status PgJobStore::finish(const std::string& job_id, const std::string& worker_id, const WorkerResult& result,
                          int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<PgResult> r = result.progress
      ? db_.query("UPDATE jobs SET output = $3 WHERE id = $1 AND worker_id = $2 AND status = 1",
                  {job_id, worker_id, result.output_json})
      : db_.query("UPDATE jobs SET status = $3, output = $4, error = $5, finished_ms = $6 WHERE id = $1 AND "
                  "worker_id = $2 AND status = 1",
                  {job_id, worker_id, result.error ? "3" : "2", result.output_json, result.error, pg_int(now_ms)});
  PODSERVE_RETURN_IF_ERROR(r.status());
  if (r->affected() == 1) return ok_status();
  Result<Job> j = load(job_id, false);
  if (!j.ok()) return j.status().code() == StatusCode::kNotFound ? not_found("job " + job_id + " not found")
                                                                   : j.status();
  return invalid_argument("job " + job_id + " is " + job_status_name(j->status) +
                          (j->worker_id.empty() ? "" : " on worker " + j->worker_id) + ": result from worker " +
                          worker_id + " refused");
}

Result<StreamPoll> PgJobStore::poll_stream(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  PgTransaction tx(db_);
  PODSERVE_RETURN_IF_ERROR(tx.begun());
  StreamPoll poll;
  // FOR UPDATE: two replicas polling the same stream hand out each item once.
  PODSERVE_ASSIGN_OR_RETURN(poll.job, load(id, true));
  PODSERVE_ASSIGN_OR_RETURN(PgResult cur, db_.query("SELECT stream_cursor, stream_count FROM jobs WHERE id = $1",
                                                    {id}));
  const int64_t cursor = cur.int_at(0, 0);
  const int64_t count = cur.int_at(0, 1);
  PODSERVE_ASSIGN_OR_RETURN(PgResult items, db_.query("SELECT seq, output FROM stream_items WHERE job_id = $1 AND "
                                                      "seq > $2 ORDER BY seq",
                                                      {id, pg_int(cursor)}));
  int64_t last = cursor;
  for (int i = 0; i < items.rows(); ++i) {
    last = items.int_at(i, 0);
    poll.items.push_back(items.text_at(i, 1));
  }
  // A job that streamed nothing (a plain handler) delivers its whole output as the one stream item.
  if (count == 0 && cursor == 0 && poll.job.status == JobStatus::kCompleted && poll.job.output_json) {
    poll.items.push_back(*poll.job.output_json);
    last = 1;
  }
  if (last != cursor) {
    PODSERVE_RETURN_IF_ERROR(
        db_.query("UPDATE jobs SET stream_cursor = $2 WHERE id = $1", {id, pg_int(last)}).status());
  }
  PODSERVE_RETURN_IF_ERROR(tx.commit());
  return poll;
}

Result<Job> PgJobStore::cancel(const std::string& id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  PgTransaction tx(db_);
  PODSERVE_RETURN_IF_ERROR(tx.begun());
  PODSERVE_ASSIGN_OR_RETURN(Job j, load(id, true));
  if (is_terminal(j.status)) return j;
  PODSERVE_RETURN_IF_ERROR(
      db_.query("UPDATE jobs SET status = 4, finished_ms = $2 WHERE id = $1", {id, pg_int(now_ms)}).status());
  if (j.status == JobStatus::kInProgress) {
    PODSERVE_RETURN_IF_ERROR(
        db_.query("INSERT INTO stop_signals VALUES($1, $2) ON CONFLICT DO NOTHING", {j.worker_id, id}).status());
  }
  PODSERVE_RETURN_IF_ERROR(tx.commit());
  j.status = JobStatus::kCancelled;
  j.finished_ms = now_ms;
  return j;
}

Result<Job> PgJobStore::retry(const std::string& id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  PgTransaction tx(db_);
  PODSERVE_RETURN_IF_ERROR(tx.begun());
  PODSERVE_ASSIGN_OR_RETURN(Job j, load(id, true));
  if (j.status != JobStatus::kFailed && j.status != JobStatus::kTimedOut) {
    return invalid_argument(std::string("only FAILED or TIMED_OUT jobs can be retried; job ") + id + " is " +
                            job_status_name(j.status));
  }
  PODSERVE_RETURN_IF_ERROR(
      db_.query("UPDATE jobs SET status = 0, seq = nextval('job_order'), queued_ms = $2, created_ms = $2, "
                "started_ms = 0, finished_ms = 0, worker_id = '', output = NULL, error = NULL, stream_cursor = 0, "
                "stream_count = 0, webhook_state = CASE WHEN webhook = '' THEN 0 ELSE 1 END, webhook_attempts = 0 "
                "WHERE id = $1",
                {id, pg_int(now_ms)})
          .status());
  PODSERVE_RETURN_IF_ERROR(db_.query("DELETE FROM stream_items WHERE job_id = $1", {id}).status());
  PODSERVE_RETURN_IF_ERROR(bump_retried(db_, 1));
  PODSERVE_ASSIGN_OR_RETURN(Job again, load(id, false));
  PODSERVE_RETURN_IF_ERROR(tx.commit());
  return again;
}

Result<int> PgJobStore::purge_queue() {
  std::lock_guard<std::mutex> lock(mu_);
  PODSERVE_ASSIGN_OR_RETURN(PgResult r, db_.query("DELETE FROM jobs WHERE status = 0"));
  return static_cast<int>(r.affected());
}

Result<std::vector<std::string>> PgJobStore::take_stop_signals(const std::string& worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  PODSERVE_ASSIGN_OR_RETURN(PgResult r, db_.query("DELETE FROM stop_signals WHERE worker_id = $1 RETURNING job_id",
                                                  {worker_id}));
  std::vector<std::string> ids;
  for (int i = 0; i < r.rows(); ++i) ids.push_back(r.text_at(i, 0));
  return ids;
}

Result<int64_t> PgJobStore::requeue_where(const std::string& condition, const PgParam& value) {
  // Back to the queue at its old position (seq unchanged); the new attempt streams from item 1 again, while the
  // client's cursor stays, so items it already has are not sent twice.
  PODSERVE_ASSIGN_OR_RETURN(
      PgResult r, db_.query("WITH back AS (UPDATE jobs SET status = 0, worker_id = '', started_ms = 0, output = "
                            "NULL, stream_count = 0 WHERE status = 1 AND " + condition + " RETURNING id), "
                            "gone AS (DELETE FROM stream_items WHERE job_id IN (SELECT id FROM back)) "
                            "SELECT COUNT(*) FROM back",
                            {value}));
  const int64_t n = r.int_at(0, 0);
  if (n > 0) PODSERVE_RETURN_IF_ERROR(bump_retried(db_, n));
  return n;
}

Result<int> PgJobStore::sweep(int64_t now_ms, int64_t retention_ms, int64_t sync_retention_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  PgTransaction tx(db_);
  PODSERVE_RETURN_IF_ERROR(tx.begun());
  // Whichever replica is alive sweeps; one at a time (the others skip this round).
  PODSERVE_ASSIGN_OR_RETURN(PgResult locked, db_.query("SELECT pg_try_advisory_xact_lock($1)", {kSweepLock}));
  if (locked.text_at(0, 0) != "t") return 0;
  PODSERVE_ASSIGN_OR_RETURN(int64_t changed, requeue_where("lease_expires_ms < $1", pg_int(now_ms)));
  // Running past executionTimeout, or anything unfinished past its ttl: TIMED_OUT, and a running job's worker is
  // told to stop (a queued job has no worker: worker_id is '').
  PODSERVE_ASSIGN_OR_RETURN(
      PgResult late,
      db_.query("WITH late AS (UPDATE jobs SET status = 5, finished_ms = $1, error = $2 WHERE (status = 1 AND "
                "started_ms + execution_timeout_ms < $1) OR (status IN (0, 1) AND created_ms + ttl_ms < $1) "
                "RETURNING id, worker_id), stop AS (INSERT INTO stop_signals SELECT worker_id, id FROM late WHERE "
                "worker_id <> '' ON CONFLICT DO NOTHING) SELECT COUNT(*) FROM late",
                {pg_int(now_ms), "job timed out (executionTimeout or ttl of its policy)"}));
  changed += late.int_at(0, 0);
  // Results are kept for the retention time (and until their webhook is done), then removed (404).
  PODSERVE_RETURN_IF_ERROR(
      db_.query("WITH old AS (DELETE FROM jobs WHERE status NOT IN (0, 1) AND webhook_state = 0 AND finished_ms + "
                "CASE WHEN sync THEN $2::BIGINT ELSE $1::BIGINT END < $3 RETURNING id) DELETE FROM stream_items "
                "WHERE job_id IN (SELECT id FROM old)",
                {pg_int(retention_ms), pg_int(sync_retention_ms), pg_int(now_ms)})
          .status());
  PODSERVE_RETURN_IF_ERROR(tx.commit());
  return static_cast<int>(changed);
}

Result<int> PgJobStore::release_worker(const std::string& worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  PgTransaction tx(db_);
  PODSERVE_RETURN_IF_ERROR(tx.begun());
  PODSERVE_ASSIGN_OR_RETURN(int64_t n, requeue_where("worker_id = $1", worker_id));
  PODSERVE_RETURN_IF_ERROR(db_.query("DELETE FROM stop_signals WHERE worker_id = $1", {worker_id}).status());
  PODSERVE_RETURN_IF_ERROR(tx.commit());
  return static_cast<int>(n);
}

JobCounts PgJobStore::counts() {
  std::lock_guard<std::mutex> lock(mu_);
  JobCounts c;
  Result<PgResult> r = db_.query("SELECT status, COUNT(*), MIN(queued_ms) FROM jobs GROUP BY status UNION ALL "
                                 "SELECT -1, value, 0 FROM counters WHERE name = 'retried'");
  if (!r.ok()) return c;
  for (int i = 0; i < r->rows(); ++i) {
    const int64_t status = r->int_at(i, 0);
    const int64_t n = r->int_at(i, 1);
    switch (status) {
      case -1: c.retried = n; break;
      case 0: c.in_queue = n; c.oldest_queued_ms = r->int_at(i, 2); break;
      case 1: c.in_progress = n; break;
      case 2: c.completed = n; break;
      case 3: c.failed = n; break;
      case 4: c.cancelled = n; break;
      case 5: c.timed_out = n; break;
      default: break;
    }
  }
  return c;
}

std::map<std::string, int> PgJobStore::jobs_by_worker() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, int> out;
  Result<PgResult> r = db_.query("SELECT worker_id, COUNT(*) FROM jobs WHERE status = 1 GROUP BY worker_id");
  if (!r.ok()) return out;
  for (int i = 0; i < r->rows(); ++i) out[r->text_at(i, 0)] = static_cast<int>(r->int_at(i, 1));
  return out;
}

std::vector<PendingWebhook> PgJobStore::due_webhooks(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PendingWebhook> out;
  // Claimed for a minute (webhook_attempted records the real next time); SKIP LOCKED: replicas never wait here.
  Result<PgResult> r = db_.query("UPDATE jobs SET webhook_next_ms = $1 + 60000 FROM (SELECT id AS picked FROM jobs "
                                 "WHERE webhook_state = 1 AND status NOT IN (0, 1) AND webhook_next_ms <= $1 "
                                 "LIMIT 64 FOR UPDATE SKIP LOCKED) p WHERE id = p.picked "
                                 "RETURNING id, webhook, webhook_attempts",
                                 {pg_int(now_ms)});
  if (!r.ok()) return out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({r->text_at(i, 0), r->text_at(i, 1), static_cast<int>(r->int_at(i, 2))});
  }
  return out;
}

void PgJobStore::webhook_attempted(const std::string& job_id, bool delivered, bool give_up, int64_t next_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  (void)db_.query("UPDATE jobs SET webhook_attempts = webhook_attempts + 1, webhook_state = $2, webhook_next_ms = $3 "
                  "WHERE id = $1",
                  {job_id, (delivered || give_up) ? "0" : "1", pg_int(next_ms)});
}

}  // namespace podserve::endpoint
