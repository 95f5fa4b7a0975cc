// The physical block pool: refcounts, the free list, the LRU list of evictable cached blocks, and the prefix
// index. Metadata only; block ids index the model's K/V pools (kv_layout.h).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/status.h"
#include "engine/kv_cache/block_hash.h"

namespace podserve {

/// Every block is in exactly one state:
///   free       refcount 0, not cached       on the free list (handed out first)
///   evictable  refcount 0, cached           on the LRU list (still findable by hash; evicted oldest-first)
///   used       refcount > 0, maybe cached   in one or more block tables
/// Unlike vLLM's single free queue, never-cached blocks are handed out before any cached one is evicted, so
/// the prefix cache keeps as much as the pool can afford.
class BlockPool {
 public:
  using BlockId = int32_t;

  explicit BlockPool(int num_blocks);

  int num_blocks() const { return num_blocks_; }
  /// Blocks an allocation can take: free plus evictable.
  int num_available() const { return static_cast<int>(free_.size()) + num_evictable_; }
  int num_evictable() const { return num_evictable_; }
  int num_used() const { return num_blocks() - num_available(); }
  int refcount(BlockId b) const { return blocks_[b].refcount; }
  bool is_cached(BlockId b) const { return blocks_[b].cached; }

  /// Takes one block with refcount 0 and returns it with refcount 1 and no hash: a free one if any, else the
  /// least recently freed evictable one, whose hash entry is dropped. Precondition: num_available() > 0.
  BlockId allocate();
  /// Shares `b` (refcount + 1). An evictable block leaves the LRU list.
  void incref(BlockId b);
  /// Drops one reference. At zero a cached block goes to the LRU (most recent) end, an uncached one to the
  /// free list.
  void decref(BlockId b);

  /// The cached block holding `h`, if any (used or evictable).
  std::optional<BlockId> lookup(const BlockHash& h) const { return index_.find(h); }
  /// Caches used block `b` under `h`. Returns false, changing nothing, if `h` is already cached in another
  /// block (two sequences computed the same prefix at once: the first copy wins). Precondition: `b` is used
  /// and not cached yet.
  bool cache(BlockId b, const BlockHash& h);
  const BlockHash& hash_of(BlockId b) const { return blocks_[b].hash; }
  /// Evicts every evictable block (they become free). Used blocks stay cached.
  void evict_all();

  /// Checks the pool's own invariants and that each refcount equals `expected_refcounts[b]` (the number of
  /// block tables holding b, counted by the caller).
  Status audit(std::span<const int> expected_refcounts) const;

 private:
  struct Block {
    int32_t refcount = 0;
    bool cached = false;
    BlockHash hash;     // valid when cached
    BlockId prev = -1;  // LRU links, valid when evictable; the sentinel is index num_blocks()
    BlockId next = -1;
  };
  bool is_evictable(const Block& b) const { return b.refcount == 0 && b.cached; }
  void lru_push_back(BlockId b);
  void lru_remove(BlockId b);
  void uncache(BlockId b);

  int num_blocks_ = 0;
  std::vector<Block> blocks_;   // num_blocks + 1: the last is the LRU sentinel (head = its next)
  std::vector<BlockId> free_;   // stack; top = back
  int num_evictable_ = 0;
  PrefixIndex index_;
};

}  // namespace podserve
