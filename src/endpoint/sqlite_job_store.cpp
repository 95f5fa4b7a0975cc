#include "endpoint/sqlite_job_store.h"

#include <utility>

namespace podserve::endpoint {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs(
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  status INTEGER NOT NULL,
  input TEXT NOT NULL,
  webhook TEXT NOT NULL DEFAULT '',
  execution_timeout_ms INTEGER NOT NULL,
  ttl_ms INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  queued_ms INTEGER NOT NULL,
  started_ms INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER NOT NULL DEFAULT 0,
  worker_id TEXT NOT NULL DEFAULT '',
  lease_expires_ms INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  output TEXT,
  error TEXT,
  stream_cursor INTEGER NOT NULL DEFAULT 0,
  stream_count INTEGER NOT NULL DEFAULT 0,
  sync INTEGER NOT NULL DEFAULT 0,
  webhook_state INTEGER NOT NULL DEFAULT 0,
  webhook_attempts INTEGER NOT NULL DEFAULT 0,
  webhook_next_ms INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status, seq);
CREATE TABLE IF NOT EXISTS stream_items(job_id TEXT NOT NULL, seq INTEGER NOT NULL, output TEXT NOT NULL,
  PRIMARY KEY(job_id, seq));
CREATE TABLE IF NOT EXISTS stop_signals(worker_id TEXT NOT NULL, job_id TEXT NOT NULL,
  PRIMARY KEY(worker_id, job_id));
CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

// webhook_state: 0 = none or finished, 1 = due once the job is terminal.
constexpr const char* kSqliteJobColumns =
    "id, status, input, webhook, execution_timeout_ms, ttl_ms, created_ms, started_ms, finished_ms, worker_id, "
    "attempts, output, error, sync";

Job read_job(const SqliteStmt& s) {
  Job j;
  j.id = s.text_at(0);
  j.status = static_cast<JobStatus>(s.int_at(1));
  j.input_json = s.text_at(2);
  j.webhook = s.text_at(3);
  j.execution_timeout_ms = s.int_at(4);
  j.ttl_ms = s.int_at(5);
  j.created_ms = s.int_at(6);
  j.started_ms = s.int_at(7);
  j.finished_ms = s.int_at(8);
  j.worker_id = s.text_at(9);
  j.attempts = s.int_at(10);
  if (!s.is_null(11)) j.output_json = s.text_at(11);
  if (!s.is_null(12)) j.error = s.text_at(12);
  j.sync = s.int_at(13) != 0;
  return j;
}

/// BEGIN IMMEDIATE … COMMIT, rolled back unless commit() succeeded.
class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteDb& db) : db_(db) { begun_ = db_.exec("BEGIN IMMEDIATE").ok(); }
  ~SqliteTransaction() {
    if (begun_ && !done_) (void)db_.exec("ROLLBACK");
  }
  bool begun() const { return begun_; }
  Status commit() {
    done_ = true;
    return db_.exec("COMMIT");
  }

 private:
  SqliteDb& db_;
  bool begun_ = false;
  bool done_ = false;
};

}  // namespace

Result<std::unique_ptr<JobStore>> SqliteJobStore::open(const std::string& path) {
  PODSERVE_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::open(path));
  // WAL: readers never block the writer; FULL: a commit is on disk before /run answers.
  PODSERVE_RETURN_IF_ERROR(db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
  PODSERVE_RETURN_IF_ERROR(db.exec(kSchema));
  return std::unique_ptr<JobStore>(new SqliteJobStore(std::move(db)));
}

Status SqliteJobStore::bump_counter(const char* name, int64_t by) {
  PODSERVE_ASSIGN_OR_RETURN(auto s, db_.prepare("INSERT INTO counters(name, value) VALUES(?1, ?2) "
                                                "ON CONFLICT(name) DO UPDATE SET value = value + ?2"));
  return s.bind(1, name).bind(2, by).run();
}

Status SqliteJobStore::submit(const NewJob& job, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  PODSERVE_ASSIGN_OR_RETURN(
      auto s, db_.prepare("INSERT INTO jobs(id, seq, status, input, webhook, execution_timeout_ms, ttl_ms, "
                          "created_ms, queued_ms, sync, webhook_state) VALUES(?1, "
                          "(SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9)"));
  s.bind(1, job.id).bind(2, kQueued).bind(3, job.input_json).bind(4, job.webhook);
  s.bind(5, job.execution_timeout_ms).bind(6, job.ttl_ms).bind(7, now_ms).bind(8, job.sync ? 1 : 0);
  s.bind(9, job.webhook.empty() ? 0 : 1);
  return s.run();
}

