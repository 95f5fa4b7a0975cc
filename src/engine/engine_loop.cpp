#include "engine/engine_loop.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "base/log.h"
#include "base/thread_pool.h"
#include "engine/spec_decode/ngram_proposer.h"
#include "engine/spec_decode/rejection_sampler.h"

namespace podserve {
namespace {
constexpr double kStatsLogIntervalSeconds = 5.0;

// Tokens per step: the configured value, else vLLM's default (2048; at least max_model_len without chunked prefill).
int default_max_num_batched_tokens(const EngineConfig& config, int max_model_len) {
  if (config.max_num_batched_tokens > 0) return config.max_num_batched_tokens;
  return config.enable_chunked_prefill ? 2048 : std::max(2048, max_model_len);
}
}  // namespace

Result<std::unique_ptr<EngineLoop>> EngineLoop::create(std::unique_ptr<LoadedModel> model, const EngineConfig& config,
                                                       std::unique_ptr<LoadedModel> draft) {
  if (model == nullptr) return invalid_argument("Engine::create: no model");
  const int context = model->context_length();
  if (config.max_model_len < 0) return invalid_argument("max_model_len must be >= 0");
  if (config.max_model_len > context) {
    return invalid_argument("max_model_len " + std::to_string(config.max_model_len) +
                            " is larger than the model's context length " + std::to_string(context));
  }
  const int max_model_len = config.max_model_len > 0 ? config.max_model_len : context;
  if (config.max_num_seqs < 1) return invalid_argument("max_num_seqs must be >= 1");
  if (config.block_size < 1 || config.block_size > 1024) return invalid_argument("block_size must be in 1..1024");
  if (config.max_num_batched_tokens < 0) return invalid_argument("max_num_batched_tokens must be >= 0");
  KvCacheRequest kv_request;
  kv_request.block_size = config.block_size;
  kv_request.max_model_len = max_model_len;
  kv_request.max_num_seqs = config.max_num_seqs;
  kv_request.max_num_batched_tokens = default_max_num_batched_tokens(config, max_model_len);
  if (!config.enable_chunked_prefill && kv_request.max_num_batched_tokens < max_model_len) {
    return invalid_argument("max_num_batched_tokens (" + std::to_string(kv_request.max_num_batched_tokens) +
                            ") is smaller than max_model_len (" + std::to_string(max_model_len) +
                            "). This effectively limits the maximum sequence length. Please increase "
                            "max_num_batched_tokens, decrease max_model_len, or enable chunked prefill.");
  }
  const SpeculativeConfig& spec = config.speculative;
  if (spec.enabled() && spec.method == SpeculativeMethod::kDraftModel && draft == nullptr) {
    return invalid_argument("speculative decoding with method draft_model needs the draft model");
  }
  if (spec.enabled() && spec.method == SpeculativeMethod::kNgram &&
      (spec.prompt_lookup_min < 1 || spec.prompt_lookup_min > spec.prompt_lookup_max)) {
    return invalid_argument("prompt_lookup_min=" + std::to_string(spec.prompt_lookup_min) +
                            " must be <= prompt_lookup_max=" + std::to_string(spec.prompt_lookup_max));
  }
  kv_request.kv_cache_memory_gib = config.kv_cache_memory_gib;
  kv_request.num_kv_blocks = config.num_kv_blocks;
  kv_request.cuda_graphs = true;
  // The model allocates the pool where it computes (host pages, or device memory sized by its planner).
  PODSERVE_ASSIGN_OR_RETURN(KvPool pool, model->lm().create_kv_cache(kv_request));
  const int64_t num_blocks = pool.num_blocks();
  const int64_t blocks_per_request = (max_model_len + config.block_size - 1) / config.block_size;
  const size_t block_bytes =
      KvPool::block_bytes(pool.n_layers(), pool.block_size(), pool.kv_dim(), pool.dtype());
  std::unique_ptr<DraftModelProposer> proposer;
  if (spec.enabled() && spec.method == SpeculativeMethod::kDraftModel) {
    // The draft's pool holds as many tokens as the target's (its blocks are smaller: a smaller model).
    KvCacheRequest draft_request = kv_request;
    draft_request.num_kv_blocks = static_cast<int>(num_blocks);
    draft_request.cuda_graphs = false;
    PODSERVE_ASSIGN_OR_RETURN(proposer, DraftModelProposer::create(std::move(draft), model->lm().config().vocab_size,
                                                                   draft_request));
  }
  auto loop = std::unique_ptr<EngineLoop>(new EngineLoop(std::move(model), config, max_model_len, std::move(pool)));
  loop->draft_model_ = std::move(proposer);
  const SchedulerConfig& sc = loop->scheduler_config_;
  PODSERVE_LOG(kInfo) << "KV cache: " << num_blocks << " blocks of " << config.block_size << " tokens ("
                      << num_blocks * config.block_size << " tokens, "
                      << static_cast<double>(num_blocks * block_bytes) / (1 << 30) << " GiB reserved); maximum concurrency for "
                      << max_model_len << " tokens per request: "
                      << static_cast<double>(num_blocks) / static_cast<double>(blocks_per_request) << "x";
  PODSERVE_LOG(kInfo) << "scheduler: max_num_seqs " << sc.max_num_seqs << ", max_num_batched_tokens "
                      << sc.max_num_batched_tokens << ", chunked prefill " << (sc.enable_chunked_prefill ? "on" : "off")
                      << ", prefix caching " << (config.enable_prefix_caching ? "on" : "off") << ", scheduling policy "
                      << (sc.priority ? "priority" : "fcfs");
  if (spec.enabled()) {
    PODSERVE_LOG(kInfo) << "speculative decoding: method " << speculative_method_name(spec.method) << ", "
                        << spec.num_speculative_tokens << " speculative tokens"
                        << (spec.method == SpeculativeMethod::kNgram
                                ? ", prompt lookup " + std::to_string(spec.prompt_lookup_min) + ".." +
                                      std::to_string(spec.prompt_lookup_max)
                                : ", draft model " + spec.draft_model);
  }
  return loop;
}

EngineLoop::EngineLoop(std::unique_ptr<LoadedModel> model, const EngineConfig& config, int max_model_len, KvPool pool)
    : model_(std::move(model)),
      config_(config),
      max_model_len_(max_model_len),
      pool_(std::move(pool)),
      kv_(KvCacheConfig{pool_.num_blocks(), config.block_size, config.enable_prefix_caching}),
      outputs_(model_->tokenizer(), max_model_len),
      seed_rng_(config.seed),
      loras_(config.max_cpu_loras > 0 ? config.max_cpu_loras : config.max_loras, config.max_lora_rank) {
  // Masks are as wide as the model's logits (its vocabulary may be padded past the tokenizer's).
  grammars_ = std::make_unique<GrammarService>(
      [this] { return structured::TokenVocabulary::from_tokenizer(model_->tokenizer(), model_->lm().config().vocab_size); },
      [this] {
        if (wake_) wake_();
      });
  scheduler_config_.max_num_seqs = config.max_num_seqs;
  scheduler_config_.enable_chunked_prefill = config.enable_chunked_prefill;
  scheduler_config_.priority = config.priority_scheduling;
  scheduler_config_.max_loras = config.max_loras;
  scheduler_config_.max_num_batched_tokens = default_max_num_batched_tokens(config, max_model_len);
  if (config.speculative.enabled()) {
    stats_.spec_accepted_per_pos.assign(static_cast<size_t>(config.speculative.num_speculative_tokens), 0);
    logged_spec_per_pos_ = stats_.spec_accepted_per_pos;
  }
}

void EngineLoop::add_request(Submission submission) {
  if (submission.lora) {
    loras_.put(submission.lora->ref, std::move(submission.lora->adapter));
    return;
  }
  const std::string id = submission.request.request_id;
  if (requests_.count(id) != 0) {
    // One final update per output index the caller expects (the submit wrapper counts them to free the slot).
    for (int i = 0; i < submission.request.params.n; ++i) {
      GenerationOutput out;
      out.index = i;
      out.finished = true;
      out.finish_reason = FinishReason::kError;
      out.error = invalid_argument("request id '" + id + "' is already in use");
      out.prompt_tokens = static_cast<int>(submission.request.prompt_tokens.size());
      submission.on_output(std::move(out));
    }
    return;
  }
  auto r = std::make_unique<RequestState>();
  r->request = std::move(submission.request);
  r->on_output = std::move(submission.on_output);
  r->arrival = Clock::now();
  const SamplingParams& p = r->request.params;
  const uint64_t seed = p.seed ? *p.seed : seed_rng_.next_u64();
  r->sequences.push_back(std::make_unique<Sequence>(next_seq_id_++, r.get(), 0, r->request.prompt_tokens, seed,
                                                    model_->tokenizer(), p));
  RequestState& state = *r;
  requests_.emplace(id, std::move(r));
  if (state.request.lora_ref && !state.request.lora) {
    Result<std::shared_ptr<const LoraAdapter>> adapter = loras_.get(*state.request.lora_ref, model_->lm().config());
    if (!adapter.ok()) {
      abort_request(id, FinishReason::kError, adapter.status());
      return;
    }
    state.request.lora = std::move(adapter).value();
    const std::string& name = state.request.lora_ref->name;
    if (std::find(lora_order_.begin(), lora_order_.end(), name) == lora_order_.end()) {
      lora_order_.push_back(name);
      lora_set_ = -1;
    }
  }
  if (p.structured.active()) {
    if (grammars_ == nullptr) {
      abort_request(id, FinishReason::kAbort);  // shutting down
      return;
    }
    state.grammar_pending = grammars_->compile(p.structured);
    if (!state.grammar_pending->done.load(std::memory_order_acquire)) {
      compiling_.push_back(&state);
      return;
    }
  }
  start_request(state);
}

void EngineLoop::start_request(RequestState& r) {
  Sequence& seq = *r.sequences[0];
  if (r.grammar_pending != nullptr) {
    if (!r.grammar_pending->status.ok()) {
      // The serve layer validated the constraint; what fails here is a vLLM "error" finish (a 500).
      PODSERVE_LOG(kWarning) << "request " << r.request.request_id
                             << ": structured output grammar failed: " << r.grammar_pending->status.to_string();
      const Status error = r.grammar_pending->status;
      r.grammar_pending.reset();
      abort_request(r.request.request_id, FinishReason::kError, error);
      return;
    }
    seq.matcher.emplace(r.grammar_pending->grammar);
    r.grammar_pending.reset();
    const SamplingParams& p = r.request.params;
    seq.reasoning_ended = p.reasoning_end == nullptr || p.reasoning_end->is_reasoning_end(seq.tokens);
  }
  enqueue_waiting(scheduler_config_, waiting_, &seq, /*preempted=*/false);
}

bool EngineLoop::grammar_ready() const {
  for (const RequestState* r : compiling_) {
    if (r->grammar_pending->done.load(std::memory_order_acquire)) return true;
  }
  return false;
}

void EngineLoop::admit_compiled() {
  for (size_t i = 0; i < compiling_.size();) {
    RequestState* r = compiling_[i];
    if (!r->grammar_pending->done.load(std::memory_order_acquire)) {
      ++i;
      continue;
    }
    compiling_.erase(compiling_.begin() + static_cast<std::ptrdiff_t>(i));
    start_request(*r);  // may finish (and erase) r
  }
}

bool EngineLoop::feed_matcher(Sequence& seq, int32_t token, bool* terminated) {
  *terminated = false;
  if (!seq.matcher) return true;
  bool feed = seq.reasoning_ended;
  if (!seq.reasoning_ended) {
    const ReasoningEndDetector& detector = *seq.request->request.params.reasoning_end;
    seq.tokens.push_back(token);  // the detector looks at the output with this token
    seq.reasoning_ended = detector.is_reasoning_end(seq.tokens);
    seq.tokens.pop_back();
    feed = seq.reasoning_ended && detector.end_token_is_output(token);
  }
  if (!feed) return true;
  if (!seq.matcher->accept_token(token)) {
    outputs_.finish_early(seq, FinishReason::kError,
                          internal_error("the sampled token " + std::to_string(token) +
                                         " is not allowed by the structured output grammar"),
                          stats_);
    return false;
  }
  *terminated = seq.matcher->is_terminated();
  return true;
}

void EngineLoop::abort_request(const std::string& request_id, FinishReason reason, const Status& error) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  RequestState& r = *it->second;
  std::erase(compiling_, &r);
  for (auto& seq : r.sequences) {
    if (draft_model_ != nullptr) draft_model_->release(seq->id);
    if (seq->status == SeqStatus::kFinished) continue;
    kv_.free(seq->id);
    running_.erase(std::remove(running_.begin(), running_.end(), seq.get()), running_.end());
    waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), seq.get()), waiting_.end());
    seq->status = SeqStatus::kFinished;
  }
  // Every output index the caller expects gets a final update, including candidates never started.
  const int expected = r.holds_outputs() ? r.request.params.n : r.num_candidates();
  for (int i = 0; i < expected; ++i) {
    if (!r.holds_outputs() && i < static_cast<int>(r.sequences.size()) && r.sequences[i]->final_sent) continue;
    GenerationOutput out;
    out.index = i;
    out.finished = true;
    out.finish_reason = reason;
    out.error = error;
    out.prompt_tokens = static_cast<int>(r.request.prompt_tokens.size());
    if (i < static_cast<int>(r.sequences.size())) out.completion_tokens = r.sequences[i]->num_output();
    r.on_output(std::move(out));
  }
  ++stats_.request_success[finish_reason_name(reason)];
  if (r.request.lora_ref) lora_set_ = -1;
  requests_.erase(it);
  record_lora_info();
}

