#include "engine/beam_search.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "tokenizer/tokenizer.h"

namespace podserve {

double beam_search_score(const std::vector<int32_t>& tokens, double cumulative_logprob, int32_t eos_id,
                         double length_penalty) {
  size_t length = tokens.size();
  if (!tokens.empty() && tokens.back() == eos_id) --length;
  return cumulative_logprob / std::pow(static_cast<double>(std::max<size_t>(length, 1)), length_penalty);
}

BeamSearch::BeamSearch(GenerationRequest request, const Tokenizer& tokenizer, OutputCallback on_output)
    : request_(std::move(request)),
      tokenizer_(tokenizer),
      on_output_(std::move(on_output)),
      eos_id_(tokenizer.eos_id()),
      width_(request_.params.n) {
  beams_.push_back(Beam{request_.prompt_tokens, {}, 0.0});
}

std::vector<GenerationRequest> BeamSearch::step_requests() {
  std::vector<GenerationRequest> out;
  step_ids_.clear();
  step_outputs_.assign(beams_.size(), GenerationOutput{});
  step_finished_.assign(beams_.size(), false);
  step_pending_ = static_cast<int>(beams_.size());
  for (size_t i = 0; i < beams_.size(); ++i) {
    GenerationRequest r;
    r.request_id = request_.request_id + "-beam-" + std::to_string(steps_done_) + "-" + std::to_string(i);
    r.prompt_tokens = beams_[i].tokens;
    r.params.max_tokens = 1;
    r.params.temperature = request_.params.temperature;
    r.params.logprobs = 2 * width_;
    r.params.seed = request_.params.seed;
    r.lora = request_.lora;  // every step runs the request's adapter
    r.lora_ref = request_.lora_ref;
    step_ids_.push_back(r.request_id);
    out.push_back(std::move(r));
  }
  return out;
}

bool BeamSearch::record(int beam, GenerationOutput out) {
  GenerationOutput& acc = step_outputs_[static_cast<size_t>(beam)];
  acc.token_ids.insert(acc.token_ids.end(), out.token_ids.begin(), out.token_ids.end());
  for (TokenLogprobs& lp : out.logprobs) acc.logprobs.push_back(std::move(lp));
  acc.finish_reason = out.finish_reason;
  if (!out.error.ok()) acc.error = out.error;
  if (out.finished && !step_finished_[static_cast<size_t>(beam)]) {
    step_finished_[static_cast<size_t>(beam)] = true;
    --step_pending_;
  }
  return step_pending_ == 0;
}

bool BeamSearch::advance() {
  for (const GenerationOutput& out : step_outputs_) {
    if (out.finish_reason == FinishReason::kError) {
      fail(out.error.ok() ? internal_error("a beam's step failed") : out.error);
      return true;
    }
  }
  bool any_abort = aborted_;
  for (const GenerationOutput& out : step_outputs_) any_abort |= out.finish_reason == FinishReason::kAbort;
  if (any_abort) {
    finish(FinishReason::kAbort);
    return true;
  }
  struct Candidate {
    double cumulative_logprob;
    int32_t token;
    float logprob;
    size_t beam;
  };
  std::vector<Candidate> candidates;
  const bool ignore_eos = request_.params.ignore_eos;
  for (size_t i = 0; i < beams_.size(); ++i) {
    const GenerationOutput& out = step_outputs_[i];
    if (out.logprobs.empty()) continue;
    TokenLogprobs& step = step_outputs_[i].logprobs.front();
    // The step's alternatives: the top 2 * width, and the sampled token when it is not among them.
    std::vector<std::pair<int32_t, float>> alternatives = step.top;
    const bool sampled_listed = std::any_of(alternatives.begin(), alternatives.end(),
                                            [&](const auto& a) { return a.first == step.token; });
    if (!sampled_listed) alternatives.emplace_back(step.token, step.logprob);
    for (const auto& [token, logprob] : alternatives) {
      const double cumulative = beams_[i].cumulative_logprob + logprob;
      if (token == eos_id_ && !ignore_eos) {
        Beam done = beams_[i];
        if (request_.params.include_stop_str_in_output) done.tokens.push_back(eos_id_);
        done.logprobs.push_back(TokenLogprobs{token, logprob, 0, alternatives});
        done.cumulative_logprob = cumulative;
        done.finish = FinishReason::kStop;
        completed_.push_back(std::move(done));
      } else {
        candidates.push_back({cumulative, token, logprob, i});
      }
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.cumulative_logprob > b.cumulative_logprob;
  });
  if (candidates.size() > static_cast<size_t>(width_)) candidates.resize(static_cast<size_t>(width_));
  std::vector<Beam> next;
  for (const Candidate& c : candidates) {
    Beam beam = beams_[c.beam];
    const TokenLogprobs& step = step_outputs_[c.beam].logprobs.front();
    TokenLogprobs chosen{c.token, c.logprob, 0, step.top};
    beam.tokens.push_back(c.token);
    beam.logprobs.push_back(std::move(chosen));
    beam.cumulative_logprob = c.cumulative_logprob;
    next.push_back(std::move(beam));
  }
  beams_ = std::move(next);
  ++steps_done_;
  if (beams_.empty() || steps_done_ >= request_.params.max_tokens) {
    finish(FinishReason::kLength);
    return true;
  }
  return false;
}

void BeamSearch::finish(FinishReason live_reason) {
  for (Beam& beam : beams_) {
    beam.finish = live_reason;
    completed_.push_back(std::move(beam));
  }
  beams_.clear();
  const double penalty = request_.params.length_penalty;
  std::vector<double> scores;
  for (const Beam& b : completed_) scores.push_back(beam_search_score(b.tokens, b.cumulative_logprob, eos_id_, penalty));
  std::vector<size_t> order(completed_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  if (order.size() > static_cast<size_t>(width_)) order.resize(static_cast<size_t>(width_));
  const size_t prompt_len = request_.prompt_tokens.size();
  const std::optional<int> top_n = request_.params.logprobs;
  // Every choice index gets a final update (the caller counts n of them), even when fewer beams survived.
  for (int i = 0; i < width_; ++i) {
    GenerationOutput out;
    out.index = i;
    out.finished = true;
    out.prompt_tokens = static_cast<int>(prompt_len);
    if (static_cast<size_t>(i) >= order.size()) {
      out.finish_reason = live_reason;
      on_output_(std::move(out));
      continue;
    }
    const Beam& beam = completed_[order[static_cast<size_t>(i)]];
    out.token_ids.assign(beam.tokens.begin() + static_cast<std::ptrdiff_t>(prompt_len), beam.tokens.end());
    std::vector<int32_t> text_ids = out.token_ids;
    if (!text_ids.empty() && text_ids.back() == eos_id_ && !request_.params.ignore_eos) text_ids.pop_back();
    out.text_delta = tokenizer_.decode(text_ids, request_.params.skip_special_tokens);
    out.finish_reason = beam.finish;
    if (beam.finish == FinishReason::kStop) out.stop_reason = eos_id_;
    out.completion_tokens = static_cast<int>(out.token_ids.size());
    out.cumulative_logprob = beam.cumulative_logprob;
    if (top_n) {
      // One entry per returned token: the chosen token's logprob and rank among the step's alternatives.
      for (size_t t = 0; t < out.token_ids.size() && t < beam.logprobs.size(); ++t) {
        TokenLogprobs lp = beam.logprobs[t];
        int rank = 1;
        for (const auto& [token, logprob] : lp.top) rank += logprob > lp.logprob;
        lp.rank = rank;
        lp.top.resize(std::min(lp.top.size(), static_cast<size_t>(std::max(*top_n, 0))));
        out.logprobs.push_back(std::move(lp));
      }
    }
    on_output_(std::move(out));
  }
}

void BeamSearch::fail(const Status& error) {
  for (int i = 0; i < width_; ++i) {
    GenerationOutput out;
    out.index = i;
    out.finished = true;
    out.finish_reason = FinishReason::kError;
    out.prompt_tokens = static_cast<int>(request_.prompt_tokens.size());
    out.error = error;
    on_output_(std::move(out));
  }
}

}  // namespace podserve
