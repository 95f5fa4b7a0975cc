// Prefix-cache keys: a chained 128-bit hash per full KV block, and the hash -> block index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>

namespace podserve {

/// XXH3-128 digest identifying a full block *and* everything before it (the chain makes block i's hash
/// depend on blocks 0..i-1), so equal hashes mean equal K/V contents. 128 bits keeps accidental collisions
/// negligible across billions of blocks.
struct BlockHash {
  uint64_t low = 0;
  uint64_t high = 0;
  friend bool operator==(const BlockHash&, const BlockHash&) = default;
};

struct BlockHashHasher {
  // XXH3 output is uniformly mixed, so its low word is already a good bucket hash.
  size_t operator()(const BlockHash& h) const { return static_cast<size_t>(h.low); }
};

/// A fresh random parent for block 0 (vLLM's NONE_HASH). Chosen per KvCacheManager so that a client cannot
/// precompute inputs whose hashes collide with another tenant's blocks.
BlockHash random_root_hash();

/// hash(parent, tokens, extra_keys). `extra_keys` carries what else changes the K/V besides the tokens
/// (the request's cache_salt, for block 0 only). Every field is length-prefixed, so no two different
/// (tokens, extra_keys) inputs serialize to the same bytes.
BlockHash hash_block(const BlockHash& parent, std::span<const int32_t> tokens, std::string_view extra_keys = {});

/// Hash -> physical block for every cached block (at most one block per hash).
class PrefixIndex {
 public:
  using BlockId = int32_t;

  std::optional<BlockId> find(const BlockHash& h) const;
  /// Adds h -> block. Returns false, changing nothing, if h is already indexed.
  bool insert(const BlockHash& h, BlockId block);
  /// Removes h (precondition: indexed to `block`).
  void erase(const BlockHash& h, BlockId block);
  void clear() { map_.clear(); }
  size_t size() const { return map_.size(); }
  const std::unordered_map<BlockHash, BlockId, BlockHashHasher>& entries() const { return map_; }

 private:
  std::unordered_map<BlockHash, BlockId, BlockHashHasher> map_;
};

}  // namespace podserve
