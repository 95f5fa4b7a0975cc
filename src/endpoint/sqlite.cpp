#include "endpoint/sqlite.h"

#include <sqlite3.h>

#include <utility>

namespace podserve::endpoint {

SqliteStmt::~SqliteStmt() {
  if (stmt_) sqlite3_finalize(stmt_);
}

SqliteStmt& SqliteStmt::operator=(SqliteStmt&& other) noexcept {
  if (this != &other) {
    if (stmt_) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

SqliteStmt& SqliteStmt::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

SqliteStmt& SqliteStmt::bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

SqliteStmt& SqliteStmt::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> SqliteStmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return internal_error(std::string("SQLite: ") + sqlite3_errmsg(sqlite3_db_handle(stmt_)) + " in: " +
                        sqlite3_sql(stmt_));
}

Status SqliteStmt::run() {
  for (;;) {
    Result<bool> row = step();
    if (!row.ok()) return row.status();
    if (!row.value()) return ok_status();
  }
}

int64_t SqliteStmt::int_at(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string SqliteStmt::text_at(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (!text) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

bool SqliteStmt::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

Result<SqliteDb> SqliteDb::open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (db) sqlite3_close(db);
    return unavailable("Cannot open the job database " + path + ": " + message);
  }
  sqlite3_busy_timeout(db, 5000);
  return SqliteDb(db);
}

SqliteDb::~SqliteDb() {
  if (db_) sqlite3_close(db_);
}

SqliteDb& SqliteDb::operator=(SqliteDb&& other) noexcept {
  if (this != &other) {
    if (db_) sqlite3_close(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Status SqliteDb::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    return internal_error("SQLite: " + message + " in: " + text);
  }
  return ok_status();
}

Result<SqliteStmt> SqliteDb::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK) {
    return internal_error(std::string("SQLite: ") + sqlite3_errmsg(db_) + " in: " + std::string(sql));
  }
  return SqliteStmt(stmt);
}

int SqliteDb::changes() const { return sqlite3_changes(db_); }

void SqliteDb::count_row_changes(std::atomic<uint64_t>* counter) {
  sqlite3_update_hook(
      db_,
      [](void* arg, int, const char*, const char*, sqlite3_int64) {
        static_cast<std::atomic<uint64_t>*>(arg)->fetch_add(1, std::memory_order_release);
      },
      counter);
}

}  // namespace podserve::endpoint
