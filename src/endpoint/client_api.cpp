// Routing and RunPod's client API: run, runsync, status, stream, cancel, retry, purge-queue, health.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <sstream>

#include "endpoint/endpoint_service.h"
#include "endpoint/job_json.h"
#include "serve/openai/logprobs_json.h"

namespace podserve::endpoint {
namespace {

namespace json = boost::json;

constexpr size_t kMaxRunBytes = 10u << 20;      // RunPod: /run 10 MB
constexpr size_t kMaxRunSyncBytes = 20u << 20;  // /runsync 20 MB

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned diff = a.size() != b.size();
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i]) ^
                                               static_cast<unsigned char>(i < b.size() ? b[i] : 0);
  return diff == 0;
}

/// Accepts `Bearer KEY` and the raw key (RunPod's docs show both).
bool key_matches(std::string_view header, const std::string& key) {
  std::string_view given = header;
  if (given.substr(0, 7) == "Bearer ") given.remove_prefix(7);
  return constant_time_equal(given, key);
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    if (slash != 0) out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

/// Reads policy.executionTimeout / policy.ttl (ms) and webhook from a /run body.
Status read_run_body(const json::object& body, const EndpointConfig& config, NewJob* job) {
  auto input = body.find("input");
  if (input == body.end() || input->value().is_null()) return invalid_argument("the body needs an \"input\"");
  job->input_json = json::serialize(input->value());
  job->execution_timeout_ms = config.execution_timeout_ms;
  job->ttl_ms = config.ttl_ms;
  if (auto hook = body.find("webhook"); hook != body.end() && !hook->value().is_null()) {
    if (!hook->value().is_string()) return invalid_argument("\"webhook\" must be a URL string");
    job->webhook = std::string(hook->value().as_string());
    if (job->webhook.rfind("http://", 0) != 0 && job->webhook.rfind("https://", 0) != 0) {
      return invalid_argument("\"webhook\" must be an http:// or https:// URL");
    }
  }
  if (auto pol = body.find("policy"); pol != body.end() && !pol->value().is_null()) {
    if (!pol->value().is_object()) return invalid_argument("\"policy\" must be an object");
    const json::object& p = pol->value().as_object();
    auto read_ms = [&](const char* name, int64_t* out) -> Status {
      auto it = p.find(name);
      if (it == p.end() || it->value().is_null()) return ok_status();
      if (!it->value().is_int64() && !it->value().is_uint64()) {
        return invalid_argument(std::string("\"policy.") + name + "\" must be an integer (milliseconds)");
      }
      const int64_t v = it->value().is_int64() ? it->value().as_int64() : -1;
      if (v <= 0 || v > int64_t{7} * 86400000) {
        return invalid_argument(std::string("\"policy.") + name + "\" must be between 1 ms and 7 days");
      }
      *out = v;
      return ok_status();
    };
    PODSERVE_RETURN_IF_ERROR(read_ms("executionTimeout", &job->execution_timeout_ms));
    PODSERVE_RETURN_IF_ERROR(read_ms("ttl", &job->ttl_ms));
    if (auto lp = p.find("lowPriority"); lp != p.end() && !lp->value().is_bool() && !lp->value().is_null()) {
      return invalid_argument("\"policy.lowPriority\" must be a boolean");
    }
  }
  return ok_status();
}

}  // namespace

http::awaitable<void> send_json(http::ResponseWriter& w, int status, std::string body) {
  http::HttpResponse res{status, "application/json", std::move(body)};
  co_await w.send(std::move(res));
}

http::awaitable<void> send_error(http::ResponseWriter& w, int status, std::string message) {
  json::object o;
  // Messages quote the client's path (bytes, not text): invalid UTF-8 would make the body invalid JSON.
  o["error"] = openai::utf8_replace(message);
  co_await send_json(w, status, json::serialize(o));
}