void EngineLoop::record_lora_info() {
  if (config_.max_loras == 0) return;
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (lora_set_ >= 0) {  // the list has not changed: only its time (vLLM sets the gauge at every step)
    stats_.lora_adapter_sets[lora_set_].second = now;
    return;
  }
  std::erase_if(lora_order_, [this](const std::string& name) {
    for (const auto& [id, r] : requests_) {
      if (r->request.lora_ref && r->request.lora_ref->name == name) return false;
    }
    return true;
  });
  std::string joined;
  for (const std::string& name : lora_order_) joined += (joined.empty() ? "" : ",") + name;
  auto& sets = stats_.lora_adapter_sets;
  lora_set_ = 0;
  while (lora_set_ < static_cast<int>(sets.size()) && sets[lora_set_].first != joined) ++lora_set_;
  if (lora_set_ == static_cast<int>(sets.size())) sets.emplace_back(std::move(joined), now);
  sets[lora_set_].second = now;
}

void EngineLoop::abort_all() {
  std::vector<std::string> ids;
  for (const auto& [id, r] : requests_) ids.push_back(id);
  for (const auto& id : ids) abort_request(id, FinishReason::kAbort);
}

// The batch's slot of the sequence's LoRA adapter (added at its first use in this step); -1 for the base model.
int32_t EngineLoop::lora_slot(ForwardBatch& batch, const Sequence& seq) {
  const LoraAdapter* adapter = seq.request->request.lora.get();
  if (adapter == nullptr) return -1;
  const auto it = std::find(batch.loras.begin(), batch.loras.end(), adapter);
  if (it != batch.loras.end()) return static_cast<int32_t>(it - batch.loras.begin());
  batch.loras.push_back(adapter);
  return static_cast<int32_t>(batch.loras.size() - 1);
}

