// Splits added-token texts out of text before normalization/pre-tokenization. Matching is leftmost-longest,
// like the Aho-Corasick automaton HF `tokenizers` runs over its added tokens, with HF's lstrip / rstrip
// (swallow neighbouring whitespace) and single_word (not inside a word) options.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace podserve::tokenizer_internal {

/// How an added token matches (HF AddedToken flags).
struct AddedTokenMatch {
  bool lstrip = false, rstrip = false, single_word = false;
};

class SpecialTokenMatcher {
 public:
  /// One piece of the split: ordinary text (`id` -1) or a whole added token (with any whitespace it swallowed).
  struct Segment {
    std::string_view text;
    int32_t id;
  };
  using Options = AddedTokenMatch;

  /// Registers a token; empty texts are ignored.
  void add(std::string_view text, int32_t id, Options options = {});
  bool empty() const { return count_ == 0; }

  /// Appends the segments of `text` to `out`, in order; ordinary segments are never empty.
  void split(std::string_view text, std::vector<Segment>* out) const;

 private:
  struct Entry {
    std::string text;
    int32_t id;
    Options options;
  };
  std::array<std::vector<Entry>, 256> by_first_byte_;  // each bucket sorted longest first
  size_t count_ = 0;
};

}  // namespace podserve::tokenizer_internal
