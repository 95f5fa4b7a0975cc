// Engine counters for /metrics, named after vLLM's `vllm:*` metrics by the serve layer.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace podserve {

/// A Prometheus-style histogram: cumulative rendering is the exporter's job; counts here are per bucket.
struct Histogram {
  explicit Histogram(std::vector<double> upper_bounds = {}) : bounds(std::move(upper_bounds)), counts(bounds.size() + 1) {}
  void observe(double value);
  std::vector<double> bounds;     // bucket upper bounds, ascending (+Inf implied)
  std::vector<uint64_t> counts;   // bounds.size() + 1 entries, the last for +Inf
  double sum = 0.0;
  uint64_t count = 0;
};

struct EngineStats {
  int num_running = 0;
  int num_waiting = 0;
  double kv_cache_usage = 0.0;  // 0..1
  int64_t prefix_cache_queries = 0;  // tokens
  int64_t prefix_cache_hits = 0;     // tokens
  int64_t num_preemptions = 0;
  int64_t prompt_tokens = 0;           // prompt tokens of requests that started generating (as vLLM counts them)
  int64_t prompt_tokens_computed = 0;  // prompt tokens actually run through the model (prefix-cache hits excluded)
  int64_t generation_tokens = 0;
  int64_t steps = 0;
  int max_batch_sequences = 0;    // most sequences one step has run together
  std::map<std::string, int64_t> request_success;  // by finish reason
  int num_waiting_for_grammar = 0;  // constrained requests whose grammar is compiling
  int grammar_matchers = 0;         // unfinished sequences holding a structured-output matcher
  int64_t grammar_compiles = 0;     // grammars compiled (cache misses)
  int64_t grammar_cache_hits = 0;
  /// Speculative decoding, as vLLM's vllm:spec_decode_* counters: steps of a sequence with a non-empty draft,
  /// draft tokens verified, drafts accepted (bonus tokens excluded), and accepted drafts per draft position.
  int64_t spec_num_drafts = 0;
  int64_t spec_num_draft_tokens = 0;
  int64_t spec_num_accepted_tokens = 0;
  std::vector<int64_t> spec_accepted_per_pos;  // k entries when speculative decoding is on
  /// vLLM's vllm:lora_requests_info (LoRA on): every comma-joined list of the adapters with unfinished
  /// requests (first arrival first) seen after a step, with the Unix time it was last seen; "" = none.
  std::vector<std::pair<std::string, double>> lora_adapter_sets;
  Histogram time_to_first_token{{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                                 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}};
  Histogram inter_token_latency{{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                                 10.0, 20.0, 40.0, 80.0}};
  Histogram e2e_request_latency{{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
                                 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}};
};

}  // namespace podserve