int EngineLoop::step() {
  if (!compiling_.empty()) admit_compiled();
  if (config_.speculative.enabled()) propose_drafts();
  SchedulerOutput plan = schedule(scheduler_config_, running_, waiting_, kv_);
  if (!plan.preempted.empty()) {
    stats_.num_preemptions += static_cast<int64_t>(plan.preempted.size());
    PODSERVE_LOG(kWarning) << plan.preempted.size() << " sequence(s) preempted (recompute mode) because there is not "
                           << "enough KV cache space; running " << running_.size() << ", waiting " << waiting_.size();
  }
  if (plan.chunks.empty()) return 0;

  // One flattened batch. For each chunk remember where its logits rows start.
  ForwardBatch batch;
  struct ChunkRows {
    int prompt_rows_begin = 0, prompt_rows = 0, prompt_start = 0;
    int last_row = -1;
  };
  std::vector<ChunkRows> rows(plan.chunks.size());
  for (size_t c = 0; c < plan.chunks.size(); ++c) {
    Sequence& seq = *plan.chunks[c].seq;
    const int num_drafts = static_cast<int>(seq.draft.size());
    const int n = plan.chunks[c].num_tokens - num_drafts;
    const int start = seq.num_computed;
    const bool reaches_end = start + n == seq.num_tokens();
    const auto before = static_cast<int32_t>(batch.tokens.size());
    std::span<const int32_t> chunk_tokens(seq.tokens.data() + start, static_cast<size_t>(n));
    if (num_drafts > 0) {
      draft_tokens_.assign(chunk_tokens.begin(), chunk_tokens.end());
      draft_tokens_.insert(draft_tokens_.end(), seq.draft.begin(), seq.draft.end());
      chunk_tokens = draft_tokens_;
    }
    batch.add_sequence(chunk_tokens, start, kv_.block_table(seq.id), kv_.block_size(), false, lora_slot(batch, seq));
    if (seq.request->request.params.prompt_logprobs) {
      // Logits at position p give the distribution of prompt token p + 1. A recompute after preemption (or a
      // fork that copied its parent's) must not record positions again: they were kept, or already sent with
      // the first token.
      const int recorded = seq.num_output() > 0 ? seq.num_prompt - 1 : static_cast<int>(seq.prompt_logprobs.size());
      const int first = std::max(start, recorded);
      const int end = std::min(start + n, seq.num_prompt - 1);
      if (first < end) {
        rows[c].prompt_rows_begin = static_cast<int>(batch.logits_rows.size());
        rows[c].prompt_start = first;
        rows[c].prompt_rows = end - first;
        for (int i = 0; i < rows[c].prompt_rows; ++i) batch.logits_rows.push_back(before + (first - start) + i);
      }
    }
    if (reaches_end) {
      // The last token's row, then one per draft token (the row after draft i verifies draft i + 1; the last
      // gives the bonus token).
      rows[c].last_row = static_cast<int>(batch.logits_rows.size());
      for (int i = num_drafts; i >= 0; --i) batch.logits_rows.push_back(static_cast<int32_t>(batch.tokens.size() - 1 - i));
    }
  }
  const int vocab = model_->lm().config().vocab_size;
  // The model's own host buffer (pinned on a device): the rows land there in one copy.
  float* const logits = model_->lm().host_logits(batch.logits_rows.size() * static_cast<size_t>(vocab));
  const Status st = model_->lm().forward(batch, pool_, logits);
  ++stats_.steps;
  stats_.max_batch_sequences = std::max(stats_.max_batch_sequences, static_cast<int>(plan.chunks.size()));
  if (!st.ok()) {
    PODSERVE_LOG(kError) << "forward pass failed: " << st.to_string();
    for (const auto& chunk : plan.chunks) {
      if (chunk.seq->status != SeqStatus::kFinished) outputs_.finish_early(*chunk.seq, FinishReason::kError, st, stats_);
    }
    drop_finished();
    return static_cast<int>(plan.chunks.size());
  }
  for (size_t c = 0; c < plan.chunks.size(); ++c) {
    Sequence& seq = *plan.chunks[c].seq;
    const int n = plan.chunks[c].num_tokens - static_cast<int>(seq.draft.size());  // drafts: marked once accepted
    stats_.prompt_tokens_computed += std::max(0, std::min(seq.num_computed + n, seq.num_prompt) - seq.num_computed);
    seq.num_computed += n;
    kv_.mark_computed(seq.id, seq.tokens, seq.num_computed);
    if (rows[c].prompt_rows > 0) {
      record_prompt_logprobs(seq, rows[c].prompt_start, rows[c].prompt_rows,
                             logits + static_cast<size_t>(rows[c].prompt_rows_begin) * vocab);
    }
    if (rows[c].last_row < 0) continue;
    std::span<float> row(logits + static_cast<size_t>(rows[c].last_row) * vocab, static_cast<size_t>(vocab));
    RequestState& r = *seq.request;
    if (seq.index == 0 && !r.forked && r.num_candidates() > 1) fork_candidates(r);
    if (seq.index == 0 && r.forked && seq.num_output() == 0) {
      // The candidates forked from this prefill all draw their first token from the same logits.
      for (auto& candidate : r.sequences) {
        if (candidate->num_output() == 0 && candidate->prefill_done() && candidate->status == SeqStatus::kRunning) {
          samples_.push_back({candidate.get(), row, /*shared=*/true, {}});
        }
      }
    } else {
      samples_.push_back({&seq, row, /*shared=*/false, {}});
    }
  }
  sample_all();
  // Outputs in batch order, as if each sequence had been sampled and emitted in turn.
  for (PendingSample& s : samples_) {
    Sequence& seq = *s.seq;
    if (!seq.draft.empty()) {
      // Accepted drafts, then the recovered or bonus token, until one of them finishes the sequence. The
      // accepted drafts' K/V were written by this step's forward pass; the last token's are not yet.
      const int k = static_cast<int>(seq.draft.size());
      const int accepted = static_cast<int>(s.accepted.size());
      ++stats_.spec_num_drafts;
      stats_.spec_num_draft_tokens += k;
      stats_.spec_num_accepted_tokens += accepted;
      for (int i = 0; i < accepted; ++i) ++stats_.spec_accepted_per_pos[static_cast<size_t>(i)];
      seq.draft.clear();
      const int computed = seq.num_computed + accepted;
      bool finished = false;
      for (SampleResult& r : s.accepted) {
        finished = outputs_.accept_token(seq, r.token, r.logprobs ? &*r.logprobs : nullptr, stats_);
        if (finished) break;
      }
      if (!finished) {
        finished = outputs_.accept_token(seq, s.result.token, s.result.logprobs ? &*s.result.logprobs : nullptr, stats_);
      }
      if (!finished) {
        seq.num_computed = computed;
        kv_.mark_computed(seq.id, seq.tokens, computed);
      }
      continue;
    }
    bool terminated = false;
    if (!feed_matcher(seq, s.result.token, &terminated)) continue;
    outputs_.accept_token(seq, s.result.token, s.result.logprobs ? &*s.result.logprobs : nullptr, stats_, terminated);
  }
  samples_.clear();
  drop_finished();
  record_lora_info();
  log_stats_if_due();
  return static_cast<int>(plan.chunks.size());
}

