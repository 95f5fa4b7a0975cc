// HttpClient: a small blocking HTTP/HTTPS client on libcurl, for talking to other services (the RunPod job
// server, the Hugging Face Hub, webhooks). Transport failures come back as a Status naming the URL; HTTP error
// statuses are not failures here, the caller decides what a 404 or a 429 means.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace podserve::net {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";  // GET, POST, HEAD, PUT, DELETE
  std::string url;
  HeaderList headers;          // sent as given; secrets in here are never logged by this class
  std::string body;            // sent for POST/PUT (also when empty)
  double timeout_s = 60;       // whole transfer; 0 = none
  double connect_timeout_s = 10;
  double stall_timeout_s = 0;  // abort when no byte arrives for this long (long downloads); 0 = off
  bool follow_redirects = false;
  // Streams the body: called with each chunk as it arrives instead of filling HttpResponse::body. Returning
  // false aborts the transfer (the call then fails with kCancelled).
  std::function<bool(std::string_view chunk)> on_body;
  // Called once the final response's status and headers are known, before any body chunk (e.g. to pick the
  // file a download appends to). Returning false aborts as above.
  std::function<bool(long status, const HeaderList& headers)> on_headers;
  // Polled (about once a second) while no answer has started to arrive, e.g. during a long poll. Returning
  // false aborts as above: how a caller stops a long poll it no longer needs (shutdown). Once the server has
  // begun to answer, the answer is read whole, so nothing it handed out (a job) is dropped half-way.
  std::function<bool()> keep_going;
};

struct HttpResponse {
  long status = 0;
  HeaderList headers;         // of the last response (after redirects); names lower-cased
  std::string body;           // empty when HttpRequest::on_body was set
  std::string effective_url;  // the URL that answered, after redirects
  std::optional<std::string> header(std::string_view name) const;  // case-insensitive, first match
};

/// Owns one curl handle, so consecutive requests to the same host reuse the connection (keep-alive).
/// Move-only; not thread-safe: use one client per thread.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(HttpClient&& other) noexcept;
  HttpClient& operator=(HttpClient&& other) noexcept;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Performs the request. Fails (kUnavailable) on DNS/connect/TLS/timeout errors, (kCancelled) when a
  /// callback aborted; any HTTP status, 5xx included, is a successful result for the caller to inspect.
  Result<HttpResponse> send(const HttpRequest& request);

 private:
  void* handle_ = nullptr;  // CURL*, kept opaque so curl.h stays out of every includer
};

/// URL without its query string and credentials, for log lines and error messages.
std::string redact_url(std::string_view url);

}  // namespace podserve::net
