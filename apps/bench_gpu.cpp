#include "bench_gpu.h"

#include "engine/engine.h"
#include "model/device/roofline.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <numeric>
#include <span>
#include <vector>

namespace podserve {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

double ratio(double got, double limit) { return limit > 0 ? got / limit : 0.0; }

}  // namespace

Result<DecodeStreamsResult> time_decode_streams(CausalLm& lm, int streams, int input_len, int output_len, int reps,
                                                uint64_t seed, const BenchProgress& progress) {
  const ModelConfig& c = lm.config();
  constexpr int kBlock = 16;
  const int per_seq = (input_len + output_len + kBlock - 1) / kBlock;
  KvCacheRequest request;
  request.block_size = kBlock;
  request.max_model_len = input_len + output_len;
  request.max_num_seqs = streams;
  request.max_num_batched_tokens = std::max({2048, input_len, streams});
  request.num_kv_blocks = streams * per_seq;
  request.cuda_graphs = true;
  PODSERVE_ASSIGN_OR_RETURN(KvPool pool, lm.create_kv_cache(request));
  std::vector<std::vector<int32_t>> tables(static_cast<size_t>(streams), std::vector<int32_t>(static_cast<size_t>(per_seq)));
  for (int s = 0; s < streams; ++s) std::iota(tables[s].begin(), tables[s].end(), s * per_seq);
  std::vector<float> logits(static_cast<size_t>(streams) * c.vocab_size);
  DecodeStreamsResult best;
  best.streams = streams;
  best.steps = output_len;
  best.mean_context = input_len + (output_len + 1) / 2.0;
  best.seconds = 1e30;
  for (int rep = 0; rep < reps + 1; ++rep) {  // the first run warms up
    const std::vector<int32_t> prompt = random_tokens(c.vocab_size, input_len * streams, seed + rep);
    const int per_pass = std::max(1, request.max_num_batched_tokens / input_len);
    for (int s0 = 0; s0 < streams; s0 += per_pass) {
      ForwardBatch batch;
      for (int s = s0; s < std::min(streams, s0 + per_pass); ++s) {
        batch.add_sequence(std::span(prompt).subspan(static_cast<size_t>(s) * input_len, static_cast<size_t>(input_len)),
                           0, tables[s], kBlock, true);
      }
      PODSERVE_RETURN_IF_ERROR(lm.forward(batch, pool, logits.data()));
    }
    const std::vector<int32_t> next = random_tokens(c.vocab_size, output_len * streams, seed + 1000 + rep);
    const auto start = Clock::now();
    for (int step = 0; step < output_len; ++step) {
      ForwardBatch batch;
      for (int s = 0; s < streams; ++s) {
        batch.add_sequence(std::span(next).subspan(static_cast<size_t>(step) * streams + s, 1), input_len + step, tables[s],
                           kBlock, true);
      }
      PODSERVE_RETURN_IF_ERROR(lm.forward(batch, pool, logits.data()));
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (rep > 0) best.seconds = std::min(best.seconds, secs);
    char line[128];
    std::snprintf(line, sizeof line, "streams %d x tg%d %s: %.1f tokens/s", streams, output_len,
                  rep == 0 ? "warm-up" : "rep", streams * output_len / secs);
    progress(line);
  }
  return best;
}

Result<double> time_cold_start(const std::string& path, const LoadOptions& options, uint64_t seed) {
  const auto start = Clock::now();
  PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<LoadedModel> model, load_model(path, options));
  const int vocab = model->lm().config().vocab_size;
  EngineConfig config;
  config.log_stats = false;
  config.seed = seed;
  PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::create(std::move(model), config));
  GenerationRequest request;
  request.request_id = "coldstart";
  request.prompt_tokens = random_tokens(vocab, 16, seed);
  request.params.max_tokens = 1;
  request.params.temperature = 0.0f;
  request.params.ignore_eos = true;
  std::promise<Status> first;
  bool answered = false;
  PODSERVE_RETURN_IF_ERROR(engine->submit(std::move(request), [&first, &answered](GenerationOutput out) {
    if (answered) return;
    answered = true;
    first.set_value(out.finish_reason == FinishReason::kError ? out.error : ok_status());
  }));
  std::future<Status> done = first.get_future();
  if (done.wait_for(std::chrono::minutes(10)) != std::future_status::ready) {
    engine->shutdown();
    return unavailable("no first token within 10 minutes");
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  const Status st = done.get();
  engine->shutdown();
  PODSERVE_RETURN_IF_ERROR(st);
  return secs;
}

