// Runs one job through the in-process routes and turns what the route answers into the classic vLLM worker's
// stream items (§2.3, §2.4): native `{"choices":[{"tokens":[...]}],"usage":{"input":N,"output":M}}` batches,
// or OpenAI JSON / raw SSE text / parsed chunk lists, batched 1, 3, 9, 27, 50, ... Errors become the job's
// error string (§2.6).
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "worker/route_call.h"
#include "worker/worker_config.h"

namespace podserve::worker {

/// Lets another thread cancel a running job (job-stop): the route call is cancelled, which aborts its engine
/// request.
class JobControl {
 public:
  void cancel();
  bool cancelled() const;
  /// Starts `call` under this control; false (and the call cancelled) when the job was cancelled already.
  bool attach(RouteCall* call);
  void detach();

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  RouteCall* call_ = nullptr;
};

struct JobOutcome {
  std::vector<boost::json::value> items;  // every item yielded, in order (the aggregate output)
  std::optional<std::string> error;       // the job failed with this message
  bool cancelled = false;                 // stopped by job-stop: nothing is to be posted
  bool fatal = false;                     // the engine failed (HTTP 500): the worker should exit
};

/// Runs the job. `on_item` is called with each item as soon as it is complete (to be posted to the stream URL)
/// before it is added to the outcome.
JobOutcome run_job(const boost::json::value& input, const WorkerConfig& config, InProcessRoutes& routes,
                   JobControl& control, const std::function<void(const boost::json::value&)>& on_item);

/// Python's repr() of a JSON value ({'message': 'x', 'param': None}): the classic worker's error strings are
/// `str(dict)`, and clients that parse them expect that spelling.
std::string python_repr(const boost::json::value& v);

}  // namespace podserve::worker