void EngineLoop::fork_candidates(RequestState& r) {
  Sequence& parent = *r.sequences[0];
  const SamplingParams& p = r.request.params;
  for (int i = 1; i < r.num_candidates(); ++i) {
    const uint64_t seed = p.seed ? *p.seed + static_cast<uint64_t>(i) : seed_rng_.next_u64();
    auto child = std::make_unique<Sequence>(next_seq_id_++, &r, i, r.request.prompt_tokens, seed, model_->tokenizer(), p);
    child->num_cached_prompt = parent.num_cached_prompt;
    child->admitted_before = true;
    child->prompt_logprobs = parent.prompt_logprobs;
    if (parent.matcher) child->matcher.emplace(*parent.matcher);  // n > 1: each candidate its own grammar state
    child->reasoning_ended = parent.reasoning_ended;
    auto copy = kv_.fork(parent.id, child->id);
    if (copy.ok()) {
      Status copied = copy->has_value() ? pool_.copy_block((*copy)->first, (*copy)->second) : ok_status();
      if (!copied.ok()) {
        PODSERVE_LOG(kError) << "KV block copy failed (" << copied.to_string() << "); the candidate recomputes its prompt";
        kv_.free(child->id);
        waiting_.push_back(child.get());
      } else {
        child->num_computed = parent.num_computed;
        child->status = SeqStatus::kRunning;
        running_.push_back(child.get());
      }
    } else {
      // No block for the copy now: it computes its prompt itself later.
      enqueue_waiting(scheduler_config_, waiting_, child.get(), /*preempted=*/false);
    }
    r.sequences.push_back(std::move(child));
  }
  r.forked = true;
}

