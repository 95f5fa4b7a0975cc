// HF pre-tokenizers (Split, ByteLevel, Metaspace, Digits), applied in sequence: each step splits (and may
// rewrite) the pieces the previous one produced. Regexes run on Oniguruma, HF's own engine.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/regex.h"
#include "tokenizer/spec.h"

namespace podserve::tokenizer_internal {

/// HF `ByteLevel(use_regex=true)` (pre_tokenizers/byte_level.rs), including the final `|\s+` that
/// llama.cpp's copy omits.
inline constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
/// Llama-3 (OpenAI cl100k_base).
inline constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
/// Qwen2/2.5/3: cl100k with single digits.
inline constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

class PreTokenizer {
 public:
  /// A piece of text on its way to the model; `at_start` marks the piece at offset 0 of the input
  /// (Metaspace's prepend_scheme "first").
  struct Piece {
    std::string text;
    bool at_start = false;
  };

  /// Compiles the steps; a bad regex is InvalidArgument.
  static Result<PreTokenizer> create(const std::vector<PreTokenizerStep>& steps);

  /// Appends the pre-tokens of `text` (valid UTF-8) to `out`; no piece is empty.
  void split(std::string_view text, bool at_start, std::vector<std::string>* out) const;

  /// Whether the pieces come out in GPT-2's byte-level spelling (a ByteLevel step ran).
  bool byte_level() const { return byte_level_; }

 private:
  struct Step {
    PreTokenizerStep spec;
    std::vector<Regex> regex;  // 0 or 1
  };
  void apply(const Step& step, Piece piece, std::vector<Piece>* out) const;
  std::vector<Step> steps_;
  bool byte_level_ = false;
};

}  // namespace podserve::tokenizer_internal
