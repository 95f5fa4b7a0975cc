#include "engine/validate.h"

#include <string>

namespace podserve {

Status validate_request(const GenerationRequest& request, int max_model_len, int vocab_size, bool speculative) {
  const auto prompt_len = static_cast<int64_t>(request.prompt_tokens.size());
  if (prompt_len == 0) return invalid_argument("The decoder prompt cannot be empty");  // vLLM's wording
  for (int32_t t : request.prompt_tokens) {
    if (t < 0 || t >= vocab_size) {
      return invalid_argument("Token id " + std::to_string(t) + " is out of vocabulary");
    }
  }
  if (prompt_len >= max_model_len) {
    return out_of_range("This model's maximum context length is " + std::to_string(max_model_len) +
                        " tokens. However, your request has " + std::to_string(prompt_len) +
                        " input tokens. Please reduce the length of the input messages.");
  }
  const int64_t max_tokens = request.params.max_tokens;
  if (max_tokens < 1) return invalid_argument("max_tokens must be at least 1, got " + std::to_string(max_tokens) + ".");
  if (prompt_len + max_tokens > max_model_len) {
    return out_of_range("'max_tokens' or 'max_completion_tokens' is too large: " + std::to_string(max_tokens) +
                        ". This model's maximum context length is " + std::to_string(max_model_len) +
                        " tokens and your request has " + std::to_string(prompt_len) + " input tokens (" +
                        std::to_string(max_tokens) + " > " + std::to_string(max_model_len) + " - " +
                        std::to_string(prompt_len) + ").");
  }
  const SamplingParams& p = request.params;
  for (const auto& [token, bias] : p.logit_bias) {
    if (token < 0 || token >= vocab_size) {
      return invalid_argument("token_id(s) [" + std::to_string(token) + "] in logit_bias contain out-of-vocab token ids. "
                              "Vocabulary size: " + std::to_string(vocab_size));
    }
  }
  for (int32_t token : p.stop_token_ids) {
    if (token < 0 || token >= vocab_size) {
      return invalid_argument("stop_token_ids contain out-of-vocab token id " + std::to_string(token) + ".");
    }
  }
  for (int32_t token : p.allowed_token_ids) {
    if (token < 0 || token >= vocab_size) return invalid_argument("allowed_token_ids contains out-of-vocab token id!");
  }
  for (const std::vector<int32_t>& word : p.bad_words_token_ids) {
    for (int32_t token : word) {
      if (token < 0 || token >= vocab_size) {
        return invalid_argument("bad_words contain out-of-vocab token id " + std::to_string(token) + ".");
      }
    }
  }
  // The serve layer reports these with the field name; the engine checks them again so that no request can
  // reach a sampler precondition.
  if (!(p.temperature >= 0.0f)) return invalid_argument("temperature must be non-negative, got " + std::to_string(p.temperature) + ".");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return invalid_argument("top_p must be in (0, 1], got " + std::to_string(p.top_p) + ".");
  if (p.top_k < -1) return invalid_argument("top_k must be -1 (disable), or at least 1, got " + std::to_string(p.top_k) + ".");
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return invalid_argument("min_p must be in [0, 1], got " + std::to_string(p.min_p) + ".");
  if (!(p.repetition_penalty > 0.0f)) {
    return invalid_argument("repetition_penalty must be greater than zero, got " + std::to_string(p.repetition_penalty) + ".");
  }
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f) || !(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f)) {
    return invalid_argument("presence_penalty and frequency_penalty must be in [-2, 2].");
  }
  if ((p.logprobs && *p.logprobs < 0) || (p.prompt_logprobs && *p.prompt_logprobs < 0)) {
    return invalid_argument("logprobs and prompt_logprobs must be non-negative.");
  }
  if (p.min_tokens < 0 || p.min_tokens > p.max_tokens) {
    return invalid_argument("min_tokens must be in [0, max_tokens], got " + std::to_string(p.min_tokens) + ".");
  }
  if (p.n < 1) return invalid_argument("n must be at least 1, got " + std::to_string(p.n) + ".");
  if (p.best_of != 0 && p.best_of < p.n) {
    return invalid_argument("best_of must be greater than or equal to n, got n=" + std::to_string(p.n) +
                            " and best_of=" + std::to_string(p.best_of) + ".");
  }
  if (speculative && (p.min_p > 1e-5f || !p.logit_bias.empty())) {  // vLLM's _validate_spec_decode
    return invalid_argument("The min_p and logit_bias sampling parameters are not yet supported with speculative decoding.");
  }
  return ok_status();
}

}  // namespace podserve
