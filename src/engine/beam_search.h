// Beam search as vLLM's (OpenAIServing.beam_search, vllm/entrypoints/generate/beam_search/online.py), so that a
// request moved from vLLM gets the same beams: each step runs every live beam as a one-token request asking for
// 2 * width logprobs (the prefix cache shares the prompt's and the beams' common blocks, so a step recomputes at
// most the last partial block of each beam), expands each beam into those candidates (plus the sampled token when
// temperature > 0 picked one outside them, as vLLM's logprobs dict holds it), keeps the `width` best by cumulative
// logprob, and moves every candidate that is EOS to the finished list (whatever its rank). After max_tokens steps
// the finished and live beams are ranked by vLLM's get_beam_search_score and the best `width` returned.
//
// Where this (vLLM's) differs from transformers' generate(num_beams=...): HF keeps an EOS candidate only if it
// ranks within the top num_beams of the 2 * num_beams candidates, stops early (early_stopping / the heuristic) and
// divides by the generated length only; vLLM takes every EOS among each beam's 2 * width candidates, runs all
// max_tokens steps (`early_stopping` is accepted and ignored), and its length counts the prompt too. Logprobs are
// the raw model's (temperature only changes the sampled token).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/request.h"

namespace podserve {

class Tokenizer;

/// vLLM's get_beam_search_score: cumulative logprob / max(length, 1) ** length_penalty, where `length` is the
/// number of tokens (prompt included), less a trailing EOS.
double beam_search_score(const std::vector<int32_t>& tokens, double cumulative_logprob, int32_t eos_id,
                         double length_penalty);

/// One beam search request's state. Not thread-safe: the engine drives it from its own thread.
class BeamSearch {
 public:
  BeamSearch(GenerationRequest request, const Tokenizer& tokenizer, OutputCallback on_output);

  const std::string& request_id() const { return request_.request_id; }
  /// The one-token requests of the current step, one per live beam (ids "<id>-beam-<step>-<beam>").
  std::vector<GenerationRequest> step_requests();
  /// The ids of the current step's requests (to abort them).
  const std::vector<std::string>& step_ids() const { return step_ids_; }
  /// Records an update of beam `beam`'s request; true when every beam of the step has finished (advance() is due).
  bool record(int beam, GenerationOutput out);
  /// Expands and prunes the beams with this step's logprobs. Returns true when the search is over: the request's
  /// n outputs (or its error) have then been sent.
  bool advance();
  /// Ends the search at the end of the current step (the beams so far finish with kAbort).
  void request_abort() { aborted_ = true; }

 private:
  struct Beam {
    std::vector<int32_t> tokens;           // prompt followed by the output
    std::vector<TokenLogprobs> logprobs;   // one per step (the step's 2 * width alternatives)
    double cumulative_logprob = 0.0;
    FinishReason finish = FinishReason::kNone;
  };
  void finish(FinishReason live_reason);
  void fail(const Status& error);

  GenerationRequest request_;
  const Tokenizer& tokenizer_;
  OutputCallback on_output_;
  int32_t eos_id_;
  int width_;
  int steps_done_ = 0;
  bool aborted_ = false;
  std::vector<Beam> beams_;
  std::vector<Beam> completed_;
  std::vector<std::string> step_ids_;
  std::vector<GenerationOutput> step_outputs_;  // one per live beam, filled by record()
  std::vector<bool> step_finished_;
  int step_pending_ = 0;
};

}  // namespace podserve
