#include "engine/kv_cache/block_pool.h"

#include <string>

#include "base/check.h"

namespace podserve {

BlockPool::BlockPool(int num_blocks) : num_blocks_(num_blocks), blocks_(num_blocks + 1) {
  PODSERVE_CHECK(num_blocks >= 0) << num_blocks;
  Block& sentinel = blocks_[num_blocks_];
  sentinel.prev = sentinel.next = num_blocks_;
  // Stack order: block 0 is handed out first (block tables in tests and logs read 0, 1, 2, ...).
  free_.reserve(num_blocks);
  for (BlockId b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
}

BlockPool::BlockId BlockPool::allocate() {
  PODSERVE_CHECK(num_available() > 0) << "allocate() from an exhausted pool";
  BlockId b;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else {
    b = blocks_[num_blocks_].next;  // LRU head: freed longest ago
    lru_remove(b);
    uncache(b);
  }
  Block& blk = blocks_[b];
  PODSERVE_CHECK(blk.refcount == 0 && !blk.cached) << "handing out block " << b << " in use";
  blk.refcount = 1;
  return b;
}

void BlockPool::incref(BlockId b) {
  PODSERVE_CHECK(b >= 0 && b < num_blocks_) << b;
  Block& blk = blocks_[b];
  // Only cached blocks can be picked up again at refcount 0 (through lookup); a free block is allocate()'s.
  PODSERVE_CHECK(blk.refcount > 0 || blk.cached) << "incref of free block " << b;
  if (is_evictable(blk)) lru_remove(b);
  ++blk.refcount;
}

void BlockPool::decref(BlockId b) {
  PODSERVE_CHECK(b >= 0 && b < num_blocks_) << b;
  Block& blk = blocks_[b];
  PODSERVE_CHECK(blk.refcount > 0) << "decref of unreferenced block " << b;
  if (--blk.refcount > 0) return;
  if (blk.cached) {
    lru_push_back(b);
  } else {
    free_.push_back(b);
  }
}

bool BlockPool::cache(BlockId b, const BlockHash& h) {
  Block& blk = blocks_[b];
  PODSERVE_CHECK(blk.refcount > 0 && !blk.cached) << "cache() of block " << b << " (refcount " << blk.refcount
                                                  << ", cached " << blk.cached << ")";
  if (!index_.insert(h, b)) return false;
  blk.cached = true;
  blk.hash = h;
  return true;
}

void BlockPool::evict_all() {
  while (num_evictable_ > 0) {
    const BlockId b = blocks_[num_blocks_].next;
    lru_remove(b);
    uncache(b);
    free_.push_back(b);
  }
}

void BlockPool::lru_push_back(BlockId b) {
  const BlockId tail = blocks_[num_blocks_].prev;
  blocks_[b].prev = tail;
  blocks_[b].next = num_blocks_;
  blocks_[tail].next = b;
  blocks_[num_blocks_].prev = b;
  ++num_evictable_;
}

void BlockPool::lru_remove(BlockId b) {
  Block& blk = blocks_[b];
  blocks_[blk.prev].next = blk.next;
  blocks_[blk.next].prev = blk.prev;
  blk.prev = blk.next = -1;
  --num_evictable_;
}

void BlockPool::uncache(BlockId b) {
  index_.erase(blocks_[b].hash, b);
  blocks_[b].cached = false;
  blocks_[b].hash = BlockHash{};
}

Status BlockPool::audit(std::span<const int> expected_refcounts) const {
  auto fail = [](const std::string& what) { return internal_error("block pool: " + what); };
  if (static_cast<int>(expected_refcounts.size()) != num_blocks_) return fail("refcount table size mismatch");
  // 0 = not seen, 1 = on the free list, 2 = on the LRU list.
  std::vector<int> seen(num_blocks_, 0);
  for (BlockId b : free_) {
    if (b < 0 || b >= num_blocks_) return fail("free list holds invalid id " + std::to_string(b));
    if (seen[b] != 0) return fail("block " + std::to_string(b) + " twice on the free list");
    seen[b] = 1;
    if (blocks_[b].refcount != 0) return fail("free block " + std::to_string(b) + " has a refcount");
    if (blocks_[b].cached) return fail("free block " + std::to_string(b) + " is cached");
  }
  int lru_len = 0;
  for (BlockId b = blocks_[num_blocks_].next, prev = num_blocks_; b != num_blocks_; prev = b, b = blocks_[b].next) {
    if (b < 0 || b >= num_blocks_) return fail("LRU list holds invalid id " + std::to_string(b));
    if (blocks_[b].prev != prev) return fail("LRU back link broken at block " + std::to_string(b));
    if (seen[b] != 0) return fail("block " + std::to_string(b) + " on the LRU list and another list");
    seen[b] = 2;
    if (!is_evictable(blocks_[b])) return fail("LRU block " + std::to_string(b) + " is not evictable");
    if (++lru_len > num_blocks_) return fail("LRU list has a cycle");
  }
  if (lru_len != num_evictable_) return fail("evictable count " + std::to_string(num_evictable_) + " != LRU length " +
                                              std::to_string(lru_len));
  int num_cached = 0, num_referenced = 0;
  for (BlockId b = 0; b < num_blocks_; ++b) {
    const Block& blk = blocks_[b];
    const std::string id = "block " + std::to_string(b);
    if (blk.refcount != expected_refcounts[b]) {
      return fail(id + " refcount " + std::to_string(blk.refcount) + " but " +
                  std::to_string(expected_refcounts[b]) + " block tables hold it");
    }
    if (blk.refcount > 0) ++num_referenced;
    if (blk.refcount == 0 && seen[b] == 0) return fail(id + " is unreferenced but on no list (leaked)");
    if (blk.refcount > 0 && seen[b] != 0) return fail(id + " is both used and free");
    if (blk.cached) {
      ++num_cached;
      const auto found = index_.find(blk.hash);
      if (!found || *found != b) return fail(id + " is cached but the index does not map its hash to it");
    }
  }
  if (static_cast<int>(index_.size()) != num_cached) return fail("index has entries for uncached blocks");
  if (num_referenced + static_cast<int>(free_.size()) + lru_len != num_blocks_) {
    return fail("used + free + evictable != total");
  }
  return ok_status();
}

}  // namespace podserve