http::awaitable<void> sleep_ms(http::ResponseWriter& w, int64_t ms) {
  boost::asio::steady_timer timer(w.executor());
  timer.expires_after(std::chrono::milliseconds(ms));
  co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

http::awaitable<void> wait_for_change(http::ResponseWriter& w, const JobStore& store, uint64_t seen, int64_t max_ms) {
  constexpr int64_t kCheckMs = 10;
  for (int64_t waited = 0; waited < max_ms && store.change_count() == seen; waited += kCheckMs) {
    co_await sleep_ms(w, std::min(kCheckMs, max_ms - waited));
  }
}

http::HttpResponse EndpointService::http_error(int status, const std::string& message) {
  json::object o;
  o["error"] = message;
  return {status, "application/json", json::serialize(o)};
}

void EndpointService::register_routes(http::Router& router) {
  for (const char* method : {"GET", "POST"}) {
    router.add_prefix(method, "/v2/",
                      [this](const http::HttpRequest& req, http::ResponseWriter& w) { return dispatch(req, w); });
  }
  router.add("GET", "/health", [this](const http::HttpRequest&, http::ResponseWriter& w) { return health(w); });
  router.add("GET", "/metrics", [this](const http::HttpRequest&, http::ResponseWriter& w) -> http::awaitable<void> {
    http::HttpResponse res{200, "text/plain; version=0.0.4; charset=utf-8", metrics_text()};
    co_await w.send(std::move(res));
  });
}

bool EndpointService::client_authorized(const http::HttpRequest& req) const {
  if (config_.api_keys.empty()) return true;
  bool ok = false;
  for (const std::string& key : config_.api_keys) ok |= key_matches(req.header("authorization"), key);
  return ok;
}

bool EndpointService::worker_authorized(const http::HttpRequest& req) const {
  return config_.worker_api_key.empty() || key_matches(req.header("authorization"), config_.worker_api_key);
}

http::awaitable<void> EndpointService::dispatch(const http::HttpRequest& req, http::ResponseWriter& w) {
  const Segments seg = split_path(req.path);  // "v2", endpoint id, operation, ...
  if (seg.size() < 3 || seg[1] != config_.endpoint_id) {
    co_await send_error(w, 404, "no endpoint at " + req.path + " (this is /v2/" + config_.endpoint_id + "/...)");
    co_return;
  }
  const std::string_view op = seg[2];
  const bool get = req.method == "GET";
  const bool worker_op = op == "job-take" || op == "job-take-batch" || op == "job-stop" || op == "job-done" ||
                         op == "job-stream" || op == "ping";
  if (worker_op) {
    if (!worker_authorized(req)) {
      co_await send_error(w, 401, "Unauthorized");
      co_return;
    }
    if (seg.size() >= 4 && (op == "job-take" || op == "job-take-batch") && get) {
      co_await job_take(req, std::string(seg[3]), op == "job-take-batch", w);
    } else if (seg.size() >= 4 && op == "job-stop" && get) {
      co_await job_stop(std::string(seg[3]), w);
    } else if (seg.size() >= 4 && op == "ping" && get) {
      co_await ping(req, std::string(seg[3]), w);
    } else if (seg.size() >= 4 && (op == "job-done" || op == "job-stream") && !get) {
      // The job id is the path's last segment; the SDK also sends it as X-Request-ID.
      std::string job = seg.size() >= 5 ? std::string(seg[4]) : std::string(req.header("x-request-id"));
      co_await job_result(req, std::string(seg[3]), std::move(job), op == "job-stream", w);
    } else {
      co_await send_error(w, get ? 404 : 405, "no such worker route: " + req.method + " " + req.path);
    }
    co_return;
  }
  if (!client_authorized(req)) {
    co_await send_error(w, 401, "Unauthorized");
    co_return;
  }
  const std::string id = seg.size() >= 4 ? std::string(seg[3]) : std::string();
  if ((op == "run" || op == "runsync") && seg.size() == 3) {
    if (get) {
      co_await send_error(w, 405, "use POST for /" + std::string(op));
    } else {
      co_await run(req, w, op == "runsync");
    }
  } else if (op == "status" && seg.size() == 4) {
    co_await status(id, w);
  } else if (op == "stream" && seg.size() == 4) {
    co_await stream(id, w);
  } else if (op == "cancel" && seg.size() == 4 && !get) {
    co_await cancel(id, w);
  } else if (op == "retry" && seg.size() == 4 && !get) {
    co_await retry(id, w);
  } else if (op == "purge-queue" && seg.size() == 3 && !get) {
    co_await purge_queue(w);
  } else if (op == "health" && seg.size() == 3 && get) {
    co_await health(w);
  } else if (op == "openai" && seg.size() >= 5 && seg[3] == "v1") {
    std::string route = "/v1";
    for (size_t i = 4; i < seg.size(); ++i) route += "/" + std::string(seg[i]);
    co_await openai(req, std::move(route), w);
  } else {
    co_await send_error(w, 404, "no such operation: " + req.method + " " + req.path);
  }
}

http::awaitable<void> EndpointService::run(const http::HttpRequest& req, http::ResponseWriter& w, bool sync) {
  if (req.body.size() > (sync ? kMaxRunSyncBytes : kMaxRunBytes)) {
    co_await send_error(w, 413, sync ? "the /runsync body is over 20 MB" : "the /run body is over 10 MB");
    co_return;
  }
  boost::system::error_code ec;
  json::value body = json::parse(req.body, ec);
  if (ec || !body.is_object()) {
    co_await send_error(w, 400, "the body must be a JSON object with an \"input\"");
    co_return;
  }
  NewJob job;
  job.sync = sync;
  job.id = (sync ? "sync-" : "") + random_uuid();
  if (Status st = read_run_body(body.as_object(), config_, &job); !st.ok()) {
    co_await send_error(w, 400, st.message());
    co_return;
  }
  const int64_t now = wall_ms();
  if (Status st = store_.submit(job, now); !st.ok()) {
    co_await send_error(w, 500, "cannot store the job: " + st.message());
    co_return;
  }
  if (!sync) {
    json::object o{{"id", job.id}, {"status", "IN_QUEUE"}};
    co_await send_json(w, 200, json::serialize(o));
    co_return;
  }
  // runsync: wait up to ?wait= ms (RunPod: 1000..300000, default 90000) for a terminal state.
  int64_t wait = 90000;
  if (auto v = query_values(req.query, "wait"); !v.empty()) {
    char* end = nullptr;
    const long long parsed = std::strtoll(v.front().c_str(), &end, 10);
    if (end && *end == '\0' && !v.front().empty()) wait = std::clamp<int64_t>(parsed, 1000, 300000);
  }
  const int64_t deadline = now + wait;
  for (;;) {
    const uint64_t seen = store_.change_count();
    std::optional<Job> j = store_.get(job.id);
    if (!j) {
      co_await send_error(w, 404, "job " + job.id + " not found");
      co_return;
    }
    if (is_terminal(j->status) || wall_ms() >= deadline) {
      json::object o = is_terminal(j->status) ? job_status_json(*j, wall_ms())
                                              : json::object{{"id", j->id}, {"status", job_status_name(j->status)}};
      co_await send_json(w, 200, json::serialize(o));
      co_return;
    }
    co_await wait_for_change(w, store_, seen, std::min(kChangeBackstopMs, deadline - wall_ms()));
  }
}

http::awaitable<void> EndpointService::status(std::string id, http::ResponseWriter& w) {
  std::optional<Job> j = store_.get(id);
  if (!j) {
    co_await send_error(w, 404, "job " + id + " not found");
    co_return;
  }
  co_await send_json(w, 200, json::serialize(job_status_json(*j, wall_ms())));
}

http::awaitable<void> EndpointService::stream(std::string id, http::ResponseWriter& w) {
  Result<StreamPoll> poll = store_.poll_stream(id);
  if (!poll.ok()) {
    co_await send_error(w, poll.status().code() == StatusCode::kNotFound ? 404 : 500, poll.status().message());
    co_return;
  }
  json::object o;
  const Job& j = poll->job;
  if (j.started_ms) o["delayTime"] = j.started_ms - j.created_ms;
  if (j.started_ms && j.finished_ms) o["executionTime"] = j.finished_ms - j.started_ms;
  o["id"] = j.id;
  if (j.error) o["error"] = *j.error;
  o["status"] = job_status_name(j.status);
  json::array items;
  for (const std::string& item : poll->items) items.push_back(json::object{{"output", parse_stored(item)}});
  o["stream"] = std::move(items);  // always present: the sync client's stream() needs it at the end
  if (!j.worker_id.empty()) o["workerId"] = j.worker_id;
  co_await send_json(w, 200, json::serialize(o));
}

http::awaitable<void> EndpointService::cancel(std::string id, http::ResponseWriter& w) {
  Result<Job> j = store_.cancel(id, wall_ms());
  if (!j.ok()) {
    co_await send_error(w, j.status().code() == StatusCode::kNotFound ? 404 : 500, j.status().message());
    co_return;
  }
  json::object o{{"id", j->id}, {"status", job_status_name(j->status)}};
  co_await send_json(w, 200, json::serialize(o));
}

http::awaitable<void> EndpointService::retry(std::string id, http::ResponseWriter& w) {
  Result<Job> j = store_.retry(id, wall_ms());
  if (!j.ok()) {
    const StatusCode code = j.status().code();
    co_await send_error(w, code == StatusCode::kNotFound ? 404 : code == StatusCode::kInvalidArgument ? 400 : 500,
                        j.status().message());
    co_return;
  }
  json::object o{{"id", j->id}, {"status", job_status_name(j->status)}};
  co_await send_json(w, 200, json::serialize(o));
}

http::awaitable<void> EndpointService::purge_queue(http::ResponseWriter& w) {
  Result<int> n = store_.purge_queue();
  if (!n.ok()) {
    co_await send_error(w, 500, n.status().message());
    co_return;
  }
  json::object o{{"removed", n.value()}, {"status", "completed"}};
  co_await send_json(w, 200, json::serialize(o));
}

http::awaitable<void> EndpointService::health(http::ResponseWriter& w) {
  const JobCounts c = store_.counts();
  const WorkerCounts wc = pool_.counts(wall_ms());
  json::object jobs{{"completed", c.completed}, {"failed", c.failed},       {"inProgress", c.in_progress},
                    {"inQueue", c.in_queue},    {"retried", c.retried},     {"cancelled", c.cancelled},
                    {"timedOut", c.timed_out}};
  json::object workers{{"idle", wc.idle},
                       {"running", wc.running},
                       {"initializing", wc.initializing},
                       {"stopping", wc.stopping}};
  json::object o{{"jobs", std::move(jobs)}, {"workers", std::move(workers)}};
  co_await send_json(w, 200, json::serialize(o));
}

std::string EndpointService::metrics_text() {
  const int64_t now = wall_ms();
  const JobCounts c = store_.counts();
  const WorkerCounts wc = pool_.counts(now);
  const std::string label = "endpoint=\"" + config_.endpoint_id + "\"";
  std::ostringstream out;
  auto gauge = [&](const char* name, const char* help, const std::string& labels, double value, bool first = true) {
    if (first) out << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n";
    out << name << "{" << labels << "} " << value << "\n";
  };
  gauge("podserve_endpoint_jobs_in_queue", "Jobs waiting for a worker.", label, static_cast<double>(c.in_queue));
  gauge("podserve_endpoint_jobs_in_progress", "Jobs held by a worker.", label, static_cast<double>(c.in_progress));
  gauge("podserve_endpoint_queue_delay_seconds", "How long the oldest queued job has waited.", label,
        c.oldest_queued_ms ? static_cast<double>(now - c.oldest_queued_ms) / 1000.0 : 0.0);
  gauge("podserve_endpoint_jobs_finished", "Finished jobs still kept, by status.", label + ",status=\"COMPLETED\"",
        static_cast<double>(c.completed));
  gauge("podserve_endpoint_jobs_finished", "", label + ",status=\"FAILED\"", static_cast<double>(c.failed), false);
  gauge("podserve_endpoint_jobs_finished", "", label + ",status=\"CANCELLED\"", static_cast<double>(c.cancelled),
        false);
  gauge("podserve_endpoint_jobs_finished", "", label + ",status=\"TIMED_OUT\"", static_cast<double>(c.timed_out),
        false);
  gauge("podserve_endpoint_workers", "Workers by state.", label + ",state=\"idle\"", wc.idle);
  gauge("podserve_endpoint_workers", "", label + ",state=\"running\"", wc.running, false);
  gauge("podserve_endpoint_workers", "", label + ",state=\"initializing\"", wc.initializing, false);
  gauge("podserve_endpoint_workers", "", label + ",state=\"stopping\"", wc.stopping, false);
  out << "# HELP podserve_endpoint_jobs_retried_total Jobs put back in the queue (lease expired, worker died, "
         "/retry).\n# TYPE podserve_endpoint_jobs_retried_total counter\npodserve_endpoint_jobs_retried_total{"
      << label << "} " << c.retried << "\n";
  out << "# HELP podserve_endpoint_workers_started_total Worker processes started.\n"
         "# TYPE podserve_endpoint_workers_started_total counter\npodserve_endpoint_workers_started_total{"
      << label << "} " << pool_.started_total() << "\n";
  out << "# HELP podserve_endpoint_workers_crashed_total Worker processes that exited unasked.\n"
         "# TYPE podserve_endpoint_workers_crashed_total counter\npodserve_endpoint_workers_crashed_total{"
      << label << "} " << pool_.crashed_total() << "\n";
  return out.str();
}

}  // namespace podserve::endpoint