void EngineLoop::sample_all() {
  const size_t n = samples_.size();
  ThreadPool* threads = model_->lm().thread_pool();
  const int lanes = threads != nullptr && n > 1 ? static_cast<int>(std::min<size_t>(n, threads->num_threads())) : 1;
  if (sample_lanes_.size() < static_cast<size_t>(lanes)) sample_lanes_.resize(static_cast<size_t>(lanes));
  // Each lane has its own scratch and takes the next unsampled sequence until none is left. A sequence's token
  // depends only on its logits row, parameters, penalty state and Rng, so the bits do not depend on the lanes.
  std::atomic<size_t> next{0};
  auto run_lane = [&](int lane) {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) sample_one(samples_[i], sample_lanes_[lane]);
  };
  if (lanes == 1) {
    run_lane(0);
    return;
  }
  threads->parallel_for(lanes, [&](int64_t begin, int64_t end) {
    for (int64_t lane = begin; lane < end; ++lane) run_lane(static_cast<int>(lane));
  });
}

void EngineLoop::sample_one(PendingSample& s, SampleLane& lane) const {
  const SamplingParams& p = s.seq->request->request.params;
  lane.eos_and_stop = p.stop_token_ids;
  if (!p.ignore_eos) lane.eos_and_stop.push_back(model_->tokenizer().eos_id());
  if (!s.seq->draft.empty()) {
    verify_drafts(s, lane);
    return;
  }
  // A row of its own needs no copy: nothing reads it after this step's sampling.
  std::span<float> row = s.row;
  if (s.shared) {
    lane.row_copy.assign(s.row.begin(), s.row.end());
    row = lane.row_copy;
  }
  std::span<const uint32_t> allowed;
  if (s.seq->matcher && s.seq->reasoning_ended) {
    lane.mask.resize(s.seq->matcher->grammar().vocab().mask_words());
    s.seq->matcher->fill_next_token_bitmask(lane.mask);
    allowed = lane.mask;
  }
  // The sampler fills logprobs when the request asks for them, or for best_of > n (to rank the candidates).
  const std::span<const int32_t> output(s.seq->tokens.data() + s.seq->num_prompt,
                                        static_cast<size_t>(s.seq->num_output()));
  s.result = lane.sampler.sample(row, p, s.seq->penalties, s.seq->num_output(), lane.eos_and_stop, s.seq->rng,
                                 allowed, output);
}

