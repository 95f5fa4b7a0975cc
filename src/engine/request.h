// What a generation request asks for and what the engine reports back. Plain C++ types only: the serve
// layer parses JSON into these, the engine never sees JSON or HTTP.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "base/status.h"
#include "structured/constraint.h"

namespace podserve {

struct LoraAdapter;  // model/lora.h
using structured::StructuredConstraint;

/// Where a reasoning model's thinking ends, so that a structured-output constraint applies only after it (vLLM's
/// reasoning parser `is_reasoning_end`; the serve layer's reasoning parsers implement it).
class ReasoningEndDetector {
 public:
  virtual ~ReasoningEndDetector() = default;
  /// True when `ids` (the prompt, or the prompt and the output so far) end the reasoning part.
  virtual bool is_reasoning_end(std::span<const int32_t> ids) const = 0;
  /// True when `token`, which ended the reasoning, also belongs to the constrained output (an implicit end such
  /// as Qwen3's <tool_call>); an explicit end marker (</think>) is never fed to the grammar.
  virtual bool end_token_is_output(int32_t token) const { return false; }
};

/// Sampling and stopping parameters of one request, with vLLM's meanings and defaults.
struct SamplingParams {
  int n = 1;                 // sequences returned
  int best_of = 0;           // sequences generated (0 = n, else >= n); the n with the highest cumulative logprob are returned
  float temperature = 1.0f;  // 0 = greedy
  float top_p = 1.0f;        // (0, 1]
  int top_k = 0;             // 0 or -1 = off
  float min_p = 0.0f;        // [0, 1]
  float presence_penalty = 0.0f;    // [-2, 2]
  float frequency_penalty = 0.0f;   // [-2, 2]
  float repetition_penalty = 1.0f;  // > 0
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> bias added to its logit
  std::optional<int> logprobs;         // top-N logprobs per generated token (0 = only the sampled token's)
  std::optional<int> prompt_logprobs;  // top-N logprobs per prompt token
  std::optional<uint64_t> seed;
  int max_tokens = 16;       // >= 1 (already clamped to the context by the caller)
  int min_tokens = 0;
  std::vector<std::string> stop;          // stop strings, matched across token boundaries
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  bool include_stop_str_in_output = false;
  bool skip_special_tokens = true;
  /// Only these tokens may be sampled (sorted, unique); empty = any (vLLM's allowed_token_ids).
  std::vector<int32_t> allowed_token_ids;
  /// bad_words after tokenization: a sequence's last token is banned when the tokens before it end the output so
  /// far (vLLM's _bad_words_token_ids; a one-token word is always banned).
  std::vector<std::vector<int32_t>> bad_words_token_ids;
  /// SCHEDULING_POLICY=priority: lower runs first (then earlier arrival); ignored under fcfs.
  int priority = 0;
  /// Structured output: the tokens are masked to the constraint's grammar (before logit_bias, penalties and
  /// temperature, as vLLM applies its grammar bitmask), EOS only where the grammar may end; the sequence finishes
  /// when the grammar is terminated. Compiled when the request arrives; the request waits for it, others run on.
  StructuredConstraint structured;
  /// With a constraint: masking starts once this says the reasoning part ended (null: from the first token).
  std::shared_ptr<const ReasoningEndDetector> reasoning_end;
  /// Beam search (vLLM's use_beam_search; engine/beam_search.h): n is the beam width; the fields that apply are
  /// max_tokens, temperature, ignore_eos, include_stop_str_in_output, skip_special_tokens and logprobs.
  bool use_beam_search = false;
  float length_penalty = 1.0f;  // score = cumulative logprob / length ** length_penalty (length counts the prompt)
};

enum class FinishReason { kNone, kStop, kLength, kAbort, kError };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "abort", "error"; nullptr for kNone

/// A LoRA adapter by name (vLLM's LoRARequest): `id` keys the engine's adapter table (engine/lora_table.h), `path`
/// reloads it when the table dropped it, `name` labels it in metrics.
struct LoraRef {
  int64_t id = 0;
  std::string name, path;
};

struct GenerationRequest {
  std::string request_id;
  std::vector<int32_t> prompt_tokens;
  SamplingParams params;
  /// The LoRA adapter its tokens run (null: the base model). Its weights hash keys the prefix cache. Set by the
  /// engine from `lora_ref` when the request arrives; callers name the adapter by `lora_ref` (or set it directly).
  /// Both initialized, so `{id, prompt, params}` omits them without -Wextra warnings.
  std::shared_ptr<const LoraAdapter> lora = nullptr;
  std::optional<LoraRef> lora_ref = std::nullopt;
};

/// Log-probability of one token position: the chosen token's and the top-N alternatives (highest first).
struct TokenLogprobs {
  int32_t token = 0;
  float logprob = 0.0f;
  int rank = 1;                                    // 1-based rank of `token` among all tokens
  std::vector<std::pair<int32_t, float>> top;      // (token, logprob), at most N
};

/// One update for a request, delivered in order. The last update has finished == true.
struct GenerationOutput {
  int index = 0;                       // which of the request's n sequences this update belongs to
  std::string text_delta;              // new detokenized text (valid UTF-8, stop strings removed)
  std::vector<int32_t> token_ids;      // tokens produced since the previous update
  std::vector<TokenLogprobs> logprobs; // one per token_ids entry, when requested
  std::vector<TokenLogprobs> prompt_logprobs;  // in the first update, when requested (first prompt token has none)
  int cached_tokens = 0;               // prompt tokens served from the prefix cache
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;
  /// What stopped it: the matched stop string or stop token id; monostate for EOS / length.
  std::variant<std::monostate, std::string, int32_t> stop_reason;
  int prompt_tokens = 0;
  int completion_tokens = 0;           // total so far
  double cumulative_logprob = 0.0;     // beam search: the beam's (its final update)
  Status error;                        // non-ok only with finish_reason == kError
};

/// Called on the engine thread; must be fast and must not call back into the engine synchronously.
using OutputCallback = std::function<void(GenerationOutput)>;

}  // namespace podserve
