// `podserve worker`'s own settings: the RunPod platform variables (§4.1 of the worker spec: job-take, job-done,
// stream and ping URL templates, API key, worker id, ping interval) and the vLLM worker's job-shaping variables
// (MAX_CONCURRENCY, stream batch sizes, RAW_OPENAI_OUTPUT). Engine and model settings stay in ServerConfig.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "serve/config.h"

namespace podserve::worker {

/// The stream batch sizes of the classic vLLM worker: the first batch holds `min` items, each next one `growth`
/// times more, up to `max` (1, 3, 9, 27, 50, 50, ... by default). Dynamic only when growth > 1, min >= 1 and
/// max > min; otherwise every batch holds `max`.
struct BatchSizing {
  double max = 50;
  double min = 1;
  double growth = 3;
};

class BatchCounter {
 public:
  explicit BatchCounter(const BatchSizing& s)
      : sizing_(s), dynamic_(s.growth > 1 && s.min >= 1 && s.max > s.min), current_(dynamic_ ? s.min : s.max) {}
  /// Counts one item; true when the batch is full (then the next batch starts, possibly larger).
  bool add() {
    if (++count_ < current_) return false;
    count_ = 0;
    if (dynamic_) current_ = std::min(current_ * sizing_.growth, sizing_.max);
    return true;
  }
  int pending() const { return count_; }

 private:
  BatchSizing sizing_;
  bool dynamic_;
  double current_;
  int count_ = 0;
};

struct WorkerConfig {
  std::string get_job_url;       // RUNPOD_WEBHOOK_GET_JOB; "" = local mode (--test_input / test_input.json)
  std::string post_output_url;   // RUNPOD_WEBHOOK_POST_OUTPUT
  std::string post_stream_url;   // RUNPOD_WEBHOOK_POST_STREAM
  std::string ping_url;          // RUNPOD_WEBHOOK_PING; "" = no heartbeat
  std::string api_key;           // RUNPOD_AI_API_KEY, sent raw as Authorization (never logged)
  std::string worker_id;         // RUNPOD_POD_ID, else a random id
  int ping_interval_ms = 10000;  // RUNPOD_PING_INTERVAL
  int max_concurrency = 30;      // MAX_CONCURRENCY: jobs held at once
  BatchSizing batch;             // DEFAULT_BATCH_SIZE, MIN_BATCH_SIZE, BATCH_SIZE_GROWTH_FACTOR
  bool raw_openai_output = true; // RAW_OPENAI_OUTPUT
};

/// Reads the variables; a bad number or boolean is InvalidArgument naming the variable.
Result<WorkerConfig> parse_worker_config(const EnvLookup& env);

/// A URL template with `$RUNPOD_POD_ID` and `$ID` filled in (`$ID` is the worker id in job-take/ping URLs and
/// the job id in job-done/stream URLs).
std::string fill_url(std::string_view url_template, std::string_view worker_id, std::string_view id);

/// `url` with `param` ("name=value") appended after `&`, or after `?` when the URL has no query yet.
std::string append_query(std::string url, std::string_view param);

/// Percent-encodes a query value.
std::string url_encode(std::string_view value);

}  // namespace podserve::worker
