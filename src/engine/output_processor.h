// Turns sampled tokens into a request's outputs: detokenization, stop conditions (EOS, stop tokens, stop
// strings, max_tokens, context end), per-sequence finishing, and best_of selection. Runs on the engine thread.
#pragma once

#include <vector>

#include "engine/metrics.h"
#include "engine/sequence.h"

namespace podserve {

class OutputProcessor {
 public:
  OutputProcessor(const Tokenizer& tokenizer, int max_model_len) : tokenizer_(tokenizer), max_model_len_(max_model_len) {}

  /// Appends `token` to `seq` and emits the update. Returns true when the sequence finished with it.
  /// `grammar_terminated`: the structured-output grammar accepted its stop token, which ends the sequence (stop).
  bool accept_token(Sequence& seq, int32_t token, const TokenLogprobs* logprobs, EngineStats& stats,
                    bool grammar_terminated = false);
  /// Ends `seq` early (abort or engine error) and emits its final update.
  void finish_early(Sequence& seq, FinishReason reason, const Status& error, EngineStats& stats);

 private:
  void finish(Sequence& seq, FinishReason reason, std::variant<std::monostate, std::string, int32_t> stop_reason,
              GenerationOutput out, EngineStats& stats);
  /// Sends (or, for best_of > n, holds) one update; releases held outputs once every candidate finished.
  void emit(Sequence& seq, GenerationOutput out, EngineStats& stats);

  const Tokenizer& tokenizer_;
  int max_model_len_;
};

}  // namespace podserve
