#include "worker/job_server.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <thread>

#include "base/log.h"

namespace podserve::worker {
namespace {

namespace json = boost::json;

constexpr double kLongPollTimeoutS = 90;  // the SDK's client-side limit for job-take and job-stop
constexpr double kPostTimeoutS = 60;
constexpr int kPostAttempts = 3;          // the SDK's FibonacciRetry(attempts=3): waits 2 s, then 3 s
constexpr int kRetryWaitS[] = {2, 3};

std::string replace_segment(const std::string& url, std::string_view from, std::string_view to) {
  const size_t pos = url.find(from);
  if (pos == std::string::npos) return "";
  std::string out = url;
  out.replace(pos, from.size(), to);
  return out;
}

bool is_json(const net::HttpResponse& r) {
  std::optional<std::string> type = r.header("content-type");
  return type && type->find("application/json") != std::string::npos;
}

/// One job from the answer; a malformed entry is logged and skipped (the job server sent something odd).
void add_job(const json::value& v, std::vector<Job>* jobs) {
  const json::object* o = v.if_object();
  const json::value* id = o != nullptr ? o->if_contains("id") : nullptr;
  if (id == nullptr || !id->is_string() || id->get_string().empty()) {
    PODSERVE_LOG(kWarning) << "job-take answered a job without a string 'id': ignored";
    return;
  }
  // A job without `input` still gets an answer: it fails with a message saying so.
  const json::value* input = o->if_contains("input");
  jobs->push_back(Job{std::string(id->get_string()), input != nullptr ? *input : json::value(nullptr)});
}

}  // namespace

JobServer::JobServer(const WorkerConfig& config) : config_(config) {
  take_url_ = fill_url(config.get_job_url, config.worker_id, config.worker_id);
  batch_url_ = replace_segment(take_url_, "/job-take/", "/job-take-batch/");
  stop_url_ = replace_segment(take_url_, "/job-take/", "/job-stop/");
}

net::HeaderList JobServer::headers() const {
  net::HeaderList h;
  if (!config_.api_key.empty()) h.emplace_back("Authorization", config_.api_key);  // raw, no "Bearer"
  return h;
}

Result<net::HttpResponse> JobServer::long_poll(net::HttpClient& client, net::HttpRequest req,
                                               const std::function<bool()>& keep_going) const {
  req.headers = headers();
  req.timeout_s = kLongPollTimeoutS;
  req.keep_going = keep_going;
  return client.send(req);
}

Result<std::vector<Job>> JobServer::take(net::HttpClient& client, int free_slots, bool jobs_in_progress,
                                         const std::function<bool()>& keep_going) const {
  net::HttpRequest req;
  const std::string in_progress = std::string("job_in_progress=") + (jobs_in_progress ? "1" : "0");
  if (free_slots > 1 && !batch_url_.empty()) {
    req.url = append_query(append_query(batch_url_, "batch_size=" + std::to_string(free_slots)), in_progress);
  } else {
    req.url = append_query(take_url_, in_progress);
  }
  Result<net::HttpResponse> res = long_poll(client, req, keep_going);
  if (!res.ok()) return res.status();
  const net::HttpResponse& r = res.value();
  std::vector<Job> jobs;
  if (r.status == 204 || r.status == 400) return jobs;  // no job (400: expected with FlashBoot)
  if (r.status == 429) return resource_exhausted("job-take answered 429 (too many requests)");
  if (r.status >= 300) {
    return unavailable("job-take answered HTTP " + std::to_string(r.status) + " (" + net::redact_url(req.url) + ")");
  }
  if (!is_json(r) || r.body.empty()) return jobs;
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec) return unavailable("job-take answered malformed JSON: " + ec.message());
  if (v.is_array()) {
    for (const json::value& j : v.get_array()) add_job(j, &jobs);
  } else {
    add_job(v, &jobs);
  }
  return jobs;
}

Result<std::vector<std::string>> JobServer::poll_stop(net::HttpClient& client,
                                                      const std::function<bool()>& keep_going) const {
  net::HttpRequest req;
  req.url = stop_url_;
  Result<net::HttpResponse> res = long_poll(client, req, keep_going);
  if (!res.ok()) return res.status();
  const net::HttpResponse& r = res.value();
  std::vector<std::string> ids;
  if (r.status == 204) return ids;
  if (r.status == 429) return resource_exhausted("job-stop answered 429 (too many requests)");
  if (r.status != 200) return unavailable("job-stop answered HTTP " + std::to_string(r.status));
  if (!is_json(r)) return ids;
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* list = o != nullptr ? o->if_contains("jobsToStop") : nullptr;
  if (list == nullptr || !list->is_array()) return ids;
  for (const json::value& id : list->get_array()) {
    if (id.is_string()) ids.emplace_back(id.get_string());  // the SDK drops non-strings too
  }
  return ids;
}

Status JobServer::post(net::HttpClient& client, const std::string& url, const std::string& job_id,
                       std::string body) const {
  net::HttpRequest req;
  req.method = "POST";
  req.url = url;
  req.headers = headers();
  // The SDK's headers: the body is JSON text despite the form content type.
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  req.headers.emplace_back("charset", "utf-8");
  req.headers.emplace_back("X-Request-ID", job_id);
  req.body = std::move(body);
  req.timeout_s = kPostTimeoutS;
  Status last = ok_status();
  for (int attempt = 0; attempt < kPostAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::seconds(kRetryWaitS[attempt - 1]));
    Result<net::HttpResponse> res = client.send(req);
    if (!res.ok()) {
      last = res.status();
    } else if (res.value().status >= 500) {
      last = unavailable("HTTP " + std::to_string(res.value().status) + " from " + net::redact_url(url));
    } else if (res.value().status >= 400) {
      return unavailable("HTTP " + std::to_string(res.value().status) + " from " + net::redact_url(url));
    } else {
      return ok_status();
    }
  }
  return last;
}

Status JobServer::post_stream(net::HttpClient& client, const std::string& job_id, const json::value& item) const {
  const std::string url = append_query(fill_url(config_.post_stream_url, config_.worker_id, job_id), "isStream=false");
  return post(client, url, job_id, json::serialize(json::object{{"output", item}}));
}

Status JobServer::post_done(net::HttpClient& client, const std::string& job_id, const json::value& body) const {
  const std::string url = append_query(fill_url(config_.post_output_url, config_.worker_id, job_id), "isStream=true");
  return post(client, url, job_id, json::serialize(body));
}

void JobServer::ping(net::HttpClient& client, const std::vector<std::string>& job_ids) const {
  std::string url = fill_url(config_.ping_url, config_.worker_id, config_.worker_id);
  if (!job_ids.empty()) {
    std::string csv;
    for (const std::string& id : job_ids) csv += (csv.empty() ? "" : ",") + id;
    url = append_query(url, "job_id=" + url_encode(csv));
  }
  url = append_query(url, "runpod_version=" + std::string(kProtocolVersion));
  net::HttpRequest req;
  req.url = url;
  req.headers = headers();
  req.timeout_s = std::max(2.0, 2.0 * config_.ping_interval_ms / 1000.0);
  Result<net::HttpResponse> res = client.send(req);
  if (!res.ok()) {
    PODSERVE_LOG(kWarning) << "ping failed: " << res.status().message();
  } else if (res.value().status >= 400) {
    PODSERVE_LOG(kWarning) << "ping answered HTTP " << res.value().status;
  }
}

}  // namespace podserve::worker
