// RunPod's worker protocol, server side (§4 of the spec): job-take (single and batch, long-polled), job-stop
// (long-polled), job-stream and job-done posts (refused for a stale lease), ping (renews the leases it lists).
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "base/log.h"
#include "endpoint/endpoint_service.h"
#include "endpoint/job_json.h"

namespace podserve::endpoint {
namespace {

namespace json = boost::json;

constexpr int kMaxBatch = 256;

http::awaitable<void> no_content(http::ResponseWriter& w) {
  http::HttpResponse res{204, "", ""};
  co_await w.send(std::move(res));
}

}  // namespace

http::awaitable<void> EndpointService::job_take(const http::HttpRequest& req, std::string worker, bool batch,
                                               http::ResponseWriter& w) {
  int n = 1;
  if (batch) {
    auto v = query_values(req.query, "batch_size");
    if (!v.empty()) n = std::clamp(std::atoi(v.front().c_str()), 1, kMaxBatch);
  }
  const int64_t deadline = wall_ms() + config_.job_take_wait_ms;
  for (;;) {
    const int64_t now = wall_ms();
    pool_.note_seen(worker, now);
    if (!pool_.accepts_jobs(worker)) break;  // being stopped, or gone: it gets nothing new
    const uint64_t seen = store_.change_count();
    Result<std::vector<Job>> jobs = store_.take(worker, n, now, config_.lease_timeout_ms);
    if (!jobs.ok()) {
      PODSERVE_LOG(kError) << "job-take: " << jobs.status().message();
      co_await send_error(w, 500, jobs.status().message());
      co_return;
    }
    if (!jobs->empty()) {
      json::array list;
      for (const Job& j : *jobs) {
        PODSERVE_LOG(kDebug) << "Job " << j.id << " → worker " << worker << " (attempt " << j.attempts << ")";
        list.push_back(json::object{{"id", j.id}, {"input", parse_stored(j.input_json)}});
      }
      // The single take answers one object, the batch take a list (as RunPod's job server).
      std::string body = batch ? json::serialize(list) : json::serialize(list.front());
      co_await send_json(w, 200, std::move(body));
      co_return;
    }
    if (now >= deadline) break;
    co_await wait_for_change(w, store_, seen, std::min(kChangeBackstopMs, deadline - now));
  }
  co_await no_content(w);
}

http::awaitable<void> EndpointService::job_stop(std::string worker, http::ResponseWriter& w) {
  const int64_t deadline = wall_ms() + config_.job_take_wait_ms;
  for (;;) {
    const uint64_t seen = store_.change_count();
    Result<std::vector<std::string>> ids = store_.take_stop_signals(worker);
    if (ids.ok() && !ids->empty()) {
      json::array list;
      for (const std::string& id : *ids) list.push_back(json::string(id));
      json::object body{{"jobsToStop", std::move(list)}};
      std::string text = json::serialize(body);
      co_await send_json(w, 200, std::move(text));
      co_return;
    }
    const int64_t now = wall_ms();
    if (now >= deadline) break;
    co_await wait_for_change(w, store_, seen, std::min(kChangeBackstopMs, deadline - now));
  }
  co_await no_content(w);
}

http::awaitable<void> EndpointService::job_result(const http::HttpRequest& req, std::string worker, std::string job,
                                                 bool stream_item, http::ResponseWriter& w) {
  // The SDK posts JSON text with Content-Type application/x-www-form-urlencoded: the body is read as JSON anyway.
  boost::system::error_code ec;
  json::value body = json::parse(req.body, ec);
  if (ec || !body.is_object()) {
    co_await send_error(w, 400, "the body must be a JSON object ({\"output\": ...} or {\"error\": ...})");
    co_return;
  }
  if (job.empty() || job.find('$') != std::string::npos) {
    co_await send_error(w, 400, "no job id in the URL or in X-Request-ID");
    co_return;
  }
  const json::object& o = body.as_object();
  const int64_t now = wall_ms();
  pool_.note_seen(worker, now);
  Status st;
  if (stream_item) {
    auto out = o.find("output");
    st = store_.add_stream_item(job, worker, json::serialize(out == o.end() ? json::value() : out->value()), now,
                                config_.lease_timeout_ms);
  } else {
    WorkerResult result;
    if (auto out = o.find("output"); out != o.end()) result.output_json = json::serialize(out->value());
    if (auto err = o.find("error"); err != o.end() && !err->value().is_null()) {
      const json::value& e = err->value();
      const bool falsy = (e.is_string() && e.as_string().empty()) || (e.is_bool() && !e.as_bool());
      if (!falsy) result.error = e.is_string() ? std::string(e.as_string()) : json::serialize(e);
    }
    if (auto s = o.find("status"); s != o.end() && s->value().is_string() && s->value().as_string() == "IN_PROGRESS") {
      result.progress = true;  // runpod.serverless.progress_update()
    }
    st = store_.finish(job, worker, result, now);
    if (st.ok() && !result.progress) {
      PODSERVE_LOG(kInfo) << "Job " << job << (result.error ? " FAILED" : " COMPLETED") << " on worker " << worker;
    }
  }
  if (!st.ok()) {
    // A stale lease (the job was re-queued, cancelled or timed out): refused, the job keeps its one result.
    PODSERVE_LOG(kInfo) << (stream_item ? "Stream item" : "Result") << " refused: " << st.message();
    co_await send_error(w, st.code() == StatusCode::kNotFound ? 404 : 409, st.message());
    co_return;
  }
  co_await send_json(w, 200, "{}");
}

http::awaitable<void> EndpointService::ping(const http::HttpRequest& req, std::string worker,
                                           http::ResponseWriter& w) {
  const int64_t now = wall_ms();
  pool_.note_seen(worker, now);
  std::vector<std::string> ids;
  for (const std::string& v : query_values(req.query, "job_id")) {  // "a,b,c" or repeated
    size_t start = 0;
    while (start <= v.size()) {
      const size_t comma = v.find(',', start);
      std::string id = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!id.empty()) ids.push_back(std::move(id));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (Status st = store_.renew(worker, ids, now, config_.lease_timeout_ms); !st.ok()) {
    co_await send_error(w, 500, st.message());
    co_return;
  }
  co_await send_json(w, 200, "{}");
}

}  // namespace podserve::endpoint
