// The vocabulary as the matcher sees it, built once per tokenizer: each token's bytes (xgrammar's decoded
// vocabulary: byte-level tokens mapped back to bytes, SentencePiece '▁' to spaces and <0xXX> to the byte), the
// tokens sorted by their bytes with the trie over them (the mask cache walks it depth first, rolling the parser
// back one byte per level), and the stop tokens.
// Like xgrammar's TokenizerInfo: tokens whose bytes are empty, and the ids past the tokenizer up to the model's
// (padded) vocabulary size, are never allowed; the stop tokens only where the grammar may end; every other
// token, special ones included, matches by its text.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace podserve {
class Tokenizer;
}

namespace podserve::structured {

class TokenVocabulary {
 public:
  /// `token_bytes[id]` per tokenizer id; `vocab_size` >= token_bytes.size() is the model's (mask width).
  TokenVocabulary(std::vector<std::string> token_bytes, int32_t vocab_size, std::vector<int32_t> stop_tokens);
  /// From a tokenizer: its token bytes and its EOS as the stop token.
  static std::shared_ptr<const TokenVocabulary> from_tokenizer(const Tokenizer& tokenizer, int32_t vocab_size);

  int32_t vocab_size() const { return vocab_size_; }
  /// int32 words of a mask row: ceil(vocab_size / 32).
  size_t mask_words() const { return (static_cast<size_t>(vocab_size_) + 31) / 32; }
  const std::string& bytes(int32_t id) const { return bytes_[static_cast<size_t>(id)]; }
  size_t num_tokens() const { return bytes_.size(); }
  std::span<const int32_t> stop_tokens() const { return stop_tokens_; }
  bool is_stop(int32_t id) const;

  /// The matchable tokens (non-empty bytes, not a stop token), sorted by bytes.
  std::span<const int32_t> sorted() const { return sorted_; }
  /// The trie of sorted()'s bytes: node 0 is the root (the empty prefix). A node covers the sorted tokens
  /// [first, end) that start with its prefix, of which [first, exact_end) equal it (several ids may spell the
  /// same bytes); its children (one per next byte, ascending) are children()[child_begin, child_end).
  struct TrieNode {
    int32_t first = 0, end = 0;
    int32_t exact_end = 0;
    uint32_t child_begin = 0, child_end = 0;
  };
  struct TrieChild {
    uint8_t byte;
    int32_t node;
  };
  std::span<const TrieNode> trie() const { return trie_; }
  std::span<const TrieChild> children() const { return children_; }
  /// A hash of the bytes and stop tokens, for cache keys.
  uint64_t fingerprint() const { return fingerprint_; }

 private:
  std::vector<std::string> bytes_;
  int32_t vocab_size_;
  std::vector<int32_t> stop_tokens_;
  std::vector<int32_t> sorted_;
  std::vector<TrieNode> trie_;
  std::vector<TrieChild> children_;
  uint64_t fingerprint_ = 0;
};

}  // namespace podserve::structured
