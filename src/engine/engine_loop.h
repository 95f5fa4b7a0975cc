// The engine's state and its step: scheduling, building the batch, the forward pass, sampling, outputs.
// Single-threaded (the engine thread owns it); plain enough to drive step by step from tests.
#pragma once

#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/engine.h"
#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/lora_table.h"
#include "engine/output_processor.h"
#include "engine/scheduler.h"
#include "engine/sequence.h"
#include "engine/spec_decode/draft_model_proposer.h"
#include "engine/spec_decode/rejection_sampler.h"
#include "model/causal_lm.h"
#include "model/loaded_model.h"

namespace podserve {

class EngineLoop {
 public:
  /// A loaded LoRA adapter for the table, queued like a request (Engine::add_lora).
  struct LoraHandover {
    LoraRef ref;
    std::shared_ptr<const LoraAdapter> adapter;
  };
  /// A request, or (with `lora`) an adapter for the table.
  struct Submission {
    GenerationRequest request;
    OutputCallback on_output;
    std::optional<LoraHandover> lora = std::nullopt;
  };

  static Result<std::unique_ptr<EngineLoop>> create(std::unique_ptr<LoadedModel> model, const EngineConfig& config,
                                                    std::unique_ptr<LoadedModel> draft = nullptr);

  void add_request(Submission submission);
  /// Finishes the request (all its sequences) with `reason` and frees its blocks; unknown ids are ignored.
  void abort_request(const std::string& request_id, FinishReason reason, const Status& error = {});
  void abort_all();
  /// Sequences to run, or a compiled grammar whose request can now be admitted.
  bool has_work() const { return !running_.empty() || !waiting_.empty() || grammar_ready(); }
  /// Called (on the compile thread) when a grammar finished compiling, so the engine thread can wake up.
  void set_wake(std::function<void()> wake) { wake_ = std::move(wake); }
  /// Stops the grammar compile thread (before the owner of the wake callback goes away).
  void stop_compiling() { grammars_.reset(); }
  /// One engine step. Returns the number of sequences that ran.
  int step();

  const EngineStats& stats();
  Status audit() const;
  const Tokenizer& tokenizer() const { return model_->tokenizer(); }
  const std::string& chat_template() const { return model_->chat_template(); }
  int max_model_len() const { return max_model_len_; }
  /// Whether the model applies LoRA adapters (GenerationRequest::lora).
  bool supports_lora() const { return model_->lm().supports_lora(); }
  const EngineConfig& config() const { return config_; }
  const SchedulerConfig& scheduler_config() const { return scheduler_config_; }
  /// The loaded LoRA adapters' ids, most recently used first (tests).
  std::vector<int64_t> lora_ids() const { return loras_.ids(); }

 private:
  EngineLoop(std::unique_ptr<LoadedModel> model, const EngineConfig& config, int max_model_len, KvPool pool);
  /// After a request's first sequence finishes its prompt: start its other candidates, sharing the prompt's blocks.
  void fork_candidates(RequestState& r);
  /// Structured output: a request whose grammar is compiled gets its matcher and joins the waiting queue; one
  /// whose grammar failed finishes with the error.
  void admit_compiled();
  bool grammar_ready() const;
  /// Starts request `r`'s first sequence: a matcher if it is constrained, then the waiting queue.
  void start_request(RequestState& r);
  /// Feeds a sampled token to the sequence's matcher. False when the grammar rejects it (the sequence then
  /// finished with an error); `terminated` is set when the grammar ended with it.
  bool feed_matcher(Sequence& seq, int32_t token, bool* terminated);
  /// A sequence to sample this step from `row` (its own row: the sampler may edit it in place; `shared`: other
  /// candidates sample from the same row, so the sampler gets a copy).
  /// With a draft, `row` is the first of draft.size() + 1 consecutive rows (one per draft position, then the
  /// bonus position); `accepted` gets the drafts verification accepted and `result` the token after them (the
  /// recovered or bonus token).
  struct PendingSample {
    Sequence* seq;
    std::span<float> row;
    bool shared;
    SampleResult result;
    std::vector<SampleResult> accepted = {};
  };
  /// One sampler's scratch; a step samples its sequences on the model's threads, one lane per thread.
  struct SampleLane {
    Sampler sampler;
    std::vector<int32_t> eos_and_stop;
    std::vector<float> row_copy;  // a shared row's copy (reused: a row is ~200 KB)
    std::vector<uint32_t> mask;   // a constrained sequence's token bitmask
    VerifyScratch verify;         // speculative decoding's verification scratch and result
    DraftVerification verified;
  };
  /// Samples every entry of samples_ (in parallel when there are several).
  void sample_all();
  void sample_one(PendingSample& s, SampleLane& lane) const;
  /// Speculative decoding: each decoding sequence's draft for this step (before scheduling).
  void propose_drafts();
  /// Verifies `s.seq`'s draft against its rows (vLLM's rejection sampler, position by position).
  void verify_drafts(PendingSample& s, SampleLane& lane) const;
  void log_spec_stats(double elapsed);
  void record_prompt_logprobs(Sequence& seq, int start, int count, const float* logits);
  void drop_finished();
  static int32_t lora_slot(ForwardBatch& batch, const Sequence& seq);
  void log_stats_if_due();
  /// vLLM's lora_requests_info after a step or an abort: stamps the current list of adapters with unfinished
  /// requests in stats_.lora_adapter_sets (LoRA on only). The list is rebuilt (adapters without unfinished requests
  /// dropped from lora_order_, a scan of every request) only after a LoRA request arrived or finished.
  void record_lora_info();

  std::unique_ptr<LoadedModel> model_;
  EngineConfig config_;
  SchedulerConfig scheduler_config_;
  int max_model_len_;
  KvPool pool_;
  KvCacheManager kv_;
  OutputProcessor outputs_;
  Rng seed_rng_;
  SeqId next_seq_id_ = 1;
  std::unordered_map<std::string, std::unique_ptr<RequestState>> requests_;
  LoraTable loras_;
  std::vector<std::string> lora_order_;  // adapters with unfinished requests, by first arrival (their names)
  int lora_set_ = -1;  // lora_order_'s entry in stats_.lora_adapter_sets; -1: to rebuild (a LoRA request came or went)
  std::unique_ptr<GrammarService> grammars_;
  std::function<void()> wake_;
  std::vector<RequestState*> compiling_;  // constrained requests waiting for their grammar
  std::vector<Sequence*> running_;
  std::deque<Sequence*> waiting_;
  std::vector<PendingSample> samples_;  // scratch of step()
  std::vector<SampleLane> sample_lanes_;
  EngineStats stats_;
  Clock::time_point last_log_ = Clock::now();
  int64_t logged_prompt_tokens_ = 0, logged_generation_tokens_ = 0;
  int64_t logged_spec_drafts_ = 0, logged_spec_draft_tokens_ = 0, logged_spec_accepted_ = 0;
  std::vector<int64_t> logged_spec_per_pos_;
  std::vector<int32_t> draft_tokens_;  // scratch of step(): a sequence's last token followed by its draft
  std::unique_ptr<DraftModelProposer> draft_model_;  // speculative method draft_model
  std::vector<Sequence*> drafting_;                   // scratch of propose_drafts()
};

}  // namespace podserve
