#include "bench_runs.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <numeric>
#include <span>

#include "base/rng.h"
#include "engine/engine.h"
#include "model/causal_lm.h"
#include "model/loaded_model.h"

namespace podserve {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// "pp512 rep 2/5: 812.3 tokens/s"
std::string rep_line(const char* test, int tokens, int rep, int reps, double seconds) {
  char line[128];
  std::snprintf(line, sizeof line, "%s%d rep %d/%d: %.1f tokens/s", test, tokens, rep + 1, reps, tokens / seconds);
  return line;
}

// A KV pool and block table for one sequence of up to `max_tokens` tokens.
struct OneSequenceKv {
  KvPool pool;
  std::vector<int32_t> block_table;
};

Result<OneSequenceKv> make_kv(CausalLm& lm, int max_tokens) {
  constexpr int kBlockSize = 16;
  const int blocks = (max_tokens + kBlockSize - 1) / kBlockSize;
  KvCacheRequest request;
  request.block_size = kBlockSize;
  request.max_model_len = max_tokens;
  request.max_num_seqs = 1;
  request.max_num_batched_tokens = std::max(2048, max_tokens);  // pp runs up to -b tokens per pass
  request.num_kv_blocks = blocks;
  request.cuda_graphs = true;  // tg's one-token steps replay a graph on a GPU, as serving does
  PODSERVE_ASSIGN_OR_RETURN(KvPool pool, lm.create_kv_cache(request));  // where the model computes
  std::vector<int32_t> table(static_cast<size_t>(blocks));
  std::iota(table.begin(), table.end(), 0);
  return OneSequenceKv{std::move(pool), std::move(table)};
}

// One pass over `tokens` from position 0 in chunks of `n_batch`, logits of the last token only.
Status prompt_pass(CausalLm& lm, OneSequenceKv& kv, const std::vector<int32_t>& tokens, int n_batch,
                   std::vector<float>& logits) {
  const int n = static_cast<int>(tokens.size());
  for (int start = 0; start < n; start += n_batch) {
    const int len = std::min(n_batch, n - start);
    ForwardBatch batch;
    batch.add_sequence(std::span(tokens).subspan(static_cast<size_t>(start), static_cast<size_t>(len)), start,
                       kv.block_table, kv.pool.block_size(), start + len == n);
    PODSERVE_RETURN_IF_ERROR(lm.forward(batch, kv.pool, logits.data()));
  }
  return Status();
}

// `tokens.size()` single-token steps at positions 0, 1, ..., each with its logits.
Status generation_pass(CausalLm& lm, OneSequenceKv& kv, const std::vector<int32_t>& tokens,
                       std::vector<float>& logits) {
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    ForwardBatch batch;
    batch.add_sequence(std::span(tokens).subspan(pos, 1), static_cast<int>(pos), kv.block_table,
                       kv.pool.block_size(), true);
    PODSERVE_RETURN_IF_ERROR(lm.forward(batch, kv.pool, logits.data()));
  }
  return Status();
}

}  // namespace

std::vector<int32_t> random_tokens(int vocab_size, int count, uint64_t seed) {
  const int margin = std::min(1000, vocab_size / 4);
  const auto span = static_cast<uint64_t>(std::max(1, vocab_size - 2 * margin));
  Rng rng(seed);
  std::vector<int32_t> out(static_cast<size_t>(count));
  for (int32_t& t : out) t = margin + static_cast<int32_t>(rng.next_u64() % span);
  return out;
}

Result<std::vector<double>> time_prompt(CausalLm& lm, int n_prompt, int n_batch, int reps, uint64_t seed,
                                        const BenchProgress& progress) {
  const ModelConfig& config = lm.config();
  PODSERVE_ASSIGN_OR_RETURN(OneSequenceKv kv, make_kv(lm, n_prompt));
  std::vector<float> logits(static_cast<size_t>(config.vocab_size));
  PODSERVE_RETURN_IF_ERROR(prompt_pass(lm, kv, random_tokens(config.vocab_size, n_prompt, seed), n_batch, logits));
  std::vector<double> seconds;
  for (int rep = 0; rep < reps; ++rep) {
    const std::vector<int32_t> tokens = random_tokens(config.vocab_size, n_prompt, seed + 1 + rep);
    const Clock::time_point start = Clock::now();
    PODSERVE_RETURN_IF_ERROR(prompt_pass(lm, kv, tokens, n_batch, logits));
    seconds.push_back(seconds_since(start));
    progress(rep_line("pp", n_prompt, rep, reps, seconds.back()));
  }
  return seconds;
}