Result<Job> SqliteJobStore::load(const std::string& id) {
  PODSERVE_ASSIGN_OR_RETURN(auto s, db_.prepare(std::string("SELECT ") + kSqliteJobColumns + " FROM jobs WHERE id = ?1"));
  s.bind(1, id);
  PODSERVE_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return not_found("job " + id + " not found");
  return read_job(s);
}

std::optional<Job> SqliteJobStore::get(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<Job> j = load(id);
  if (!j.ok()) return std::nullopt;
  return std::move(j).value();
}

Result<std::vector<Job>> SqliteJobStore::take(const std::string& worker_id, int max_jobs, int64_t now_ms,
                                        int64_t lease_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  SqliteTransaction tx(db_);
  if (!tx.begun()) return unavailable("job database busy");
  PODSERVE_ASSIGN_OR_RETURN(auto pick, db_.prepare("SELECT id FROM jobs WHERE status = ?1 ORDER BY seq LIMIT ?2"));
  pick.bind(1, kQueued).bind(2, max_jobs);
  std::vector<std::string> ids;
  for (;;) {
    PODSERVE_ASSIGN_OR_RETURN(bool row, pick.step());
    if (!row) break;
    ids.push_back(pick.text_at(0));
  }
  std::vector<Job> jobs;
  for (const std::string& id : ids) {
    PODSERVE_ASSIGN_OR_RETURN(
        auto up, db_.prepare("UPDATE jobs SET status = ?2, worker_id = ?3, started_ms = ?4, lease_expires_ms = ?5, "
                             "attempts = attempts + 1, stream_count = 0 WHERE id = ?1 AND status = ?6"));
    up.bind(1, id).bind(2, kRunning).bind(3, worker_id).bind(4, now_ms).bind(5, now_ms + lease_ms).bind(6, kQueued);
    PODSERVE_RETURN_IF_ERROR(up.run());
    PODSERVE_ASSIGN_OR_RETURN(Job j, load(id));
    jobs.push_back(std::move(j));
  }
  PODSERVE_RETURN_IF_ERROR(tx.commit());
  return jobs;
}

Status SqliteJobStore::renew(const std::string& worker_id, const std::vector<std::string>& job_ids, int64_t now_ms,
                       int64_t lease_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& id : job_ids) {
    PODSERVE_ASSIGN_OR_RETURN(auto s, db_.prepare("UPDATE jobs SET lease_expires_ms = ?3 WHERE id = ?1 AND "
                                                  "worker_id = ?2 AND status = ?4"));
    PODSERVE_RETURN_IF_ERROR(s.bind(1, id).bind(2, worker_id).bind(3, now_ms + lease_ms).bind(4, kRunning).run());
    if (db_.changes() == 1) continue;
    // The worker still holds a job it was told to stop (cancelled or timed out): tell it again. A stop signal that
    // reaches the worker before it has started the job is dropped (runpod-python cancels only started tasks).
    PODSERVE_ASSIGN_OR_RETURN(auto stop, db_.prepare("INSERT OR IGNORE INTO stop_signals SELECT worker_id, id FROM "
                                                     "jobs WHERE id = ?1 AND worker_id = ?2 AND status IN (?3, ?4)"));
    PODSERVE_RETURN_IF_ERROR(stop.bind(1, id).bind(2, worker_id).bind(3, static_cast<int>(JobStatus::kCancelled))
                                 .bind(4, static_cast<int>(JobStatus::kTimedOut)).run());
  }
  return ok_status();
}

Status SqliteJobStore::add_stream_item(const std::string& job_id, const std::string& worker_id,
                                 const std::string& output_json, int64_t now_ms, int64_t lease_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  SqliteTransaction tx(db_);
  if (!tx.begun()) return unavailable("job database busy");
  PODSERVE_ASSIGN_OR_RETURN(auto up, db_.prepare("UPDATE jobs SET stream_count = stream_count + 1, "
                                                 "lease_expires_ms = MAX(lease_expires_ms, ?3) WHERE id = ?1 AND "
                                                 "worker_id = ?2 AND status = ?4"));
  PODSERVE_RETURN_IF_ERROR(up.bind(1, job_id).bind(2, worker_id).bind(3, now_ms + lease_ms).bind(4, kRunning).run());
  if (db_.changes() != 1) return invalid_argument("job " + job_id + " is not in progress on worker " + worker_id);
  PODSERVE_ASSIGN_OR_RETURN(auto ins, db_.prepare("INSERT INTO stream_items(job_id, seq, output) VALUES(?1, "
                                                  "(SELECT stream_count FROM jobs WHERE id = ?1), ?2)"));
  PODSERVE_RETURN_IF_ERROR(ins.bind(1, job_id).bind(2, output_json).run());
  return tx.commit();
}

