#include "engine/output_processor.h"

#include <algorithm>
#include <numeric>

namespace podserve {
namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void merge_into(GenerationOutput& held, GenerationOutput&& out) {
  held.text_delta += out.text_delta;
  held.token_ids.insert(held.token_ids.end(), out.token_ids.begin(), out.token_ids.end());
  held.logprobs.insert(held.logprobs.end(), out.logprobs.begin(), out.logprobs.end());
  if (held.prompt_logprobs.empty()) held.prompt_logprobs = std::move(out.prompt_logprobs);
  held.finished = out.finished;
  held.finish_reason = out.finish_reason;
  held.stop_reason = std::move(out.stop_reason);
  held.prompt_tokens = out.prompt_tokens;
  held.completion_tokens = out.completion_tokens;
  held.cached_tokens = out.cached_tokens;
  held.error = std::move(out.error);
}

}  // namespace

bool OutputProcessor::accept_token(Sequence& seq, int32_t token, const TokenLogprobs* logprobs, EngineStats& stats,
                                   bool grammar_terminated) {
  RequestState& r = *seq.request;
  const SamplingParams& p = r.request.params;
  const auto now = Clock::now();
  if (seq.num_output() > 0) stats.inter_token_latency.observe(std::chrono::duration<double>(now - seq.last_token_time).count());
  seq.last_token_time = now;
  if (!r.first_token) {
    r.first_token = now;
    stats.prompt_tokens += static_cast<int64_t>(r.request.prompt_tokens.size());
    stats.time_to_first_token.observe(std::chrono::duration<double>(now - r.arrival).count());
  }
  seq.tokens.push_back(token);
  seq.penalties.accept(token);
  ++stats.generation_tokens;
  if (logprobs != nullptr) seq.cumulative_logprob += logprobs->logprob;

  // A stop token ends generation and is not part of the text (unless include_stop_str_in_output).
  std::variant<std::monostate, std::string, int32_t> stop_reason;
  bool stop_token = false;
  if (seq.num_output() >= p.min_tokens) {  // vLLM: no stop checks while the output is shorter than min_tokens
    if (!p.ignore_eos && token == tokenizer_.eos_id()) {
      stop_token = true;
    } else if (std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), token) != p.stop_token_ids.end()) {
      stop_token = true;
      stop_reason = token;
    }
  }
  GenerationOutput out;
  out.index = seq.index;
  out.token_ids = {token};
  if (logprobs != nullptr && p.logprobs) out.logprobs = {*logprobs};
  if (!stop_token || p.include_stop_str_in_output) out.text_delta = seq.stop_checker.append(seq.detokenizer.push(token));
  if (seq.stop_checker.stopped()) {
    finish(seq, FinishReason::kStop, seq.stop_checker.matched(), std::move(out), stats);
    return true;
  }
  if (stop_token || grammar_terminated) {
    finish(seq, FinishReason::kStop, std::move(stop_reason), std::move(out), stats);
    return true;
  }
  if (seq.num_output() >= p.max_tokens || seq.num_tokens() >= max_model_len_) {
    finish(seq, FinishReason::kLength, {}, std::move(out), stats);
    return true;
  }
  emit(seq, std::move(out), stats);
  return false;
}

void OutputProcessor::finish_early(Sequence& seq, FinishReason reason, const Status& error, EngineStats& stats) {
  GenerationOutput out;
  out.index = seq.index;
  out.error = error;
  finish(seq, reason, {}, std::move(out), stats);
}

void OutputProcessor::finish(Sequence& seq, FinishReason reason,
                             std::variant<std::monostate, std::string, int32_t> stop_reason, GenerationOutput out,
                             EngineStats& stats) {
  if (reason != FinishReason::kStop || !seq.stop_checker.stopped()) {
    out.text_delta += seq.stop_checker.append(seq.detokenizer.flush());
    out.text_delta += seq.stop_checker.flush();
  }
  out.finished = true;
  out.finish_reason = reason;
  out.stop_reason = std::move(stop_reason);
  seq.status = SeqStatus::kFinished;
  RequestState& r = *seq.request;
  ++r.finished_sequences;
  if (r.finished_sequences == r.num_candidates()) {
    stats.e2e_request_latency.observe(seconds_since(r.arrival));
    ++stats.request_success[finish_reason_name(reason)];
  }
  emit(seq, std::move(out), stats);
}

void OutputProcessor::emit(Sequence& seq, GenerationOutput out, EngineStats& stats) {
  RequestState& r = *seq.request;
  out.prompt_tokens = seq.num_prompt;
  out.completion_tokens = seq.num_output();
  out.cached_tokens = seq.num_cached_prompt;
  out.prompt_logprobs.swap(seq.prompt_logprobs);  // sent once, with the first update
  if (!r.holds_outputs()) {
    seq.final_sent = out.finished;
    r.on_output(std::move(out));
    return;
  }
  r.held.resize(static_cast<size_t>(r.num_candidates()));
  merge_into(r.held[static_cast<size_t>(seq.index)], std::move(out));
  if (r.finished_sequences < r.num_candidates()) return;
  // best_of: return the n candidates with the highest cumulative logprob, renumbered 0..n-1.
  std::vector<int> order(r.sequences.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return r.sequences[a]->cumulative_logprob > r.sequences[b]->cumulative_logprob;
  });
  for (int i = 0; i < r.request.params.n; ++i) {
    GenerationOutput chosen = std::move(r.held[static_cast<size_t>(r.sequences[order[i]]->index)]);
    chosen.index = i;
    r.on_output(std::move(chosen));
  }
  (void)stats;
}

}  // namespace podserve
