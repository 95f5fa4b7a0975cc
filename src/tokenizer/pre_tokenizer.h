// Pre-tokenizers of byte-level BPE vocabularies, selected by GGUF's `tokenizer.ggml.pre` id. Each id is data:
// a list of regexes applied in order (each splits the pieces of the previous one, keeping matches and gaps),
// plus BPE options tied to it. Adding a vocabulary (e.g. "llama-bpe", "qwen2") is one table entry.
#pragma once

#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/regex.h"

namespace podserve::tokenizer_internal {

class PreTokenizer {
 public:
  /// The pre-tokenizer for `pre` ("" means "default"); an unknown id is InvalidArgument.
  static Result<PreTokenizer> create(std::string_view pre);

  /// Appends the pre-tokens of `text` (valid UTF-8) to `out`.
  void split(std::string_view text, std::vector<std::string_view>* out) const;

  /// BPE emits a pre-token that is itself a vocabulary entry without merging (HF `ignore_merges`).
  bool ignore_merges() const { return ignore_merges_; }

 private:
  PreTokenizer(std::vector<Regex> regexes, bool ignore_merges)
      : regexes_(std::move(regexes)), ignore_merges_(ignore_merges) {}
  std::vector<Regex> regexes_;
  bool ignore_merges_ = false;
};

}  // namespace podserve::tokenizer_internal