void EngineLoop::propose_drafts() {
  const SpeculativeConfig& spec = config_.speculative;
  drafting_.clear();
  for (Sequence* seq : running_) {
    seq->draft.clear();
    // vLLM proposes for a sequence that sampled a token last step (it is decoding: only that token lacks K/V).
    // Structured-output sequences are not drafted: their grammar state would need a rollback per position.
    if (seq->status != SeqStatus::kRunning || !seq->prefill_done() || seq->num_tokens() - seq->num_computed != 1 ||
        seq->matcher) {
      continue;
    }
    if (draft_model_ == nullptr) {
      propose_ngram(seq->tokens, spec.prompt_lookup_min, spec.prompt_lookup_max, max_model_len_,
                    spec.num_speculative_tokens, seq->draft);
    } else {
      drafting_.push_back(seq);
    }
  }
  if (drafting_.empty()) return;
  const Status st = draft_model_->propose(drafting_, spec.num_speculative_tokens, max_model_len_);
  if (!st.ok()) {  // the target still decodes them, one token each
    PODSERVE_LOG(kError) << "draft model forward pass failed: " << st.to_string();
    for (Sequence* seq : drafting_) {
      seq->draft.clear();
      draft_model_->release(seq->id);
    }
  }
}

void EngineLoop::verify_drafts(PendingSample& s, SampleLane& lane) const {
  Sequence& seq = *s.seq;
  const SamplingParams& p = seq.request->request.params;
  const std::span<const int32_t> output(seq.tokens.data() + seq.num_prompt, static_cast<size_t>(seq.num_output()));
  const size_t vocab = s.row.size();
  std::span<float> rows(s.row.data(), vocab * (seq.draft.size() + 1));
  verify_draft_tokens(lane.sampler, rows, vocab, seq.draft, p, seq.penalties, output, lane.eos_and_stop, seq.rng,
                      lane.verify, lane.verified);
  s.accepted = std::move(lane.verified.accepted);
  s.result = std::move(lane.verified.next);
}

