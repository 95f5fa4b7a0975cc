// What both stores share: status names, and the choice of store from --db.
#include "endpoint/job_store.h"

#include "endpoint/pg_job_store.h"
#include "endpoint/sqlite_job_store.h"

namespace podserve::endpoint {

const char* job_status_name(JobStatus status) {
  switch (status) {
    case JobStatus::kInQueue: return "IN_QUEUE";
    case JobStatus::kInProgress: return "IN_PROGRESS";
    case JobStatus::kCompleted: return "COMPLETED";
    case JobStatus::kFailed: return "FAILED";
    case JobStatus::kCancelled: return "CANCELLED";
    case JobStatus::kTimedOut: return "TIMED_OUT";
  }
  return "UNKNOWN";
}

bool is_terminal(JobStatus status) { return status != JobStatus::kInQueue && status != JobStatus::kInProgress; }

bool is_postgres_url(const std::string& db) {
  return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
}

std::string redacted_db(const std::string& db) {
  if (!is_postgres_url(db)) return db;
  // scheme://user:password@host... → scheme://user:***@host...
  const size_t start = db.find("://") + 3;
  const size_t at = db.find('@', start);
  const size_t colon = db.find(':', start);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return db;
  return db.substr(0, colon + 1) + "***" + db.substr(at);
}

Result<std::unique_ptr<JobStore>> JobStore::open(const std::string& db) {
  if (is_postgres_url(db)) return PgJobStore::open(db);
  return SqliteJobStore::open(db);
}

}  // namespace podserve::endpoint
