#include "structured/token_vocab.h"

#include <algorithm>
#include <numeric>

#include "tokenizer/tokenizer.h"

namespace podserve::structured {
namespace {

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

TokenVocabulary::TokenVocabulary(std::vector<std::string> token_bytes, int32_t vocab_size, std::vector<int32_t> stop_tokens)
    : bytes_(std::move(token_bytes)), vocab_size_(std::max<int32_t>(vocab_size, static_cast<int32_t>(bytes_.size()))),
      stop_tokens_(std::move(stop_tokens)) {
  std::sort(stop_tokens_.begin(), stop_tokens_.end());
  stop_tokens_.erase(std::unique(stop_tokens_.begin(), stop_tokens_.end()), stop_tokens_.end());
  std::erase_if(stop_tokens_, [this](int32_t id) { return id < 0 || id >= vocab_size_; });
  for (size_t id = 0; id < bytes_.size(); ++id) {
    if (!bytes_[id].empty() && !is_stop(static_cast<int32_t>(id))) sorted_.push_back(static_cast<int32_t>(id));
  }
  std::stable_sort(sorted_.begin(), sorted_.end(), [this](int32_t a, int32_t b) { return bytes_[static_cast<size_t>(a)] < bytes_[static_cast<size_t>(b)]; });
  // The trie, breadth of one node at a time: the tokens of a node's range that are longer than its depth are
  // grouped by their next byte (contiguous, since the tokens are sorted).
  struct Pending {
    int32_t node;
    uint32_t depth;
  };
  trie_.push_back(TrieNode{0, static_cast<int32_t>(sorted_.size()), 0, 0, 0});
  std::vector<Pending> stack{{0, 0}};
  while (!stack.empty()) {
    const Pending p = stack.back();
    stack.pop_back();
    int32_t i = trie_[static_cast<size_t>(p.node)].first;
    const int32_t end = trie_[static_cast<size_t>(p.node)].end;
    while (i < end && bytes_[static_cast<size_t>(sorted_[static_cast<size_t>(i)])].size() == p.depth) ++i;
    trie_[static_cast<size_t>(p.node)].exact_end = i;
    const auto child_begin = static_cast<uint32_t>(children_.size());
    while (i < end) {
      const auto byte = static_cast<uint8_t>(bytes_[static_cast<size_t>(sorted_[static_cast<size_t>(i)])][p.depth]);
      int32_t j = i + 1;
      while (j < end && static_cast<uint8_t>(bytes_[static_cast<size_t>(sorted_[static_cast<size_t>(j)])][p.depth]) == byte) ++j;
      const auto child = static_cast<int32_t>(trie_.size());
      trie_.push_back(TrieNode{i, j, i, 0, 0});
      children_.push_back(TrieChild{byte, child});
      stack.push_back({child, p.depth + 1});
      i = j;
    }
    trie_[static_cast<size_t>(p.node)].child_begin = child_begin;
    trie_[static_cast<size_t>(p.node)].child_end = static_cast<uint32_t>(children_.size());
  }
  uint64_t h = 1469598103934665603ull;
  for (const std::string& b : bytes_) {
    const uint64_t n = b.size();
    h = fnv1a(h, &n, sizeof(n));
    h = fnv1a(h, b.data(), b.size());
  }
  h = fnv1a(h, &vocab_size_, sizeof(vocab_size_));
  h = fnv1a(h, stop_tokens_.data(), stop_tokens_.size() * sizeof(int32_t));
  fingerprint_ = h;
}

bool TokenVocabulary::is_stop(int32_t id) const {
  return std::binary_search(stop_tokens_.begin(), stop_tokens_.end(), id);
}

std::shared_ptr<const TokenVocabulary> TokenVocabulary::from_tokenizer(const Tokenizer& tokenizer, int32_t vocab_size) {
  std::vector<std::string> bytes(static_cast<size_t>(tokenizer.vocab_size()));
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) bytes[static_cast<size_t>(id)] = tokenizer.token_bytes(id);
  std::vector<int32_t> stops;
  if (tokenizer.eos_id() >= 0) stops.push_back(tokenizer.eos_id());
  return std::make_shared<const TokenVocabulary>(std::move(bytes), vocab_size, std::move(stops));
}

}  // namespace podserve::structured
