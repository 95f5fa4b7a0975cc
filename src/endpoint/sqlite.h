// A thin move-only RAII layer over the SQLite C API: a connection and prepared statements with typed binds and
// column reads. Errors come back as Status naming the SQL and SQLite's message.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace podserve::endpoint {

class SqliteStmt {
 public:
  SqliteStmt() = default;
  explicit SqliteStmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~SqliteStmt();
  SqliteStmt(SqliteStmt&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  SqliteStmt& operator=(SqliteStmt&& other) noexcept;
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;

  /// Binds are 1-based, as in SQLite.
  SqliteStmt& bind(int index, int64_t value);
  SqliteStmt& bind(int index, std::string_view text);
  SqliteStmt& bind_null(int index);
  /// One step: true when a row is ready, false when done. Errors are returned as Status.
  Result<bool> step();
  /// Runs to completion (for statements without rows).
  Status run();

  int64_t int_at(int column) const;
  std::string text_at(int column) const;
  bool is_null(int column) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteDb {
 public:
  /// Opens (creates) the file. ":memory:" is an in-memory database (tests).
  static Result<SqliteDb> open(const std::string& path);
  SqliteDb() = default;
  ~SqliteDb();
  SqliteDb(SqliteDb&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  SqliteDb& operator=(SqliteDb&& other) noexcept;
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  /// Runs one or more statements without results (schema, pragmas, BEGIN/COMMIT).
  Status exec(std::string_view sql);
  Result<SqliteStmt> prepare(std::string_view sql);
  /// Rows changed by the last INSERT/UPDATE/DELETE.
  int changes() const;
  /// Every row inserted, updated or deleted from now on increments *counter (sqlite3_update_hook).
  void count_row_changes(std::atomic<uint64_t>* counter);

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

}  // namespace podserve::endpoint
