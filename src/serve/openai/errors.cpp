#include "serve/openai/errors.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "serve/openai/logprobs_json.h"

namespace podserve::openai {

int http_status_for(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kOutOfRange: return 400;
    case StatusCode::kUnimplemented: return 400;  // an unsupported request field: the client must change it
    case StatusCode::kNotFound: return 404;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kCancelled: return 503;
    case StatusCode::kDataLoss: return 500;
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

std::string_view error_type_for(int http_status) {
  switch (http_status) {
    case 400: return "BadRequestError";
    case 401: return "AuthenticationError";
    case 403: return "PermissionDeniedError";
    case 404: return "NotFoundError";
    case 405: return "MethodNotAllowedError";
    case 413: return "RequestEntityTooLargeError";
    case 422: return "UnprocessableEntityError";
    case 429: return "RateLimitError";
    case 431: return "RequestHeaderFieldsTooLargeError";
    case 501: return "NotImplementedError";
    case 503: return "ServiceUnavailableError";
    default: return http_status >= 500 ? "InternalServerError" : "BadRequestError";
  }
}

std::string error_json(int http_status, std::string_view message, std::string_view param) {
  boost::json::object inner;
  // Messages may quote the request's bytes (a 404 names the path): invalid UTF-8 would make the body invalid
  // JSON (Boost.JSON serializes strings as they are).
  inner["message"] = utf8_replace(message);
  inner["type"] = error_type_for(http_status);
  if (param.empty()) {
    inner["param"] = nullptr;
  } else {
    inner["param"] = utf8_replace(param);
  }
  inner["code"] = http_status;
  boost::json::object outer;
  outer["error"] = std::move(inner);
  return boost::json::serialize(outer);
}

std::string error_json(const ApiError& error) {
  return error_json(http_status_for(error.status.code()), error.status.message(), error.param);
}

http::HttpResponse error_response(const ApiError& error) {
  return {http_status_for(error.status.code()), "application/json", error_json(error)};
}

http::HttpResponse error_response(int http_status, std::string_view message, std::string_view param) {
  return {http_status, "application/json", error_json(http_status, message, param)};
}

http::HttpResponse unauthorized_response() { return {401, "application/json", R"({"error":"Unauthorized"})"}; }

}  // namespace podserve::openai