json::object report_gpu_ratios(const DeviceLimits& limits, const ModelConfig& config, const GpuFigures& f) {
  json::object out;
  out["limits"] = json::object{{"card", limits.name},
                               {"datasheet_bandwidth_bytes_per_s", limits.datasheet_bandwidth},
                               {"datasheet_bf16_flops", limits.datasheet_bf16_flops},
                               {"measured_copy_bandwidth_bytes_per_s", limits.copy_bandwidth},
                               {"measured_gemm_bf16_flops", limits.gemm_bf16_flops}};
  std::printf("\n| %s | limit | measured on this card |\n|---|---:|---:|\n", limits.name.c_str());
  std::printf("| HBM bandwidth | %.2f TB/s (datasheet) | %.2f TB/s (device copy, read + write) |\n",
              limits.datasheet_bandwidth / 1e12, limits.copy_bandwidth / 1e12);
  std::printf("| dense bf16 | %.0f TFLOP/s (datasheet) | %.0f TFLOP/s (8192^3 cuBLASLt GEMM) |\n",
              limits.datasheet_bf16_flops / 1e12, limits.gemm_bf16_flops / 1e12);
  std::printf("\n| target | podserve | limit (datasheet) | ratio | ratio to the measured limit |\n|---|---:|---:|---:|---:|\n");
  const double W = static_cast<double>(f.weight_bytes);
  if (f.tg_tokens_per_s > 0 && W > 0) {
    const double roof = limits.datasheet_bandwidth / W, roof_measured = limits.copy_bandwidth / W;
    out["tg"] = json::object{{"tokens_per_s", f.tg_tokens_per_s},     {"weight_bytes_per_token", f.weight_bytes},
                             {"roofline_tokens_per_s", roof},         {"ratio", ratio(f.tg_tokens_per_s, roof)},
                             {"measured_roofline_tokens_per_s", roof_measured},
                             {"ratio_to_measured", ratio(f.tg_tokens_per_s, roof_measured)}};
    std::printf("| decode batch 1 (target >= 80%%) | %.1f tok/s | %.1f tok/s | %.1f%% | %.1f%% |\n", f.tg_tokens_per_s,
                roof, 100 * ratio(f.tg_tokens_per_s, roof), 100 * ratio(f.tg_tokens_per_s, roof_measured));
  }
  if (f.streams.steps > 0 && W > 0) {
    const uint64_t kv_token = kv_bytes_per_token(config, f.kv_elem_bytes);
    const double kv = static_cast<double>(kv_token) * f.streams.streams * f.streams.mean_context;
    const double tps = f.streams.streams * f.streams.steps / f.streams.seconds;
    const double bound = memory_bound_tokens_per_s(f.weight_bytes, kv_token, f.streams.streams, f.streams.mean_context,
                                                   limits.datasheet_bandwidth);
    const double bound_measured = memory_bound_tokens_per_s(f.weight_bytes, kv_token, f.streams.streams,
                                                            f.streams.mean_context, limits.copy_bandwidth);
    out["streams"] = json::object{{"streams", f.streams.streams}, {"steps", f.streams.steps},
                                  {"tokens_per_s", tps},          {"kv_bytes_per_step", kv},
                                  {"memory_bound_tokens_per_s", bound}, {"ratio", ratio(tps, bound)},
                                  {"ratio_to_measured", ratio(tps, bound_measured)}};
    std::printf("| decode %d streams (target >= 60%%) | %.0f tok/s | %.0f tok/s | %.1f%% | %.1f%% |\n",
                f.streams.streams, tps, bound, 100 * ratio(tps, bound), 100 * ratio(tps, bound_measured));
  }
  if (f.pp_tokens_per_s > 0) {
    const double flops = prefill_flops(config, f.experts_per_token, f.pp_tokens) / f.pp_tokens * f.pp_tokens_per_s;
    out["pp"] = json::object{{"tokens", f.pp_tokens},
                             {"tokens_per_s", f.pp_tokens_per_s},
                             {"flops", flops},
                             {"ratio", ratio(flops, limits.datasheet_bf16_flops)},
                             {"ratio_to_measured", ratio(flops, limits.gemm_bf16_flops)}};
    std::printf("| prefill pp%d (target >= 50%%) | %.0f TFLOP/s | %.0f TFLOP/s | %.1f%% | %.1f%% |\n", f.pp_tokens,
                flops / 1e12, limits.datasheet_bf16_flops / 1e12, 100 * ratio(flops, limits.datasheet_bf16_flops),
                100 * ratio(flops, limits.gemm_bf16_flops));
  }
  if (f.cold_start_s > 0) {
    out["cold_start"] = json::object{{"seconds", f.cold_start_s}, {"target_seconds", 10.0}};
    std::printf("| cold start to first token (target <= 10 s) | %.2f s | 10 s | | |\n", f.cold_start_s);
  }
  std::fflush(stdout);
  return out;
}

}  // namespace podserve
