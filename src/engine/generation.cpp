#include "engine/generation.h"

#include <algorithm>

#include "model/causal_lm.h"

namespace podserve {
namespace {
// Prompt tokens per forward pass during prefill: bounds activation memory for long prompts.
constexpr size_t kPrefillChunk = 256;
}  // namespace

Status validate_request(const GenerationRequest& request, int max_model_len, int vocab_size) {
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
  return ok_status();
}

Generation::Generation(CausalLm& lm, const Tokenizer& tokenizer, KvCache& cache, GenerationRequest request,
                       OutputCallback on_output)
    : lm_(lm),
      tokenizer_(tokenizer),
      cache_(cache),
      request_(std::move(request)),
      on_output_(std::move(on_output)),
      detokenizer_(tokenizer, request_.params.skip_special_tokens),
      stop_checker_(request_.params.stop, request_.params.include_stop_str_in_output) {}

FinishReason Generation::check_stop_token(int32_t token,
                                          std::variant<std::monostate, std::string, int32_t>* stop_reason) const {
  const SamplingParams& p = request_.params;
  if (static_cast<int>(output_tokens_.size()) < p.min_tokens) return FinishReason::kNone;
  if (!p.ignore_eos && token == tokenizer_.eos_id()) return FinishReason::kStop;
  if (std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), token) != p.stop_token_ids.end()) {
    *stop_reason = token;
    return FinishReason::kStop;
  }
  return FinishReason::kNone;
}

void Generation::finish(FinishReason reason, std::variant<std::monostate, std::string, int32_t> stop_reason,
                        Status error, GenerationOutput out) {
  if (reason != FinishReason::kStop || !stop_checker_.stopped()) {
    out.text_delta += stop_checker_.append(detokenizer_.flush());
    out.text_delta += stop_checker_.flush();
  }
  out.finished = true;
  out.finish_reason = reason;
  out.stop_reason = std::move(stop_reason);
  out.prompt_tokens = static_cast<int>(request_.prompt_tokens.size());
  out.completion_tokens = static_cast<int>(output_tokens_.size());
  out.error = std::move(error);
  on_output_(std::move(out));
}

void Generation::run(Rng& rng, Sampler& sampler, const std::function<bool()>& is_aborted) {
  const std::vector<int32_t>& prompt = request_.prompt_tokens;
  const SamplingParams& params = request_.params;
  logits_.resize(static_cast<size_t>(lm_.config().vocab_size));
  int pos = 0;
  for (size_t begin = 0; begin < prompt.size(); begin += kPrefillChunk) {
    if (is_aborted()) return finish(FinishReason::kAbort, {});
    const size_t n = std::min(kPrefillChunk, prompt.size() - begin);
    Status st = lm_.forward(std::span<const int32_t>(prompt.data() + begin, n), pos, cache_, logits_.data());
    if (!st.ok()) return finish(FinishReason::kError, {}, st);
    pos += static_cast<int>(n);
  }
  for (;;) {
    const int32_t token = sampler.sample(logits_, params, rng);
    output_tokens_.push_back(token);
    std::variant<std::monostate, std::string, int32_t> stop_reason;
    // A stop token ends generation and is not part of the text (unless include_stop_str_in_output).
    const FinishReason stop = check_stop_token(token, &stop_reason);
    GenerationOutput out;
    out.token_ids = {token};
    if (stop == FinishReason::kNone || params.include_stop_str_in_output) {
      out.text_delta = stop_checker_.append(detokenizer_.push(token));
    }
    out.prompt_tokens = static_cast<int>(prompt.size());
    out.completion_tokens = static_cast<int>(output_tokens_.size());
    if (stop_checker_.stopped()) return finish(FinishReason::kStop, stop_checker_.matched(), {}, std::move(out));
    if (stop != FinishReason::kNone) return finish(stop, std::move(stop_reason), {}, std::move(out));
    const bool at_length = static_cast<int>(output_tokens_.size()) >= params.max_tokens || pos + 1 >= cache_.capacity();
    if (at_length) return finish(FinishReason::kLength, {}, {}, std::move(out));
    on_output_(std::move(out));
    if (is_aborted()) return finish(FinishReason::kAbort, {});
    Status st = lm_.forward(std::span<const int32_t>(&token, 1), pos, cache_, logits_.data());
    if (!st.ok()) return finish(FinishReason::kError, {}, st);
    ++pos;
  }
}

}  // namespace podserve
