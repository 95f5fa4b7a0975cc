// The sampling stages that run on the full [vocab] logits before temperature, in vLLM V1's order:
// allowed_token_ids -> bad_words -> min_tokens masking -> logit_bias -> penalties (repetition, frequency,
// presence). Each but the allowed-ids mask touches only the few tokens it concerns, so a greedy request pays for
// them plus one argmax, never a vocab-wide pass more.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/request.h"

namespace podserve {

/// Per-sequence state the penalties need: which tokens the prompt holds (repetition_penalty) and how often
/// each token was generated (all three penalties). Copyable, so a sequence can be forked for n / best_of.
class PenaltyState {
 public:
  PenaltyState() = default;
  /// O(prompt) to build; pass an empty prompt when the request has repetition_penalty == 1.
  explicit PenaltyState(std::span<const int32_t> prompt);

  /// Records one generated token.
  void accept(int32_t token);

  bool in_prompt(int32_t token) const;
  int32_t output_count(int32_t token) const;
  int num_output_tokens() const { return num_output_; }

  /// One entry per distinct token of the prompt or the output.
  struct Entry {
    int32_t token;
    int32_t output_count;  // 0 for a prompt-only token
    bool in_prompt;
  };
  std::span<const Entry> entries() const { return entries_; }

 private:
  Entry& entry(int32_t token);

  std::vector<Entry> entries_;                  // dense, so the penalty pass is a plain loop
  std::unordered_map<int32_t, int32_t> index_;  // token -> position in entries_
  int num_output_ = 0;
};

/// True when any of the three penalties differs from its neutral value.
bool has_penalties(const SamplingParams& params);

/// (0) structured output: tokens whose bit is clear in `mask` (bit i % 32 of word i / 32; words past the mask
/// count as clear) get -inf, as xgrammar's apply_token_bitmask_inplace.
void apply_token_bitmask(std::span<float> logits, std::span<const uint32_t> mask);

/// (0a) allowed_token_ids: every other token gets -inf (vLLM's allowed_token_ids_mask). `allowed` is sorted and
/// unique; `scratch` keeps the allowed logits while the row is cleared.
void apply_allowed_token_ids(std::span<float> logits, std::span<const int32_t> allowed, std::vector<float>& scratch);

/// (0b) bad_words: for each tokenized bad word, its last token gets -inf when the tokens before it are the last
/// tokens of `output` (the generated tokens only, as vLLM's apply_bad_words).
void apply_bad_words(std::span<float> logits, std::span<const std::vector<int32_t>> bad_words,
                     std::span<const int32_t> output);

/// (1) min_tokens: while fewer than `min_tokens` tokens were generated, EOS and the stop token ids get -inf
/// (vLLM MinTokensLogitsProcessor: `logits[stop_token_ids] = -inf` while `len(output) < min_tokens`).
void apply_min_tokens(std::span<float> logits, int num_output_tokens, int min_tokens,
                      std::span<const int32_t> eos_and_stop_ids);

/// (2) logit_bias: `logits[token] += bias` (vLLM LogitBiasLogitsProcessor).
void apply_logit_bias(std::span<float> logits, std::span<const std::pair<int32_t, float>> bias);

/// (3) penalties, as vLLM's apply_penalties:
///   repetition, over tokens in prompt ∪ output: logit > 0 ? logit / r : logit * r;
///   then, over output tokens: logit -= frequency * count + presence * (count > 0).
void apply_penalties(std::span<float> logits, const PenaltyState& state, float repetition, float frequency,
                     float presence);

/// (4) greedy: index of the largest logit, the lowest id on ties (as torch.argmax); NaNs are skipped.
int32_t argmax(std::span<const float> logits);

}  // namespace podserve
