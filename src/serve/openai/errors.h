// OpenAI/vLLM error responses: `{"error":{"message","type","param","code"}}`, and the one mapping from Status
// codes to HTTP status codes.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "base/status.h"
#include "serve/http/http_types.h"

namespace podserve::openai {

/// A request failure as the client sees it: a Status plus the request field it is about ("" = null).
struct ApiError {
  Status status;
  std::string param;
};

inline ApiError api_error(StatusCode code, std::string message, std::string param = {}) {
  return {Status(code, std::move(message)), std::move(param)};
}
inline ApiError bad_request(std::string message, std::string param = {}) {
  return api_error(StatusCode::kInvalidArgument, std::move(message), std::move(param));
}
/// vLLM's VLLMValidationError (a 400): the message, then " (parameter=...)".
inline ApiError validation_error(const std::string& message, const std::string& param) {
  return bad_request(message + " (parameter=" + param + ")", param);
}

/// A value or an ApiError (Result<T> with a param).
template <typename T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T value) : data_(std::move(value)) {}         // NOLINT: implicit by design
  ApiResult(ApiError error) : data_(std::move(error)) {}  // NOLINT: implicit by design
  bool ok() const { return std::holds_alternative<T>(data_); }
  T& value() & { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  const ApiError& error() const { return std::get<ApiError>(data_); }

 private:
  std::variant<T, ApiError> data_;
};

/// The HTTP status for a failure with this code: InvalidArgument/OutOfRange/Unimplemented 400, NotFound 404,
/// Unauthenticated 401, ResourceExhausted 429, Unavailable/Cancelled 503, DataLoss/Internal 500.
int http_status_for(StatusCode code);

/// vLLM's `type` for an HTTP status: "BadRequestError", "NotFoundError", "InternalServerError", ...
std::string_view error_type_for(int http_status);

/// `{"error":{"message":..,"type":..,"param":..,"code":<http status>}}`; empty param becomes null.
std::string error_json(int http_status, std::string_view message, std::string_view param);
/// The same, for an ApiError (status from http_status_for).
std::string error_json(const ApiError& error);

/// A complete error response for an ApiError.
http::HttpResponse error_response(const ApiError& error);
/// An error response with an explicit HTTP status (404/405/413 from the HTTP layer).
http::HttpResponse error_response(int http_status, std::string_view message, std::string_view param = {});
/// vLLM's 401 body for a missing or wrong API key: `{"error":"Unauthorized"}` (not the OpenAI shape).
http::HttpResponse unauthorized_response();

}  // namespace podserve::openai