Status SqliteJobStore::finish(const std::string& job_id, const std::string& worker_id, const WorkerResult& result,
                        int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (result.progress) {
    PODSERVE_ASSIGN_OR_RETURN(auto s, db_.prepare("UPDATE jobs SET output = ?3 WHERE id = ?1 AND worker_id = ?2 "
                                                  "AND status = ?4"));
    s.bind(1, job_id).bind(2, worker_id).bind(4, kRunning);
    if (result.output_json) s.bind(3, *result.output_json); else s.bind_null(3);
    PODSERVE_RETURN_IF_ERROR(s.run());
  } else {
    const JobStatus end = result.error ? JobStatus::kFailed : JobStatus::kCompleted;
    PODSERVE_ASSIGN_OR_RETURN(auto s, db_.prepare("UPDATE jobs SET status = ?3, output = ?4, error = ?5, "
                                                  "finished_ms = ?6 WHERE id = ?1 AND worker_id = ?2 AND "
                                                  "status = ?7"));
    s.bind(1, job_id).bind(2, worker_id).bind(3, static_cast<int>(end)).bind(6, now_ms).bind(7, kRunning);
    if (result.output_json) s.bind(4, *result.output_json); else s.bind_null(4);
    if (result.error) s.bind(5, *result.error); else s.bind_null(5);
    PODSERVE_RETURN_IF_ERROR(s.run());
  }
  if (db_.changes() == 1) return ok_status();
  // Tell apart an unknown job from a stale lease, for the log and the status code.
  Result<Job> j = load(job_id);
  if (!j.ok()) return not_found("job " + job_id + " not found");
  return invalid_argument("job " + job_id + " is " + job_status_name(j->status) +
                          (j->worker_id.empty() ? "" : " on worker " + j->worker_id) + ": result from worker " +
                          worker_id + " refused");
}

Result<StreamPoll> SqliteJobStore::poll_stream(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  SqliteTransaction tx(db_);
  if (!tx.begun()) return unavailable("job database busy");
  StreamPoll poll;
  PODSERVE_ASSIGN_OR_RETURN(poll.job, load(id));
  PODSERVE_ASSIGN_OR_RETURN(auto cur, db_.prepare("SELECT stream_cursor, stream_count FROM jobs WHERE id = ?1"));
  cur.bind(1, id);
  PODSERVE_ASSIGN_OR_RETURN(bool row, cur.step());
  if (!row) return not_found("job " + id + " not found");
  const int64_t cursor = cur.int_at(0);
  const int64_t count = cur.int_at(1);
  PODSERVE_ASSIGN_OR_RETURN(auto items, db_.prepare("SELECT seq, output FROM stream_items WHERE job_id = ?1 AND "
                                                    "seq > ?2 ORDER BY seq"));
  items.bind(1, id).bind(2, cursor);
  int64_t last = cursor;
  for (;;) {
    PODSERVE_ASSIGN_OR_RETURN(bool more, items.step());
    if (!more) break;
    last = items.int_at(0);
    poll.items.push_back(items.text_at(1));
  }
  // A job that streamed nothing (a plain handler) delivers its whole output as the one stream item.
  if (count == 0 && cursor == 0 && poll.job.status == JobStatus::kCompleted && poll.job.output_json) {
    poll.items.push_back(*poll.job.output_json);
    last = 1;
  }
  if (last != cursor) {
    PODSERVE_ASSIGN_OR_RETURN(auto up, db_.prepare("UPDATE jobs SET stream_cursor = ?2 WHERE id = ?1"));
    PODSERVE_RETURN_IF_ERROR(up.bind(1, id).bind(2, last).run());
  }
  PODSERVE_RETURN_IF_ERROR(tx.commit());
  return poll;
}

