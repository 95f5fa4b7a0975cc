// Byte-pair-encoding model over a byte-level vocabulary: a word (one pre-token, in byte-level spelling) starts
// as one symbol per character and the adjacent pair with the lowest merge rank is merged until none applies,
// ties going to the leftmost pair, exactly as HF `tokenizers` (models/bpe/word.rs) does.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace podserve::tokenizer_internal {

/// Hash/equality that let unordered maps keyed by std::string be probed with a string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class BpeModel {
 public:
  /// `merges` are "left right" in priority order; both halves and their concatenation must be tokens.
  /// `unk_id` (-1 for none) replaces characters missing from the vocabulary; without it they are dropped.
  static Result<BpeModel> create(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
                                 int32_t unk_id, bool ignore_merges);

  /// Appends the ids of `word` (byte-level spelling, valid UTF-8). Thread-safe; results of short words are
  /// cached, since prompts repeat words and merging dominates the encode time.
  void encode_word(std::string_view word, std::vector<int32_t>* out) const;

  /// Id of the token spelled exactly `text`, or -1 (the last id wins if a spelling repeats).
  int32_t find(std::string_view text) const;

 private:
  struct MergeTarget {
    uint32_t rank;
    int32_t id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  const MergeTarget* find_merge(int32_t a, int32_t b) const;
  void merge_word(std::string_view word, std::vector<int32_t>* out) const;

  struct WordCache {
    std::shared_mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> words;
  };

  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> vocab_;
  std::unordered_map<uint64_t, MergeTarget> merges_;
  int32_t unk_id_ = -1;
  bool ignore_merges_ = false;
  std::unique_ptr<WordCache> cache_ = std::make_unique<WordCache>();  // behind a pointer: keeps BpeModel movable
};

}  // namespace podserve::tokenizer_internal
