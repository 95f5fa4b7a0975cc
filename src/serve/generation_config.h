// GENERATION_CONFIG / OVERRIDE_GENERATION_CONFIG: the sampling defaults a model's generation_config.json
// recommends, as vLLM 0.32 reads them (ModelConfig.get_diff_sampling_param): the file's non-default values
// (transformers 5's GenerationConfig.to_diff_dict(), where every sampling default is None, so any value present
// counts) of eight keys, the override merged on top; they fill the fields a request leaves unset.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/request.h"

namespace podserve {

struct GenerationDefaults {
  std::optional<float> repetition_penalty, presence_penalty, frequency_penalty, temperature, top_p, min_p;
  std::optional<int> top_k;
  /// max_new_tokens: a request's max_tokens when it gives none (vLLM: chat only; completions default to 16).
  std::optional<int64_t> max_tokens;
  /// vLLM's override_max_tokens: caps every request's max_tokens. From a folder's file (with the override), or
  /// from the override's max_new_tokens under auto / vllm.
  std::optional<int64_t> max_tokens_cap;

  /// The file's eos_token_id (an int or a list; vLLM's generation_config_fields, read under every mode, the override
  /// aside): each id other than the tokenizer's EOS becomes a stop token id of every request that does not set
  /// ignore_eos (vLLM's SamplingParams.update_from_generation_config). Sorted, unique.
  std::vector<int32_t> eos_token_ids;

  /// vLLM's dict as its log line prints it: {'temperature': 0.6, 'top_p': 0.9, 'max_tokens': 12}, in its key
  /// order; "" when there are no defaults.
  std::string log_dict;

  /// Sets the fields a request did not give (call before reading the request).
  void apply_to(SamplingParams* params) const;
};

/// `mode` is auto (the model directory's generation_config.json; a GGUF file carries none), vllm (no sampling
/// defaults, but the model's eos_token_id as under auto) or a folder; `override_json` a JSON object ("" = none). A value of the wrong type or out of vLLM's range is an
/// error naming GENERATION_CONFIG or OVERRIDE_GENERATION_CONFIG.
Result<GenerationDefaults> load_generation_defaults(const std::string& mode, const std::string& override_json,
                                                    const std::string& model_path);

}  // namespace podserve