Result<Job> SqliteJobStore::cancel(const std::string& id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  SqliteTransaction tx(db_);
  if (!tx.begun()) return unavailable("job database busy");
  PODSERVE_ASSIGN_OR_RETURN(Job j, load(id));
  if (is_terminal(j.status)) return j;
  PODSERVE_ASSIGN_OR_RETURN(auto up, db_.prepare("UPDATE jobs SET status = ?2, finished_ms = ?3 WHERE id = ?1"));
  PODSERVE_RETURN_IF_ERROR(up.bind(1, id).bind(2, static_cast<int>(JobStatus::kCancelled)).bind(3, now_ms).run());
  if (j.status == JobStatus::kInProgress) {
    PODSERVE_ASSIGN_OR_RETURN(auto stop, db_.prepare("INSERT OR IGNORE INTO stop_signals VALUES(?1, ?2)"));
    PODSERVE_RETURN_IF_ERROR(stop.bind(1, j.worker_id).bind(2, id).run());
  }
  PODSERVE_RETURN_IF_ERROR(tx.commit());
  j.status = JobStatus::kCancelled;
  j.finished_ms = now_ms;
  return j;
}

Result<Job> SqliteJobStore::retry(const std::string& id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  SqliteTransaction tx(db_);
  if (!tx.begun()) return unavailable("job database busy");
  PODSERVE_ASSIGN_OR_RETURN(Job j, load(id));
  if (j.status != JobStatus::kFailed && j.status != JobStatus::kTimedOut) {
    return invalid_argument(std::string("only FAILED or TIMED_OUT jobs can be retried; job ") + id + " is " +
                            job_status_name(j.status));
  }
  PODSERVE_ASSIGN_OR_RETURN(
      auto up, db_.prepare("UPDATE jobs SET status = ?2, seq = (SELECT MAX(seq) + 1 FROM jobs), queued_ms = ?3, "
                           "created_ms = ?3, started_ms = 0, finished_ms = 0, worker_id = '', output = NULL, "
                           "error = NULL, stream_cursor = 0, stream_count = 0, "
                           "webhook_state = CASE WHEN webhook = '' THEN 0 ELSE 1 END, webhook_attempts = 0 "
                           "WHERE id = ?1"));
  PODSERVE_RETURN_IF_ERROR(up.bind(1, id).bind(2, kQueued).bind(3, now_ms).run());
  PODSERVE_ASSIGN_OR_RETURN(auto del, db_.prepare("DELETE FROM stream_items WHERE job_id = ?1"));
  PODSERVE_RETURN_IF_ERROR(del.bind(1, id).run());
  PODSERVE_RETURN_IF_ERROR(bump_counter("retried", 1));
  PODSERVE_RETURN_IF_ERROR(tx.commit());
  return load(id);
}

Result<int> SqliteJobStore::purge_queue() {
  std::lock_guard<std::mutex> lock(mu_);
  PODSERVE_ASSIGN_OR_RETURN(auto s, db_.prepare("DELETE FROM jobs WHERE status = ?1"));
  PODSERVE_RETURN_IF_ERROR(s.bind(1, kQueued).run());
  return db_.changes();
}

Result<std::vector<std::string>> SqliteJobStore::take_stop_signals(const std::string& worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  PODSERVE_ASSIGN_OR_RETURN(auto s, db_.prepare("DELETE FROM stop_signals WHERE worker_id = ?1 RETURNING job_id"));
  s.bind(1, worker_id);
  std::vector<std::string> ids;
  for (;;) {
    PODSERVE_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    ids.push_back(s.text_at(0));
  }
  return ids;
}

Status SqliteJobStore::requeue_where(const std::string& condition, int64_t bind_value, const std::string& bind_text,
                               int* count) {
  // Unused parameters of `condition` stay unbound (SQLite ignores binds past the last one).
  // Back to the queue at its old position (seq unchanged); the new attempt streams from item 1 again, while the
  // client's cursor stays, so items it already has are not sent twice.
  PODSERVE_ASSIGN_OR_RETURN(auto ids, db_.prepare("SELECT id FROM jobs WHERE status = ?1 AND " + condition));
  ids.bind(1, kRunning).bind(2, bind_value).bind(3, bind_text);
  std::vector<std::string> list;
  for (;;) {
    PODSERVE_ASSIGN_OR_RETURN(bool row, ids.step());
    if (!row) break;
    list.push_back(ids.text_at(0));
  }
  for (const std::string& id : list) {
    PODSERVE_ASSIGN_OR_RETURN(auto up, db_.prepare("UPDATE jobs SET status = ?2, worker_id = '', started_ms = 0, "
                                                   "output = NULL, stream_count = 0 WHERE id = ?1"));
    PODSERVE_RETURN_IF_ERROR(up.bind(1, id).bind(2, kQueued).run());
    PODSERVE_ASSIGN_OR_RETURN(auto del, db_.prepare("DELETE FROM stream_items WHERE job_id = ?1"));
    PODSERVE_RETURN_IF_ERROR(del.bind(1, id).run());
  }
  if (!list.empty()) PODSERVE_RETURN_IF_ERROR(bump_counter("retried", static_cast<int64_t>(list.size())));
  *count += static_cast<int>(list.size());
  return ok_status();
}

