#include "endpoint/pg.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <utility>

#include "endpoint/job_store.h"

namespace podserve::endpoint {
namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

PgResult::~PgResult() {
  if (r_) PQclear(r_);
}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (r_) PQclear(r_);
    r_ = std::exchange(other.r_, nullptr);
  }
  return *this;
}

int PgResult::rows() const { return PQntuples(r_); }

int64_t PgResult::affected() const { return std::strtoll(PQcmdTuples(r_), nullptr, 10); }

std::string PgResult::text_at(int row, int column) const {
  return std::string(PQgetvalue(r_, row, column), static_cast<size_t>(PQgetlength(r_, row, column)));
}

int64_t PgResult::int_at(int row, int column) const { return std::strtoll(PQgetvalue(r_, row, column), nullptr, 10); }

bool PgResult::is_null(int row, int column) const { return PQgetisnull(r_, row, column) != 0; }

Result<PgConn> PgConn::connect(const std::string& url) {
  pg_conn* c = PQconnectdb(url.c_str());
  if (!c) return unavailable("PostgreSQL: out of memory connecting to " + redacted_db(url));
  if (PQstatus(c) != CONNECTION_OK) {
    std::string message = trimmed(PQerrorMessage(c));
    PQfinish(c);
    return unavailable("Cannot connect to the job database " + redacted_db(url) + ": " + message);
  }
  return PgConn(c, url);
}

PgConn::~PgConn() {
  if (c_) PQfinish(c_);
}

PgConn::PgConn(PgConn&& other) noexcept
    : c_(std::exchange(other.c_, nullptr)), url_(std::move(other.url_)), next_reset_ms_(other.next_reset_ms_),
      backoff_ms_(other.backoff_ms_) {}

PgConn& PgConn::operator=(PgConn&& other) noexcept {
  if (this != &other) {
    if (c_) PQfinish(c_);
    c_ = std::exchange(other.c_, nullptr);
    url_ = std::move(other.url_);
    next_reset_ms_ = other.next_reset_ms_;
    backoff_ms_ = other.backoff_ms_;
  }
  return *this;
}

Status PgConn::ensure_connected() {
  if (PQstatus(c_) == CONNECTION_OK) return ok_status();
  const int64_t now = steady_ms();
  if (now >= next_reset_ms_) {
    PQreset(c_);
    if (PQstatus(c_) == CONNECTION_OK) {
      backoff_ms_ = 100;
      return ok_status();
    }
    next_reset_ms_ = now + backoff_ms_;
    backoff_ms_ = std::min<int64_t>(backoff_ms_ * 2, 5000);
  }
  return unavailable("the job database " + redacted_db(url_) +
                     " is unreachable (reconnecting): " + trimmed(PQerrorMessage(c_)));
}

Status PgConn::failure(pg_result* r, std::string_view sql) {
  std::string message = trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(c_));
  if (r) PQclear(r);
  if (PQstatus(c_) != CONNECTION_OK) return unavailable("the job database connection was lost: " + message);
  return internal_error("PostgreSQL: " + message + " in: " + std::string(sql));
}

Result<PgResult> PgConn::query(std::string_view sql, const std::vector<PgParam>& params) {
  PODSERVE_RETURN_IF_ERROR(ensure_connected());
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& p : params) values.push_back(p ? p->c_str() : nullptr);
  const std::string text(sql);
  pg_result* r = PQexecParams(c_, text.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                              nullptr, 0);
  const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return failure(r, sql);
  return PgResult(r);
}

Status PgConn::exec(std::string_view sql) {
  PODSERVE_RETURN_IF_ERROR(ensure_connected());
  const std::string text(sql);
  pg_result* r = PQexec(c_, text.c_str());
  const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return failure(r, sql);
  PQclear(r);
  return ok_status();
}

PgListener::PgListener(std::string url, std::string channel, std::atomic<uint64_t>* counter)
    : url_(std::move(url)), channel_(std::move(channel)), counter_(counter), thread_([this] { run(); }) {}

PgListener::~PgListener() {
  stop_.store(true);
  thread_.join();
}

void PgListener::run() {
  pg_conn* c = nullptr;
  int64_t backoff_ms = 100;
  while (!stop_.load()) {
    if (!c || PQstatus(c) != CONNECTION_OK) {
      if (c) PQfinish(c);
      c = PQconnectdb(url_.c_str());
      pg_result* r = c && PQstatus(c) == CONNECTION_OK ? PQexec(c, ("LISTEN " + channel_).c_str()) : nullptr;
      const bool listening = r && PQresultStatus(r) == PGRES_COMMAND_OK;
      if (r) PQclear(r);
      counter_->fetch_add(1, std::memory_order_release);  // anything may have changed while not listening
      if (!listening) {
        if (c) PQfinish(c);
        c = nullptr;
        for (int64_t slept = 0; slept < backoff_ms && !stop_.load(); slept += 50) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        backoff_ms = std::min<int64_t>(backoff_ms * 2, 5000);
        continue;
      }
      backoff_ms = 100;
    }
    pollfd fd{PQsocket(c), POLLIN, 0};
    if (::poll(&fd, 1, 200) <= 0) continue;
    if (!PQconsumeInput(c)) continue;  // the connection broke: PQstatus says so, and the loop reconnects
    bool heard = false;
    while (PGnotify* n = PQnotifies(c)) {
      heard = true;
      PQfreemem(n);
    }
    if (heard) counter_->fetch_add(1, std::memory_order_release);
  }
  if (c) PQfinish(c);
}

}  // namespace podserve::endpoint
