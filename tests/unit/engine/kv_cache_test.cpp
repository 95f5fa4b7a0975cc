// KvCacheManager: block tables, refcounts, prefix-cache hits, LRU eviction, fork, and audit() after every step.
#include "engine/kv_cache/kv_cache_manager.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "engine/kv_cache/kv_layout.h"

namespace podserve {
namespace {

std::vector<int32_t> iota_tokens(int n, int32_t first) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

std::vector<BlockId> table(const KvCacheManager& kv, SeqId seq) {
  auto t = kv.block_table(seq);
  return {t.begin(), t.end()};
}

// Allocates and computes the whole of `tokens` for a fresh sequence; returns the cached-token count.
int run_prefill(KvCacheManager& kv, SeqId seq, const std::vector<int32_t>& tokens, std::string_view salt = {}) {
  const int cached = kv.add_sequence(seq, tokens, salt);
  EXPECT_TRUE(kv.allocate(seq, static_cast<int>(tokens.size())));
  kv.mark_computed(seq, tokens, static_cast<int>(tokens.size()));
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
  return cached;
}

enum class Op { kAdd, kAllocate, kCompute, kFork, kFree };

struct Step {
  Op op;
  SeqId seq;
  int arg;                          // add/compute: token count; allocate: positions; fork: child id
  int32_t first_token;              // add/compute: the sequence's tokens are first_token, first_token + 1, ...
  int expect;                       // add: cached tokens; allocate: 1 = success; fork: 1 = a copy pair
  std::vector<BlockId> expect_table;  // of `seq` (of the child for fork)
  int expect_available;
};

TEST(KvCache, StepTable) {
  KvCacheManager kv({.num_blocks = 8, .block_size = 4, .enable_prefix_caching = true});
  constexpr int32_t kA = 100, kB = 500;
  const std::vector<Step> steps = {
      {Op::kAdd, 1, 10, kA, 0, {}, 8},
      {Op::kAllocate, 1, 10, 0, 1, {0, 1, 2}, 5},
      {Op::kCompute, 1, 10, kA, 0, {0, 1, 2}, 5},     // blocks 0, 1 become cached
      {Op::kFork, 1, 2, 0, 1, {0, 1, 3}, 4},          // shares 0, 1; copies partial block 2 into 3
      {Op::kAllocate, 2, 13, 0, 1, {0, 1, 3, 4}, 3},
      {Op::kFree, 1, 0, 0, 0, {}, 4},                 // only block 2 is released; 0, 1 still held by seq 2
      {Op::kFree, 2, 0, 0, 0, {}, 8},                 // 4, 3 free; 1, 0 evictable
      {Op::kAdd, 3, 10, kA, 8, {0, 1}, 6},            // hits both cached blocks, never the last token's
      {Op::kAllocate, 3, 10, 0, 1, {0, 1, 3}, 5},
      {Op::kFree, 3, 0, 0, 0, {}, 8},                 // LRU order now: 1, 0
      {Op::kAdd, 4, 28, kB, 0, {}, 8},
      {Op::kAllocate, 4, 40, 0, 0, {}, 8},            // 10 blocks > 8: nothing changes
      {Op::kAllocate, 4, 28, 0, 1, {3, 4, 2, 5, 6, 7, 1}, 1},  // free blocks first, then evicts 1 (LRU head)
      {Op::kAdd, 5, 10, kA, 4, {0}, 0},               // block 0 still cached; the chain breaks at evicted 1
      {Op::kAllocate, 5, 10, 0, 0, {0}, 0},
      {Op::kFree, 4, 0, 0, 0, {}, 7},
      {Op::kAllocate, 5, 10, 0, 1, {0, 3, 4}, 5},
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    SCOPED_TRACE("step " + std::to_string(i));
    SeqId shown = s.seq;
    switch (s.op) {
      case Op::kAdd:
        EXPECT_EQ(kv.add_sequence(s.seq, iota_tokens(s.arg, s.first_token)), s.expect);
        break;
      case Op::kAllocate:
        EXPECT_EQ(kv.allocate(s.seq, s.arg), s.expect == 1);
        break;
      case Op::kCompute:
        kv.mark_computed(s.seq, iota_tokens(s.arg, s.first_token), s.arg);
        break;
      case Op::kFork: {
        auto copy = kv.fork(s.seq, s.arg);
        ASSERT_TRUE(copy.ok()) << copy.status().to_string();
        EXPECT_EQ(copy->has_value(), s.expect == 1);
        shown = s.arg;
        break;
      }
      case Op::kFree:
        kv.free(s.seq);
        break;
    }
    EXPECT_EQ(table(kv, shown), s.expect_table);
    EXPECT_EQ(kv.num_free_blocks(), s.expect_available);
    EXPECT_DOUBLE_EQ(kv.usage(), (8.0 - s.expect_available) / 8.0);
    const Status audit = kv.audit();
    ASSERT_TRUE(audit.ok()) << audit.to_string();
  }
}

TEST(KvCache, PrefixHitsAcrossSequences) {
  KvCacheManager kv({.num_blocks = 256, .block_size = 16, .enable_prefix_caching = true});
  const std::vector<int32_t> prefix = iota_tokens(1000, 7);
  EXPECT_EQ(run_prefill(kv, 1, prefix), 0);
  EXPECT_EQ(kv.stats().prefix_queries, 1000);
  EXPECT_EQ(kv.stats().prefix_hits, 0);

  // Same prompt: 62 full blocks (992 tokens) hit; block 62 holds the last token and is recomputed.
  EXPECT_EQ(kv.add_sequence(2, prefix), 992);
  EXPECT_EQ(kv.stats().prefix_queries, 2000);
  EXPECT_EQ(kv.stats().prefix_hits, 992);
  const auto t1 = table(kv, 1), t2 = table(kv, 2);
  ASSERT_EQ(t2.size(), 62u);
  EXPECT_TRUE(std::equal(t2.begin(), t2.end(), t1.begin()));

  // A longer prompt sharing the prefix: seq 1's block 62 was partial, so again 992.
  std::vector<int32_t> longer = prefix;
  for (int i = 0; i < 50; ++i) longer.push_back(50000 + i);
  EXPECT_EQ(kv.add_sequence(3, longer), 992);
  EXPECT_EQ(kv.stats().prefix_queries, 3050);
  EXPECT_EQ(kv.stats().prefix_hits, 1984);
  // Shared blocks count once in usage: 63 (seq 1) + 0 new for seqs 2 and 3 so far.
  EXPECT_EQ(kv.num_free_blocks(), 256 - 63);
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
}

TEST(KvCache, NeverAttachesTheLastPromptTokensBlock) {
  KvCacheManager kv({.num_blocks = 16, .block_size = 4, .enable_prefix_caching = true});
  run_prefill(kv, 1, iota_tokens(12, 1));                // blocks of [1..4], [5..8], [9..12] all cached
  EXPECT_EQ(kv.add_sequence(2, iota_tokens(8, 1)), 4);    // block 1 holds token 8, the last
  EXPECT_EQ(kv.add_sequence(3, iota_tokens(9, 1)), 8);
  EXPECT_EQ(kv.add_sequence(4, iota_tokens(12, 1)), 8);
  EXPECT_EQ(kv.add_sequence(5, iota_tokens(13, 1)), 12);
  EXPECT_EQ(kv.add_sequence(6, iota_tokens(4, 1)), 0);
  EXPECT_EQ(kv.add_sequence(7, iota_tokens(1, 1)), 0);
  EXPECT_EQ(kv.add_sequence(8, {}), 0);
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
}

TEST(KvCache, ABlockMatchesOnlyAfterTheSamePrefix) {
  KvCacheManager kv({.num_blocks = 16, .block_size = 4, .enable_prefix_caching = true});
  const auto p = iota_tokens(4, 1), q = iota_tokens(4, 50);
  std::vector<int32_t> pq = p;
  pq.insert(pq.end(), q.begin(), q.end());
  run_prefill(kv, 1, pq);  // caches [p] and [p][q]
  std::vector<int32_t> qp = q;
  qp.insert(qp.end(), p.begin(), p.end());
  qp.push_back(0);
  EXPECT_EQ(kv.add_sequence(2, qp), 0);  // [q] at position 0 is not [p][q]
  pq.push_back(0);
  EXPECT_EQ(kv.add_sequence(3, pq), 8);
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
}

TEST(KvCache, CacheSaltSeparatesTenants) {
  KvCacheManager kv({.num_blocks = 32, .block_size = 4, .enable_prefix_caching = true});
  const auto prompt = iota_tokens(20, 3);
  EXPECT_EQ(run_prefill(kv, 1, prompt, "tenant-a"), 0);
  EXPECT_EQ(kv.add_sequence(2, prompt, "tenant-b"), 0);
  EXPECT_EQ(kv.add_sequence(3, prompt), 0);
  EXPECT_EQ(kv.add_sequence(4, prompt, "tenant-a"), 16);
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
}

TEST(KvCache, EvictsLeastRecentlyFreedFirst) {
  KvCacheManager kv({.num_blocks = 4, .block_size = 4, .enable_prefix_caching = true});
  for (SeqId s = 1; s <= 4; ++s) run_prefill(kv, s, iota_tokens(4, static_cast<int32_t>(100 * s)));
  EXPECT_EQ(kv.num_free_blocks(), 0);
  for (SeqId s : {2, 4, 1, 3}) kv.free(s);
  EXPECT_EQ(kv.num_free_blocks(), 4);
  EXPECT_DOUBLE_EQ(kv.usage(), 0.0);
  kv.add_sequence(9, iota_tokens(8, 9000));
  ASSERT_TRUE(kv.allocate(9, 8));  // evicts seq 2's block, then seq 4's
  kv.free(9);
  // Probe with one extra token so the full block is attachable.
  auto probe = [&](SeqId id, int32_t first) {
    auto tokens = iota_tokens(4, first);
    tokens.push_back(1);
    return kv.add_sequence(id, tokens);
  };
  EXPECT_EQ(probe(11, 100), 4);
  EXPECT_EQ(probe(12, 200), 0);
  EXPECT_EQ(probe(13, 300), 4);
  EXPECT_EQ(probe(14, 400), 0);
  EXPECT_EQ(kv.num_free_blocks(), 2);  // the two hits left the evictable list
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
}

TEST(KvCache, PrefersFreeBlocksOverEvictingCachedOnes) {
  KvCacheManager kv({.num_blocks = 4, .block_size = 4, .enable_prefix_caching = true});
  run_prefill(kv, 1, iota_tokens(4, 1));
  kv.free(1);
  kv.add_sequence(2, iota_tokens(12, 500));
  ASSERT_TRUE(kv.allocate(2, 12));  // three never-cached blocks; seq 1's stays cached
  EXPECT_EQ(kv.add_sequence(3, iota_tokens(5, 1)), 4);
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
}

TEST(KvCache, AllocationIsAllOrNothing) {
  KvCacheManager kv({.num_blocks = 4, .block_size = 4, .enable_prefix_caching = true});
  kv.add_sequence(1, iota_tokens(12, 1));
  kv.add_sequence(2, iota_tokens(8, 100));
  ASSERT_TRUE(kv.allocate(1, 12));
  EXPECT_TRUE(kv.allocate(1, 12));   // already backed: no-op
  EXPECT_FALSE(kv.allocate(2, 8));   // needs 2, 1 left
  EXPECT_TRUE(table(kv, 2).empty());
  EXPECT_EQ(kv.num_free_blocks(), 1);
  EXPECT_FALSE(kv.allocate(1, 20));  // grow by 2: also refused, table unchanged
  EXPECT_EQ(table(kv, 1).size(), 3u);
  EXPECT_TRUE(kv.allocate(2, 4));
  EXPECT_EQ(kv.num_free_blocks(), 0);
  EXPECT_DOUBLE_EQ(kv.usage(), 1.0);
  // slot(): block_table[pos / block_size] * block_size + pos % block_size.
  const auto t1 = table(kv, 1);
  EXPECT_EQ(kv.slot(1, 9), t1[2] * 4 + 1);
  EXPECT_EQ(slot_of(t1, 4, 9), kv.slot(1, 9));
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
}

TEST(KvCache, ForkSharesFullBlocksAndCopiesThePartialOne) {
  KvCacheManager kv({.num_blocks = 8, .block_size = 4, .enable_prefix_caching = true});
  auto tokens = iota_tokens(10, 1);
  run_prefill(kv, 1, tokens);
  auto copy = kv.fork(1, 2);
  ASSERT_TRUE(copy.ok());
  ASSERT_TRUE(copy->has_value());
  const auto t1 = table(kv, 1), t2 = table(kv, 2);
  ASSERT_EQ(t2.size(), 3u);
  EXPECT_EQ(t2[0], t1[0]);
  EXPECT_EQ(t2[1], t1[1]);
  EXPECT_EQ((*copy)->first, t1[2]);
  EXPECT_EQ((*copy)->second, t2[2]);
  EXPECT_NE(t2[2], t1[2]);

  // The child continues the parent's hash chain: its own full block 2 becomes findable.
  auto child_tokens = tokens;
  child_tokens.insert(child_tokens.end(), {77, 78});
  ASSERT_TRUE(kv.allocate(2, 12));
  kv.mark_computed(2, child_tokens, 12);
  child_tokens.push_back(79);
  EXPECT_EQ(kv.add_sequence(3, child_tokens), 12);
  EXPECT_EQ(table(kv, 3)[2], t2[2]);

  // At a block boundary there is nothing to copy.
  run_prefill(kv, 4, iota_tokens(8, 1000));
  auto none = kv.fork(4, 5);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(table(kv, 5), table(kv, 4));
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
}

TEST(KvCache, ForkFailsCleanlyWithoutAFreeBlock) {
  KvCacheManager kv({.num_blocks = 3, .block_size = 4, .enable_prefix_caching = true});
  run_prefill(kv, 1, iota_tokens(10, 1));
  auto copy = kv.fork(1, 2);
  ASSERT_FALSE(copy.ok());
  EXPECT_EQ(copy.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(kv.block_table(2).empty());
  EXPECT_EQ(kv.num_free_blocks(), 0);
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
  kv.free(2);  // never created: a no-op
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
}

TEST(KvCache, ConcurrentIdenticalPrefixesIndexOneCopy) {
  KvCacheManager kv({.num_blocks = 8, .block_size = 4, .enable_prefix_caching = true});
  const auto tokens = iota_tokens(8, 1);
  EXPECT_EQ(kv.add_sequence(1, tokens), 0);
  EXPECT_EQ(kv.add_sequence(2, tokens), 0);  // seq 1 has not computed anything yet
  for (SeqId s : {1, 2}) {
    ASSERT_TRUE(kv.allocate(s, 8));
    kv.mark_computed(s, tokens, 8);
    ASSERT_TRUE(kv.audit().ok()) << kv.audit().to_string();
  }
  const auto t1 = table(kv, 1);
  kv.free(1);
  kv.free(2);  // seq 2's copies were never indexed: they go straight to the free list
  EXPECT_EQ(kv.num_free_blocks(), 8);
  auto probe = tokens;
  probe.push_back(9);
  EXPECT_EQ(kv.add_sequence(3, probe), 8);
  EXPECT_EQ(table(kv, 3), t1);
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
}

TEST(KvCache, ResetPrefixCacheDropsOnlyUnusedBlocks) {
  KvCacheManager kv({.num_blocks = 16, .block_size = 4, .enable_prefix_caching = true});
  const auto a = iota_tokens(9, 1), b = iota_tokens(9, 100);
  run_prefill(kv, 1, a);
  run_prefill(kv, 2, b);
  kv.free(1);
  kv.reset_prefix_cache();
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
  EXPECT_EQ(kv.add_sequence(3, a), 0);  // seq 1's blocks were dropped
  EXPECT_EQ(kv.add_sequence(4, b), 8);  // seq 2 is live: its blocks stay cached
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
}

TEST(KvCache, PrefixCachingOffLooksUpAndRegistersNothing) {
  KvCacheManager kv({.num_blocks = 8, .block_size = 4, .enable_prefix_caching = false});
  const auto tokens = iota_tokens(9, 1);
  EXPECT_EQ(run_prefill(kv, 1, tokens), 0);
  EXPECT_EQ(run_prefill(kv, 2, tokens), 0);
  kv.free(1);
  kv.free(2);
  EXPECT_EQ(kv.add_sequence(3, tokens), 0);
  EXPECT_EQ(kv.stats().prefix_queries, 0);
  EXPECT_EQ(kv.stats().prefix_hits, 0);
  EXPECT_EQ(kv.num_free_blocks(), 8);
  EXPECT_TRUE(kv.audit().ok()) << kv.audit().to_string();
}

}  // namespace
}  // namespace podserve