Result<std::vector<double>> time_generation(CausalLm& lm, int n_gen, int reps, uint64_t seed,
                                            const BenchProgress& progress) {
  const ModelConfig& config = lm.config();
  PODSERVE_ASSIGN_OR_RETURN(OneSequenceKv kv, make_kv(lm, n_gen));
  std::vector<float> logits(static_cast<size_t>(config.vocab_size));
  PODSERVE_RETURN_IF_ERROR(generation_pass(lm, kv, random_tokens(config.vocab_size, 1, seed), logits));
  std::vector<double> seconds;
  for (int rep = 0; rep < reps; ++rep) {
    const std::vector<int32_t> tokens = random_tokens(config.vocab_size, n_gen, seed + 1 + rep);
    const Clock::time_point start = Clock::now();
    PODSERVE_RETURN_IF_ERROR(generation_pass(lm, kv, tokens, logits));
    seconds.push_back(seconds_since(start));
    progress(rep_line("tg", n_gen, rep, reps, seconds.back()));
  }
  return seconds;
}

Result<ThroughputResult> run_throughput(std::unique_ptr<LoadedModel> model, const ThroughputOptions& options,
                                        const BenchProgress& progress) {
  const int vocab = model->lm().config().vocab_size;
  EngineConfig config;
  config.max_model_len = options.input_len + options.output_len;
  config.max_num_seqs = options.max_num_seqs;
  config.max_num_batched_tokens = options.max_num_batched_tokens;
  config.max_queued_requests = std::max(config.max_queued_requests, options.num_prompts);
  config.log_stats = false;
  config.seed = options.seed;
  PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::create(std::move(model), config));

  std::vector<GenerationRequest> requests(static_cast<size_t>(options.num_prompts));
  for (size_t i = 0; i < requests.size(); ++i) {
    requests[i].request_id = "bench-" + std::to_string(i);
    requests[i].prompt_tokens = random_tokens(vocab, options.input_len, options.seed * 1000003 + i);
    requests[i].params.temperature = 1.0f;
    requests[i].params.max_tokens = options.output_len;
    requests[i].params.ignore_eos = true;
    requests[i].params.seed = options.seed + i;
  }

  struct Tally {
    std::mutex mu;
    std::condition_variable done_cv;
    int finished = 0;
    int64_t prompt_tokens = 0, output_tokens = 0;
    Status error;
  } tally;
  auto on_output = [&tally](GenerationOutput out) {
    if (!out.finished) return;
    std::lock_guard lock(tally.mu);
    ++tally.finished;
    tally.prompt_tokens += out.prompt_tokens;
    tally.output_tokens += out.completion_tokens;
    if (out.finish_reason == FinishReason::kError && tally.error.ok()) tally.error = out.error;
    tally.done_cv.notify_all();
  };

  const Clock::time_point start = Clock::now();
  for (GenerationRequest& r : requests) {
    Status submitted = engine->submit(std::move(r), on_output);
    if (!submitted.ok()) {
      engine->shutdown();
      return submitted;
    }
  }
  ThroughputResult result;
  {
    std::unique_lock lock(tally.mu);
    Clock::time_point last_report = start;
    while (tally.finished < options.num_prompts) {
      tally.done_cv.wait_for(lock, std::chrono::seconds(2));
      if (seconds_since(last_report) < 2 && tally.finished < options.num_prompts) continue;
      last_report = Clock::now();
      progress("throughput: " + std::to_string(tally.finished) + "/" + std::to_string(options.num_prompts) +
               " requests done, " + std::to_string(tally.output_tokens) + " output tokens");
    }
    result.elapsed_s = seconds_since(start);
    result.num_requests = tally.finished;
    result.prompt_tokens = tally.prompt_tokens;
    result.output_tokens = tally.output_tokens;
  }
  engine->shutdown();
  if (!tally.error.ok()) return Status(tally.error.code(), "a request failed: " + tally.error.message());
  return result;
}

}  // namespace podserve
