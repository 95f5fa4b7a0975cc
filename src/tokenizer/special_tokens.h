// Splits special (added) token texts out of raw text before pre-tokenization. Matching is leftmost-longest,
// like the Aho-Corasick automaton HF `tokenizers` runs over its added tokens.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace podserve::tokenizer_internal {

class SpecialTokenMatcher {
 public:
  /// One piece of the split: ordinary text (`id` -1) or a whole special token.
  struct Segment {
    std::string_view text;
    int32_t id;
  };

  /// Registers a token; empty texts are ignored.
  void add(std::string_view text, int32_t id);
  bool empty() const { return count_ == 0; }

  /// Appends the segments of `text` to `out`, in order; ordinary segments are never empty.
  void split(std::string_view text, std::vector<Segment>* out) const;

 private:
  struct Entry {
    std::string text;
    int32_t id;
  };
  std::array<std::vector<Entry>, 256> by_first_byte_;  // each bucket sorted longest first
  size_t count_ = 0;
};

}  // namespace podserve::tokenizer_internal
