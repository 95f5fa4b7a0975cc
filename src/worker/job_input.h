// A RunPod job's `input` → the route call that answers it (§2 of the worker spec). Native inputs (`prompt` /
// `messages` + `sampling_params`) become a completions or chat request with the classic worker's defaults;
// `openai_route` + `openai_input` (and the newer `openai_input`-only and `route`/`body`/`method` forms) name
// the route themselves. Everything is checked here, so a bad input fails its job with a message saying why.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "base/status.h"
#include "worker/worker_config.h"

namespace podserve::worker {

struct JobPlan {
  std::string method;  // "GET" or "POST"
  std::string path;    // e.g. "/v1/chat/completions"
  std::string body;    // JSON text ("" for GET)
  bool native = false;       // answer in the native `{"choices":[{"tokens":[...]}],"usage":{...}}` shape
  bool native_chat = false;  // native input rendered through the chat route (text in `delta.content`)
  bool native_stream = false;
  int native_n = 1;          // choices per native output
  BatchSizing batch;         // native: the job's own sizes over the defaults; OpenAI: the defaults
};

/// Plans the job. InvalidArgument (its message is the job's error) when the input is not usable.
Result<JobPlan> plan_job(const boost::json::value& input, const WorkerConfig& config);

}  // namespace podserve::worker
