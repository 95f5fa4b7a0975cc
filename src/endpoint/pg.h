// Move-only RAII over libpq (Debian's libpq-dev): one connection, statements with text parameters, results read
// as text. No ORM: the SQL is in pg_job_store.cpp. A lost connection is reset on the next call, at most once per
// back-off interval (doubling up to 5 s), and every failure is a Status that names PostgreSQL and the cause.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"

struct pg_conn;
struct pg_result;

namespace podserve::endpoint {

/// A statement parameter as text; nullopt is SQL NULL.
using PgParam = std::optional<std::string>;
inline PgParam pg_int(int64_t v) { return std::to_string(v); }

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* r) : r_(r) {}
  ~PgResult();
  PgResult(PgResult&& other) noexcept : r_(other.r_) { other.r_ = nullptr; }
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const;
  /// Rows changed by an INSERT/UPDATE/DELETE.
  int64_t affected() const;
  std::string text_at(int row, int column) const;
  int64_t int_at(int row, int column) const;
  bool is_null(int row, int column) const;

 private:
  pg_result* r_ = nullptr;
};

class PgConn {
 public:
  /// Connects to a postgresql:// (or postgres://) URL; the error names the cause (password redacted).
  static Result<PgConn> connect(const std::string& url);
  PgConn() = default;
  ~PgConn();
  PgConn(PgConn&& other) noexcept;
  PgConn& operator=(PgConn&& other) noexcept;
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  /// One statement with $1.. parameters (extended protocol: one statement only).
  Result<PgResult> query(std::string_view sql, const std::vector<PgParam>& params = {});
  /// One or more statements without parameters (schema, BEGIN/COMMIT).
  Status exec(std::string_view sql);

 private:
  explicit PgConn(pg_conn* c, std::string url) : c_(c), url_(std::move(url)) {}
  /// Resets a connection that libpq marked bad, with back-off; unavailable() while it stays down.
  Status ensure_connected();
  Status failure(pg_result* r, std::string_view sql);

  pg_conn* c_ = nullptr;
  std::string url_;
  int64_t next_reset_ms_ = 0;
  int64_t backoff_ms_ = 100;
};

/// LISTEN on one channel on a connection of its own, in a thread of its own: each notification (and each
/// reconnection, when notifications may have been missed) increments *counter. A thread, not the HTTP event loop:
/// libpq's reconnect blocks. Stops (within 200 ms) when destroyed.
class PgListener {
 public:
  PgListener(std::string url, std::string channel, std::atomic<uint64_t>* counter);
  ~PgListener();
  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

 private:
  void run();

  std::string url_, channel_;
  std::atomic<uint64_t>* counter_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace podserve::endpoint
