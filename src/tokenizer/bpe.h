// Byte-pair-encoding model: a word (one pre-token; in byte-level spelling for GPT-2-style vocabularies) starts
// as one symbol per character and the adjacent pair with the lowest merge rank is merged until none applies,
// ties going to the leftmost pair, exactly as HF `tokenizers` (models/bpe/word.rs) does. Characters missing
// from the vocabulary become <0xXX> byte tokens (byte_fallback), the unknown token, or are dropped.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "tokenizer/flat_tables.h"

namespace podserve::tokenizer_internal {

/// Hash/equality that let unordered maps keyed by std::string be probed with a string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class BpeModel {
 public:
  struct Options {
    int32_t unk_id = -1;  // replaces characters missing from the vocabulary; -1: they are dropped
    bool fuse_unk = false;
    bool byte_fallback = false;
    bool ignore_merges = false;
  };
  using Merge = std::pair<std::string, std::string>;

  /// `tokens[id]` spells token `id` ("" = no model token). `merges` are in priority order; both halves and
  /// their concatenation must be tokens.
  static Result<BpeModel> create(const std::vector<std::string>& tokens, const std::vector<Merge>& merges,
                                 const Options& options);

  /// SentencePiece BPE (GGUF `llama`): every split of a token into two tokens is a merge, ranked by the
  /// merged token's score (higher first, then lower id), as HF's SentencePieceExtractor orders them.
  /// `mergeable[id]` says which tokens take part (normal ones, not control/byte tokens).
  static std::vector<Merge> merges_from_scores(const std::vector<std::string>& tokens,
                                               const std::vector<float>& scores,
                                               const std::vector<bool>& mergeable);

  /// Appends the ids of `word` (byte-level spelling, valid UTF-8). Thread-safe; results of short words are
  /// cached, since prompts repeat words and merging dominates the encode time.
  void encode_word(std::string_view word, std::vector<int32_t>* out) const;

  /// Id of the token spelled exactly `text`, or -1 (the last id wins if a spelling repeats).
  int32_t find(std::string_view text) const;

 private:
  using MergeTarget = MergeTable::Target;
  const MergeTarget* find_merge(int32_t a, int32_t b) const { return merges_.find(a, b); }
  void merge_word(std::string_view word, std::vector<int32_t>* out) const;

  struct WordCache {
    std::shared_mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> words;
  };

  TokenIndex vocab_;
  MergeTable merges_;
  Options options_;
  std::vector<int32_t> byte_ids_;  // <0xXX> token per byte (-1 if missing); filled when byte_fallback
  std::unique_ptr<WordCache> cache_ = std::make_unique<WordCache>();  // behind a pointer: keeps BpeModel movable
};

}  // namespace podserve::tokenizer_internal
