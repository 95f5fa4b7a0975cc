// `podserve bench` on a GPU: the targets as ratios to the card's physical limits (datasheet figures, and
// the copy bandwidth and bf16 GEMM rate measured in the same run, model/device/device_limits.h):
//   tg (decode, batch 1)       tokens/s vs the HBM roofline: bandwidth / weight bytes read per token
//   streams (decode, N seqs)   tokens/s vs the memory-bound step rate: N / ((weights + the batch's K/V) / bandwidth)
//   pp (prefill, batch 1)      FLOP/s (matmuls + causal attention) vs the dense bf16 tensor-core peak
//   cold start                 seconds from loading to the first token, graph capture included
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>

#include "base/status.h"
#include "bench_runs.h"
#include "model/causal_lm.h"
#include "model/loaded_model.h"
#include "model/device/device_limits.h"

namespace podserve {

struct DecodeStreamsResult {
  int streams = 0, steps = 0;
  double seconds = 0;      // the timed decode steps, all streams together
  double mean_context = 0; // average context length a timed step attends to, per stream
};

/// `streams` sequences of `input_len` random tokens are prefilled (untimed, up to 2048 tokens per pass), then
/// `output_len` decode steps of all of them at once are timed (no sampling: a random next token, as tg). The
/// best of `reps` runs.
Result<DecodeStreamsResult> time_decode_streams(CausalLm& lm, int streams, int input_len, int output_len, int reps,
                                                uint64_t seed, const BenchProgress& progress);

struct GpuFigures {
  uint64_t weight_bytes = 0;   // read per decode step
  double tg_tokens_per_s = 0;  // 0 = not run
  double pp_tokens_per_s = 0;
  int pp_tokens = 0;
  DecodeStreamsResult streams;
  double cold_start_s = 0;
  int kv_elem_bytes = 2;
  int experts_per_token = 0;
};

/// Seconds from loading `path` (LOAD_FORMAT and device as `options`) to the first token of a 16-token request
/// through an engine with its default settings (KV cache planning and CUDA graph capture included); the engine
/// and model are gone afterwards.
Result<double> time_cold_start(const std::string& path, const LoadOptions& options, uint64_t seed);

/// The ratios as a JSON object ("limits", "tg", "pp", "streams", "cold_start"), and a table on stdout.
boost::json::object report_gpu_ratios(const DeviceLimits& limits, const ModelConfig& config, const GpuFigures& f);

}  // namespace podserve
