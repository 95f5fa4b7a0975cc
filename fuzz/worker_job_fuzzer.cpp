// A RunPod job's `input` as `podserve worker` runs it (run_job): the native form (prompt / messages,
// sampling_params, apply_chat_template, stream, batch sizes) and the OpenAI forms (openai_route + openai_input,
// openai_input alone, route / body / method) planned into a route call, answered by the in-process OpenAI routes
// over the CaptureEngine, and shaped into the classic worker's stream items. A job may fail with a message; it
// must never make the worker think the engine failed (a 5xx: the worker would exit), and any route answer must
// be well-formed.
#include <boost/json/parse.hpp>

#include "support/fuzz_common.h"
#include "support/openai_stack.h"
#include "worker/job_runner.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  podserve::fuzz::quiet_logs();
  (void)podserve::fuzz::openai_routes();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  boost::system::error_code ec;
  const boost::json::value input =
      boost::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), ec);
  if (ec) return 0;  // the job server's JSON: a job whose input does not parse never reaches run_job
  podserve::worker::WorkerConfig config;
  config.raw_openai_output = size % 2 == 0;  // RAW_OPENAI_OUTPUT both ways
  podserve::worker::JobControl control;
  const podserve::worker::JobOutcome outcome = podserve::worker::run_job(
      input, config, podserve::fuzz::openai_routes(), control, [](const boost::json::value&) {});
  if (outcome.fatal) podserve::fuzz::fail("a job input made the routes answer 5xx", outcome.error.value_or(""));
  return 0;
}
