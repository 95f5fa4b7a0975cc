// Status and Result<T>: errors as values at every module boundary (no exceptions cross layers).
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "base/check.h"

namespace podserve {

/// What kind of failure a Status carries. The HTTP layer maps these to status codes in one place.
enum class StatusCode {
  kOk,
  kInvalidArgument,    // bad request field or config value (HTTP 400)
  kNotFound,           // unknown model, route or file (HTTP 404)
  kOutOfRange,         // prompt longer than the context, value past a limit (HTTP 400)
  kDataLoss,           // corrupt or truncated file
  kUnimplemented,      // a feature we do not support yet (HTTP 400/501)
  kResourceExhausted,  // queue or memory full (HTTP 429/503)
  kUnauthenticated,    // bad API key (HTTP 401)
  kUnavailable,        // engine not ready or shutting down (HTTP 503)
  kCancelled,          // request aborted by the client
  kInternal,           // a bug on our side (HTTP 500)
};

const char* status_code_name(StatusCode code);

/// An error code plus a human-readable message. Cheap to return when ok.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  /// "InvalidArgument: message", for logs.
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status ok_status() { return {}; }
inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status out_of_range(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status resource_exhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

/// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    PODSERVE_CHECK(!std::get<Status>(data_).ok()) << "Result constructed from an ok Status";
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }
  T& value() & {
    PODSERVE_CHECK(ok()) << status().to_string();
    return std::get<T>(data_);
  }
  const T& value() const& {
    PODSERVE_CHECK(ok()) << status().to_string();
    return std::get<T>(data_);
  }
  T&& value() && {
    PODSERVE_CHECK(ok()) << status().to_string();
    return std::get<T>(std::move(data_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace podserve

/// Returns the Status from the enclosing function if `expr` (a Status) is not ok.
#define PODSERVE_RETURN_IF_ERROR(expr)            \
  do {                                            \
    ::podserve::Status _st = (expr);              \
    if (!_st.ok()) return _st;                    \
  } while (0)

#define PODSERVE_CONCAT_INNER(a, b) a##b
#define PODSERVE_CONCAT(a, b) PODSERVE_CONCAT_INNER(a, b)

/// `PODSERVE_ASSIGN_OR_RETURN(auto x, f());` unwraps a Result or returns its Status.
#define PODSERVE_ASSIGN_OR_RETURN(lhs, expr) \
  PODSERVE_ASSIGN_OR_RETURN_IMPL(PODSERVE_CONCAT(_res_, __COUNTER__), lhs, expr)
#define PODSERVE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()
