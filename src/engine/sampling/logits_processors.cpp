#include "engine/sampling/logits_processors.h"

#include <algorithm>
#include <limits>

#include "base/check.h"

namespace podserve {
namespace {

void check_token(std::span<const float> logits, int32_t token) {
  PODSERVE_CHECK(token >= 0 && static_cast<size_t>(token) < logits.size())
      << "token id " << token << " outside the vocabulary of " << logits.size();
}

}  // namespace

PenaltyState::PenaltyState(std::span<const int32_t> prompt) {
  for (int32_t token : prompt) entry(token).in_prompt = true;
}

PenaltyState::Entry& PenaltyState::entry(int32_t token) {
  const auto [it, inserted] = index_.try_emplace(token, static_cast<int32_t>(entries_.size()));
  if (inserted) entries_.push_back({token, 0, false});
  return entries_[it->second];
}

void PenaltyState::accept(int32_t token) {
  ++entry(token).output_count;
  ++num_output_;
}

bool PenaltyState::in_prompt(int32_t token) const {
  const auto it = index_.find(token);
  return it != index_.end() && entries_[it->second].in_prompt;
}

int32_t PenaltyState::output_count(int32_t token) const {
  const auto it = index_.find(token);
  return it == index_.end() ? 0 : entries_[it->second].output_count;
}

bool has_penalties(const SamplingParams& params) {
  return params.repetition_penalty != 1.0f || params.frequency_penalty != 0.0f || params.presence_penalty != 0.0f;
}

void apply_token_bitmask(std::span<float> logits, std::span<const uint32_t> mask) {
  const size_t n = logits.size();
  for (size_t w = 0; w * 32 < n; ++w) {
    const uint32_t bits = w < mask.size() ? mask[w] : 0;
    if (bits == 0xFFFFFFFFu) continue;
    const size_t end = std::min(n, w * 32 + 32);
    for (size_t i = w * 32; i < end; ++i) {
      if (((bits >> (i - w * 32)) & 1u) == 0) logits[i] = -std::numeric_limits<float>::infinity();
    }
  }
}

void apply_allowed_token_ids(std::span<float> logits, std::span<const int32_t> allowed, std::vector<float>& scratch) {
  scratch.resize(allowed.size());
  for (size_t i = 0; i < allowed.size(); ++i) {
    check_token(logits, allowed[i]);
    scratch[i] = logits[allowed[i]];
  }
  std::fill(logits.begin(), logits.end(), -std::numeric_limits<float>::infinity());
  for (size_t i = 0; i < allowed.size(); ++i) logits[allowed[i]] = scratch[i];
}

void apply_bad_words(std::span<float> logits, std::span<const std::vector<int32_t>> bad_words,
                     std::span<const int32_t> output) {
  for (const std::vector<int32_t>& word : bad_words) {
    if (word.empty() || word.size() > output.size() + 1) continue;
    const size_t prefix = word.size() - 1;
    if (!std::equal(word.begin(), word.end() - 1, output.end() - static_cast<std::ptrdiff_t>(prefix))) continue;
    check_token(logits, word.back());
    logits[word.back()] = -std::numeric_limits<float>::infinity();
  }
}

void apply_min_tokens(std::span<float> logits, int num_output_tokens, int min_tokens,
                      std::span<const int32_t> eos_and_stop_ids) {
  if (num_output_tokens >= min_tokens) return;
  for (int32_t token : eos_and_stop_ids) {
    check_token(logits, token);
    logits[token] = -std::numeric_limits<float>::infinity();
  }
}

void apply_logit_bias(std::span<float> logits, std::span<const std::pair<int32_t, float>> bias) {
  for (const auto& [token, value] : bias) {
    check_token(logits, token);
    logits[token] += value;
  }
}

void apply_penalties(std::span<float> logits, const PenaltyState& state, float repetition, float frequency,
                     float presence) {
  const bool repeat = repetition != 1.0f;
  for (const PenaltyState::Entry& e : state.entries()) {
    check_token(logits, e.token);
    float& logit = logits[e.token];
    if (repeat) logit = logit > 0.0f ? logit / repetition : logit * repetition;
    if (e.output_count > 0) {
      logit -= frequency * static_cast<float>(e.output_count);
      logit -= presence;
    }
  }
}

int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  float best_logit = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < logits.size(); ++i) {
    // Strictly greater keeps the lowest id on ties; NaN compares false and is skipped.
    if (logits[i] > best_logit) {
      best_logit = logits[i];
      best = static_cast<int32_t>(i);
    }
  }
  return best;
}

}  // namespace podserve
