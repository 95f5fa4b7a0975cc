// Speculative decoding settings, as vLLM's SpeculativeConfig after its validation (plain types: the serve layer
// parses the JSON / environment into this, the engine only reads it).
#pragma once

#include <string>

namespace podserve {

enum class SpeculativeMethod { kNone, kNgram, kDraftModel };

struct SpeculativeConfig {
  SpeculativeMethod method = SpeculativeMethod::kNone;
  int num_speculative_tokens = 0;  // k: drafts verified per step
  int prompt_lookup_min = 0;       // ngram: shortest suffix n-gram matched
  int prompt_lookup_max = 0;       // ngram: longest
  std::string draft_model;         // draft_model: path or repo of the draft
  bool enabled() const { return method != SpeculativeMethod::kNone && num_speculative_tokens > 0; }
};

inline const char* speculative_method_name(SpeculativeMethod m) {
  switch (m) {
    case SpeculativeMethod::kNgram: return "ngram";
    case SpeculativeMethod::kDraftModel: return "draft_model";
    case SpeculativeMethod::kNone: break;
  }
  return "none";
}

}  // namespace podserve
