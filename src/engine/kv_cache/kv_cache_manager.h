// Paged KV-cache bookkeeping: which physical blocks hold which sequence's K/V, shared prompt prefixes, and the
// prefix cache. Metadata only (block ids and counts, no tensors); the model owns the K/V memory, laid out as
// kv_layout.h says. Single-threaded: the engine loop thread owns it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "base/status.h"

namespace podserve {

using BlockId = int32_t;  // index into the model's K/V block pool
using SeqId = int64_t;

struct KvCacheConfig {
  int num_blocks = 0;
  int block_size = 16;              // tokens per block
  bool enable_prefix_caching = true;
};

/// Counters for /metrics (vLLM counts prefix-cache queries and hits in tokens).
struct KvCacheStats {
  int64_t prefix_queries = 0;  // prompt tokens looked up
  int64_t prefix_hits = 0;     // of those, found cached
};

class KvCacheManager {
 public:
  explicit KvCacheManager(const KvCacheConfig& config);
  KvCacheManager(const KvCacheManager&) = delete;
  KvCacheManager& operator=(const KvCacheManager&) = delete;
  ~KvCacheManager();

  /// Registers a sequence and attaches the cached full blocks that match `prompt`'s prefix (never the block
  /// holding the last prompt token: at least one token is always computed, so there are logits to sample from).
  /// Returns how many prompt tokens already have K/V. `cache_salt` changes every block hash (tenant isolation).
  int add_sequence(SeqId seq, std::span<const int32_t> prompt, std::string_view cache_salt = {});
  /// Ensures blocks back positions [0, num_tokens) of `seq`. Returns false, changing nothing, if the pool
  /// (free + evictable cached blocks) cannot supply them; the caller then preempts someone.
  bool allocate(SeqId seq, int num_tokens);
  /// Declares that K/V of tokens[0, num_computed) of `seq` are written. Full blocks not yet in the prefix cache
  /// are registered under their chained hash. `tokens` is the sequence's whole token list so far.
  void mark_computed(SeqId seq, std::span<const int32_t> tokens, int num_computed);
  /// Starts `child` as a copy of `parent` (n > 1): full blocks are shared (refcounts), the partial last block
  /// is duplicated. Returns the (source, destination) block pair whose K/V the caller must copy, or nullopt if
  /// none is needed. Fails (Status ResourceExhausted) when no block is free for the copy.
  Result<std::optional<std::pair<BlockId, BlockId>>> fork(SeqId parent, SeqId child);
  /// Releases the sequence's blocks: uncached ones become free, cached ones stay evictable (LRU).
  void free(SeqId seq);

  /// Physical block of each logical block of `seq` (empty for an unknown seq).
  std::span<const BlockId> block_table(SeqId seq) const;
  /// Where position `pos` of `seq` lives: block_table[pos / block_size] * block_size + pos % block_size.
  int64_t slot(SeqId seq, int pos) const;

  int block_size() const;
  int num_blocks() const;
  int num_free_blocks() const;  // free or evictable
  double usage() const;         // fraction of blocks referenced by live sequences
  const KvCacheStats& stats() const;
  /// Drops every cached block that no live sequence uses.
  void reset_prefix_cache();
  /// Recomputes every invariant from scratch (free + used = total; each refcount equals the number of block
  /// tables holding the block; the hash index and the evictable list agree; no block both free and used).
  Status audit() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace podserve
