// The engine: owns the model and a paged KV cache, and runs continuous batching on its own thread: every step
// packs decode tokens and prefill chunks of many requests into one forward pass, and streams outputs to each
// request's callback.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "engine/metrics.h"
#include "engine/request.h"
#include "engine/spec_decode/speculative_config.h"

namespace podserve {

class LoadedModel;
class Tokenizer;

struct EngineConfig {
  int max_model_len = 0;            // 0 = the model's context length
  int max_num_seqs = 256;           // sequences running at once
  int max_num_batched_tokens = 0;   // tokens per step; 0 = max(2048, max_model_len) without chunked prefill, else 2048
  bool enable_chunked_prefill = true;
  bool enable_prefix_caching = true;
  int block_size = 16;              // tokens per KV block
  double kv_cache_memory_gib = 4.0; // KV pool size (reserved; resident as used)
  int num_kv_blocks = 0;            // overrides kv_cache_memory_gib when > 0 (tests force preemption with it)
  int max_queued_requests = 4096;   // unfinished requests accepted before submit() answers ResourceExhausted
  int max_logprobs = 20;
  bool log_stats = true;            // the periodic throughput / running / KV usage log line
  uint64_t seed = 0;                // default seed for requests without one
  bool priority_scheduling = false; // SCHEDULING_POLICY=priority: requests' `priority` orders admission and preemption
  SpeculativeConfig speculative;    // SPECULATIVE_CONFIG: drafts verified k at a time (off by default)
  int max_loras = 0;                // MAX_LORAS: distinct LoRA adapters per step (0 = no limit)
  int max_cpu_loras = 0;            // MAX_CPU_LORAS: adapters kept loaded (0 = max_loras, at least 1)
  int max_lora_rank = 16;           // MAX_LORA_RANK: checked when a dropped adapter is reloaded
};

class Engine {
 public:
  /// Takes ownership of the model (and, for speculative decoding with method draft_model, of the draft model)
  /// and starts the engine thread.
  static Result<std::unique_ptr<Engine>> create(std::unique_ptr<LoadedModel> model, const EngineConfig& config,
                                                std::unique_ptr<LoadedModel> draft = nullptr);
  virtual ~Engine() = default;

  /// Queues a request. Fails (without calling `on_output`) if the prompt is empty or does not fit the context
  /// (OutOfRange, vLLM's message) or the queue is full (ResourceExhausted). Otherwise `on_output` is called one
  /// or more times, the last time with finished == true.
  virtual Status submit(GenerationRequest request, OutputCallback on_output) = 0;
  /// Hands a loaded LoRA adapter to the engine's table under `ref.id` (replacing what it held) through the same
  /// queue as submissions, so a request submitted after this call finds it. Requests name it by
  /// GenerationRequest::lora_ref.
  virtual void add_lora(LoraRef ref, std::shared_ptr<const LoraAdapter> adapter) = 0;
  /// Stops a request early; its last output has finish_reason kAbort. Unknown ids are ignored.
  virtual void abort(const std::string& request_id) = 0;

  virtual const Tokenizer& tokenizer() const = 0;
  /// The chat template from the model file ("" if it has none).
  virtual const std::string& chat_template() const = 0;
  virtual int max_model_len() const = 0;
  /// A snapshot of the counters (thread-safe).
  virtual EngineStats stats() const = 0;
  /// Checks every KV-cache invariant (waits for the current step); for tests.
  virtual Status audit() const = 0;
  /// Stops the engine thread; pending requests finish with kAbort.
  virtual void shutdown() = 0;
};

}  // namespace podserve
