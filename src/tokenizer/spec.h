// TokenizerSpec: a tokenizer described as plain data, stage by stage as HF `tokenizers` runs it (added tokens
// -> normalizer -> pre-tokenizer -> BPE model -> post-processor; decoder for the way back). Built from a
// tokenizer.json (tokenizer_json.h) or from GGUF metadata (VocabData, tokenizer.h); Tokenizer::create
// validates and compiles it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace podserve {

/// One entry of tokenizer.json's `added_tokens` (GGUF: control and user-defined tokens).
struct AddedTokenSpec {
  int32_t id = -1;
  std::string content;
  bool special = true;      // skipped by decode(skip_special_tokens); not extracted when parse_special is off
  bool lstrip = false;      // swallows whitespace on its left
  bool rstrip = false;      // swallows whitespace on its right
  bool normalized = false;  // matched in normalized text (second pass) instead of raw text
  bool single_word = false; // only matches when not inside a word
};

struct NormalizerStep {
  enum class Kind { kPrepend, kReplace, kReplaceRegex, kNfc, kNfd, kNfkc, kNfkd, kLowercase, kStrip };
  Kind kind = Kind::kNfc;
  std::string pattern;  // Replace: what to replace (literal or regex)
  std::string content;  // Prepend: the prefix; Replace: the replacement
  bool strip_left = false, strip_right = false;  // Strip
};

/// HF's SplitDelimiterBehavior.
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct PreTokenizerStep {
  enum class Kind { kSplit, kByteLevel, kMetaspace, kDigits };
  enum class Prepend { kAlways, kFirst, kNever };
  Kind kind = Kind::kSplit;
  // Split: a regex (Oniguruma syntax) or a literal string.
  std::string pattern;
  bool pattern_is_regex = true;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  // ByteLevel.
  bool add_prefix_space = false;
  bool use_regex = true;
  // Metaspace.
  std::string replacement = "\xE2\x96\x81";  // U+2581 '▁'
  Prepend prepend_scheme = Prepend::kAlways;
  bool split = true;
  // Digits.
  bool individual_digits = false;
};

struct DecoderStep {
  enum class Kind { kByteLevel, kReplace, kByteFallback, kFuse, kStrip, kMetaspace };
  Kind kind = Kind::kByteLevel;
  std::string pattern, content;  // Replace: literal pattern -> content; Strip: content (one character)
  int start = 0, stop = 0;       // Strip
  std::string replacement = "\xE2\x96\x81";  // Metaspace
  bool prepend = true;                         // Metaspace: prepend_scheme != never
};

struct TokenizerSpec {
  // BPE model. `vocab[id]` is the model's spelling of token `id` ("" where the id belongs to no model token).
  std::vector<std::string> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in priority order
  std::vector<float> scores;  // SentencePiece (GGUF `llama`): merges come from scores when `merges` is empty
  bool merges_from_scores = false;
  int32_t unk_id = -1;        // replaces characters the vocabulary cannot spell; -1 drops them
  bool fuse_unk = false;
  bool byte_fallback = false;  // unknown characters become <0xXX> tokens
  bool ignore_merges = false;  // a pre-token that is itself a token is not merged (Llama-3)

  std::vector<AddedTokenSpec> added_tokens;
  std::vector<NormalizerStep> normalizer;
  std::vector<PreTokenizerStep> pre_tokenizer;
  std::vector<DecoderStep> decoder;  // empty: tokens are joined with " " (HF without a decoder)

  // Post-processor for add_special_tokens (TemplateProcessing's single sequence).
  std::vector<int32_t> prefix_ids, suffix_ids;

  int32_t bos_id = -1, eos_id = -1, pad_id = -1;
};

}  // namespace podserve