void EngineLoop::record_prompt_logprobs(Sequence& seq, int start, int count, const float* logits) {
  const int vocab = model_->lm().config().vocab_size;
  const int top_n = *seq.request->request.params.prompt_logprobs;
  for (int i = 0; i < count; ++i) {
    const int32_t next = seq.tokens[static_cast<size_t>(start + i + 1)];
    seq.prompt_logprobs.push_back(
        compute_logprobs(std::span<const float>(logits + static_cast<size_t>(i) * vocab, static_cast<size_t>(vocab)), next, top_n));
  }
}

void EngineLoop::drop_finished() {
  for (Sequence* seq : running_) {
    if (seq->status != SeqStatus::kFinished) continue;
    kv_.free(seq->id);
    if (draft_model_ != nullptr) draft_model_->release(seq->id);
    seq->matcher.reset();
  }
  running_.erase(std::remove_if(running_.begin(), running_.end(),
                                [](const Sequence* s) { return s->status == SeqStatus::kFinished; }),
                 running_.end());
  for (auto it = requests_.begin(); it != requests_.end();) {
    const RequestState& r = *it->second;
    if (r.finished_sequences == r.num_candidates()) {
      if (r.request.lora_ref) lora_set_ = -1;
      it = requests_.erase(it);
    } else {
      ++it;
    }
  }
}

