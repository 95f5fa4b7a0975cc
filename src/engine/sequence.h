// One generated sequence (a request has n or best_of of them) and the per-request state around it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/rng.h"
#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/request.h"
#include "engine/sampling/sampler.h"
#include "engine/grammar_service.h"
#include "engine/stop_checker.h"
#include "structured/matcher.h"
#include "tokenizer/tokenizer.h"

namespace podserve {

using Clock = std::chrono::steady_clock;
struct RequestState;

enum class SeqStatus { kWaiting, kRunning, kFinished };

struct Sequence {
  Sequence(SeqId id, RequestState* request, int index, std::vector<int32_t> prompt, uint64_t seed,
           const Tokenizer& tokenizer, const SamplingParams& params);

  int num_tokens() const { return static_cast<int>(tokens.size()); }
  int num_output() const { return num_tokens() - num_prompt; }
  bool prefill_done() const { return num_computed >= num_prompt; }

  SeqId id;
  RequestState* request;  // owner; outlives the sequence
  int index;              // choice index within the request
  std::vector<int32_t> tokens;  // prompt followed by the output so far
  int num_prompt;
  int num_computed = 0;         // tokens whose K/V are in the cache
  int num_cached_prompt = 0;    // prompt tokens the prefix cache supplied (first admission)
  bool admitted_before = false; // re-admissions after preemption don't count cache hits again
  SeqStatus status = SeqStatus::kWaiting;
  Rng rng;
  PenaltyState penalties;
  IncrementalDetokenizer detokenizer;
  StopChecker stop_checker;
  double cumulative_logprob = 0.0;
  bool final_sent = false;  // its finished update went out (not for held best_of outputs)
  std::vector<TokenLogprobs> prompt_logprobs;  // filled during prefill when asked
  Clock::time_point last_token_time{};
  /// Structured output: the grammar state over this sequence's output (kept across preemption: the output is
  /// kept too); masking waits until `reasoning_ended`.
  std::optional<structured::GrammarMatcher> matcher;
  bool reasoning_ended = true;
  /// Speculative decoding: this step's proposed tokens, verified after position num_tokens() - 1 (set before
  /// scheduling, trimmed by the scheduler to the token budget, cleared by preemption).
  std::vector<int32_t> draft;
};

/// A submitted request: its parameters, callback, sequences and timing.
struct RequestState {
  GenerationRequest request;
  OutputCallback on_output;
  std::vector<std::unique_ptr<Sequence>> sequences;  // [0] alone until its prefill ends, then best_of of them
  int finished_sequences = 0;
  bool forked = false;
  bool aborted = false;
  Clock::time_point arrival;
  std::optional<Clock::time_point> first_token;
  /// best_of > n: outputs are held until every candidate finishes, then the best n are sent.
  std::vector<GenerationOutput> held;
  /// Structured output: the compilation this request waits for (until done), then its grammar.
  std::shared_ptr<GrammarService::Pending> grammar_pending;
  int num_candidates() const { return std::max(request.params.n, request.params.best_of); }
  bool holds_outputs() const { return request.params.best_of > request.params.n; }
};

}  // namespace podserve
