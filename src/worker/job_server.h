// The worker's side of RunPod's job server protocol (§4.3 of the worker spec), request by request: job take
// (single, or batch by free slots) with `job_in_progress`, the job-stop long poll, stream and job-done posts
// with their retries, and the heartbeat. Each call uses the HttpClient it is given (one per thread).
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "net/http_client.h"
#include "worker/worker_config.h"

namespace podserve::worker {

struct Job {
  std::string id;
  boost::json::value input;
};

/// The version reported in pings (`runpod_version`): the SDK release whose protocol this follows.
inline constexpr std::string_view kProtocolVersion = "1.12.0";

class JobServer {
 public:
  explicit JobServer(const WorkerConfig& config);

  /// Takes up to `free_slots` jobs (the batch route when more than one). No job (204, 400, an empty or
  /// non-JSON answer) is an empty list; 429 is ResourceExhausted (back off); other failures are Unavailable.
  /// `keep_going` is polled during the long poll: returning false abandons it (Cancelled).
  Result<std::vector<Job>> take(net::HttpClient& client, int free_slots, bool jobs_in_progress,
                                const std::function<bool()>& keep_going) const;

  /// True when the job-take URL has a `/job-take/` segment, from which the job-stop URL is made.
  bool can_poll_stop() const { return !stop_url_.empty(); }
  /// One job-stop long poll: the ids to stop (empty on 204). 429 is ResourceExhausted.
  Result<std::vector<std::string>> poll_stop(net::HttpClient& client, const std::function<bool()>& keep_going) const;

  /// POSTs `{"output": item}` to the stream URL (`isStream=false`). Retried on 5xx and transport errors.
  Status post_stream(net::HttpClient& client, const std::string& job_id, const boost::json::value& item) const;
  /// POSTs the final body to the job-done URL with `isStream=true` (the worker is a generator handler).
  Status post_done(net::HttpClient& client, const std::string& job_id, const boost::json::value& body) const;

  /// One heartbeat with the ids of the jobs held; failures are logged, never fatal.
  void ping(net::HttpClient& client, const std::vector<std::string>& job_ids) const;
  bool can_ping() const { return !config_.ping_url.empty(); }

 private:
  net::HeaderList headers() const;
  /// GET `req.url` with the auth headers and the SDK's long-poll timeout (job-take, job-stop).
  Result<net::HttpResponse> long_poll(net::HttpClient& client, net::HttpRequest req,
                                      const std::function<bool()>& keep_going) const;
  Status post(net::HttpClient& client, const std::string& url, const std::string& job_id, std::string body) const;

  const WorkerConfig& config_;
  std::string take_url_;   // $ID filled
  std::string batch_url_;  // "" when the take URL has no /job-take/
  std::string stop_url_;
};

}  // namespace podserve::worker