const EngineStats& EngineLoop::stats() {
  stats_.num_running = static_cast<int>(running_.size());
  stats_.num_waiting = static_cast<int>(waiting_.size());
  stats_.kv_cache_usage = kv_.usage();
  stats_.prefix_cache_queries = kv_.stats().prefix_queries;
  stats_.prefix_cache_hits = kv_.stats().prefix_hits;
  stats_.num_waiting_for_grammar = static_cast<int>(compiling_.size());
  stats_.grammar_matchers = 0;
  for (const auto& [id, r] : requests_) {
    for (const auto& seq : r->sequences) stats_.grammar_matchers += seq->matcher && seq->status != SeqStatus::kFinished;
  }
  if (grammars_ != nullptr) {
    const structured::GrammarCompiler::Stats gs = grammars_->stats();
    stats_.grammar_cache_hits = gs.hits;
    stats_.grammar_compiles = gs.misses;
  }
  return stats_;
}

Status EngineLoop::audit() const { return kv_.audit(); }

void EngineLoop::log_stats_if_due() {
  if (!config_.log_stats) return;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - last_log_).count();
  if (elapsed < kStatsLogIntervalSeconds) return;
  const KvCacheStats& kvs = kv_.stats();
  PODSERVE_LOG(kInfo) << "Avg prompt throughput: " << std::round((stats_.prompt_tokens_computed - logged_prompt_tokens_) / elapsed)
                      << " tokens/s, Avg generation throughput: "
                      << std::round((stats_.generation_tokens - logged_generation_tokens_) / elapsed)
                      << " tokens/s, Running: " << running_.size() << " reqs, Waiting: " << waiting_.size()
                      << " reqs, KV cache usage: " << std::round(kv_.usage() * 1000) / 10 << "%, Prefix cache hit rate: "
                      << (kvs.prefix_queries ? std::round(1000.0 * kvs.prefix_hits / kvs.prefix_queries) / 10 : 0.0) << "%";
  log_spec_stats(elapsed);
  last_log_ = now;
  logged_prompt_tokens_ = stats_.prompt_tokens_computed;
  logged_generation_tokens_ = stats_.generation_tokens;
}

// vLLM's SpecDecodingLogging line, over the drafts since the last one.
void EngineLoop::log_spec_stats(double elapsed) {
  const int64_t drafts = stats_.spec_num_drafts - logged_spec_drafts_;
  if (drafts <= 0) return;
  const int64_t drafted = stats_.spec_num_draft_tokens - logged_spec_draft_tokens_;
  const int64_t accepted = stats_.spec_num_accepted_tokens - logged_spec_accepted_;
  char head[256];
  std::snprintf(head, sizeof head,
                "SpecDecoding metrics: Mean acceptance length: %.2f, Accepted throughput: %.2f tokens/s, Drafted "
                "throughput: %.2f tokens/s, Accepted: %lld tokens, Drafted: %lld tokens, Per-position acceptance rate: ",
                1.0 + static_cast<double>(accepted) / static_cast<double>(drafts), accepted / elapsed, drafted / elapsed,
                static_cast<long long>(accepted), static_cast<long long>(drafted));
  std::string line = head;
  for (size_t i = 0; i < stats_.spec_accepted_per_pos.size(); ++i) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "%s%.3f", i == 0 ? "" : ", ",
                  static_cast<double>(stats_.spec_accepted_per_pos[i] - logged_spec_per_pos_[i]) / static_cast<double>(drafts));
    line += rate;
  }
  char tail[64];
  std::snprintf(tail, sizeof tail, ", Avg Draft acceptance rate: %.1f%%",
                drafted > 0 ? 100.0 * static_cast<double>(accepted) / static_cast<double>(drafted) : std::nan(""));
  line += tail;
  PODSERVE_LOG(kInfo) << line;
  logged_spec_drafts_ = stats_.spec_num_drafts;
  logged_spec_draft_tokens_ = stats_.spec_num_draft_tokens;
  logged_spec_accepted_ = stats_.spec_num_accepted_tokens;
  logged_spec_per_pos_ = stats_.spec_accepted_per_pos;
}

}  // namespace podserve