Result<int> SqliteJobStore::sweep(int64_t now_ms, int64_t retention_ms, int64_t sync_retention_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  SqliteTransaction tx(db_);
  if (!tx.begun()) return unavailable("job database busy");
  int changed = 0;
  PODSERVE_RETURN_IF_ERROR(requeue_where("lease_expires_ms < ?2", now_ms, "", &changed));
  // Running past executionTimeout, or anything unfinished past its ttl: TIMED_OUT, and the worker is told to stop.
  PODSERVE_ASSIGN_OR_RETURN(
      auto late, db_.prepare("SELECT id, status, worker_id FROM jobs WHERE (status = ?1 AND started_ms + "
                             "execution_timeout_ms < ?3) OR (status IN (?1, ?2) AND created_ms + ttl_ms < ?3)"));
  late.bind(1, kRunning).bind(2, kQueued).bind(3, now_ms);
  std::vector<std::pair<std::string, std::string>> stops;
  std::vector<std::string> ids;
  for (;;) {
    PODSERVE_ASSIGN_OR_RETURN(bool row, late.step());
    if (!row) break;
    ids.push_back(late.text_at(0));
    if (late.int_at(1) == kRunning) stops.emplace_back(late.text_at(2), late.text_at(0));
  }
  for (const std::string& id : ids) {
    PODSERVE_ASSIGN_OR_RETURN(auto up, db_.prepare("UPDATE jobs SET status = ?2, finished_ms = ?3, error = ?4 "
                                                   "WHERE id = ?1"));
    PODSERVE_RETURN_IF_ERROR(up.bind(1, id).bind(2, static_cast<int>(JobStatus::kTimedOut)).bind(3, now_ms)
                                 .bind(4, "job timed out (executionTimeout or ttl of its policy)").run());
  }
  for (const auto& [worker, id] : stops) {
    PODSERVE_ASSIGN_OR_RETURN(auto stop, db_.prepare("INSERT OR IGNORE INTO stop_signals VALUES(?1, ?2)"));
    PODSERVE_RETURN_IF_ERROR(stop.bind(1, worker).bind(2, id).run());
  }
  changed += static_cast<int>(ids.size());
  // Results are kept for the retention time (and until their webhook is done), then removed (404).
  PODSERVE_ASSIGN_OR_RETURN(
      auto old, db_.prepare("DELETE FROM jobs WHERE status NOT IN (?1, ?2) AND webhook_state = 0 AND "
                            "finished_ms + CASE WHEN sync = 1 THEN ?4 ELSE ?3 END < ?5 RETURNING id"));
  old.bind(1, kRunning).bind(2, kQueued).bind(3, retention_ms).bind(4, sync_retention_ms).bind(5, now_ms);
  std::vector<std::string> removed;
  for (;;) {
    PODSERVE_ASSIGN_OR_RETURN(bool row, old.step());
    if (!row) break;
    removed.push_back(old.text_at(0));
  }
  for (const std::string& id : removed) {
    PODSERVE_ASSIGN_OR_RETURN(auto del, db_.prepare("DELETE FROM stream_items WHERE job_id = ?1"));
    PODSERVE_RETURN_IF_ERROR(del.bind(1, id).run());
  }
  PODSERVE_RETURN_IF_ERROR(tx.commit());
  return changed;
}

Result<int> SqliteJobStore::release_worker(const std::string& worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  SqliteTransaction tx(db_);
  if (!tx.begun()) return unavailable("job database busy");
  int changed = 0;
  PODSERVE_RETURN_IF_ERROR(requeue_where("worker_id = ?3", 0, worker_id, &changed));
  PODSERVE_ASSIGN_OR_RETURN(auto stop, db_.prepare("DELETE FROM stop_signals WHERE worker_id = ?1"));
  PODSERVE_RETURN_IF_ERROR(stop.bind(1, worker_id).run());
  PODSERVE_RETURN_IF_ERROR(tx.commit());
  return changed;
}

}  // namespace podserve::endpoint
