// KvCacheManager: per-sequence block tables and hash chains over a BlockPool.
#include "engine/kv_cache/kv_cache_manager.h"

#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "base/check.h"
#include "engine/kv_cache/block_hash.h"
#include "engine/kv_cache/block_pool.h"
#include "engine/kv_cache/kv_layout.h"

namespace podserve {

static_assert(std::is_same_v<BlockId, BlockPool::BlockId> && std::is_same_v<BlockId, int32_t>,
              "kv_layout.h's slot_of() takes block ids as int32_t");

namespace {

struct SeqState {
  std::vector<BlockId> blocks;     // logical block i -> physical block
  std::vector<BlockHash> hashes;   // chain hash of each computed full block (empty with prefix caching off)
  std::string salt;                // extra key of block 0
  int num_computed = 0;            // tokens whose K/V are written
};

}  // namespace

struct KvCacheManager::Impl {
  KvCacheConfig config;
  BlockPool pool;
  BlockHash root = random_root_hash();
  std::unordered_map<SeqId, SeqState> seqs;
  KvCacheStats stats;

  explicit Impl(const KvCacheConfig& c) : config(c), pool(c.num_blocks) {}

  SeqState& get(SeqId seq) {
    auto it = seqs.find(seq);
    PODSERVE_CHECK(it != seqs.end()) << "unknown sequence " << seq;
    return it->second;
  }
  const SeqState* find(SeqId seq) const {
    auto it = seqs.find(seq);
    return it == seqs.end() ? nullptr : &it->second;
  }
  /// Chain hash of logical block i of `s`, given its tokens; needs the hashes of blocks 0..i-1.
  BlockHash hash_of_block(const SeqState& s, size_t i, std::span<const int32_t> tokens) const {
    const int bs = config.block_size;
    return hash_block(i == 0 ? root : s.hashes[i - 1], tokens.subspan(i * bs, bs),
                      i == 0 ? std::string_view(s.salt) : std::string_view());
  }
};

KvCacheManager::KvCacheManager(const KvCacheConfig& config) {
  PODSERVE_CHECK(config.block_size > 0 && config.num_blocks >= 0)
      << "block_size " << config.block_size << ", num_blocks " << config.num_blocks;
  impl_ = std::make_unique<Impl>(config);
}

KvCacheManager::~KvCacheManager() = default;

int KvCacheManager::add_sequence(SeqId seq, std::span<const int32_t> prompt, std::string_view cache_salt) {
  PODSERVE_CHECK(!impl_->seqs.contains(seq)) << "sequence " << seq << " added twice";
  SeqState& s = impl_->seqs[seq];
  s.salt = std::string(cache_salt);
  if (!impl_->config.enable_prefix_caching || prompt.empty()) return 0;
  const int bs = impl_->config.block_size;
  // The block holding the last prompt token is never attached: that token must be recomputed for its logits.
  const size_t max_blocks = (prompt.size() - 1) / bs;
  for (size_t i = 0; i < max_blocks; ++i) {
    const BlockHash h = impl_->hash_of_block(s, i, prompt);
    const std::optional<BlockId> cached = impl_->pool.lookup(h);
    if (!cached) break;  // a chain: nothing after the first miss can match
    impl_->pool.incref(*cached);
    s.blocks.push_back(*cached);
    s.hashes.push_back(h);
  }
  s.num_computed = static_cast<int>(s.blocks.size()) * bs;
  impl_->stats.prefix_queries += static_cast<int64_t>(prompt.size());
  impl_->stats.prefix_hits += s.num_computed;
  return s.num_computed;
}

bool KvCacheManager::allocate(SeqId seq, int num_tokens) {
  SeqState& s = impl_->get(seq);
  const int bs = impl_->config.block_size;
  const int needed = (num_tokens + bs - 1) / bs - static_cast<int>(s.blocks.size());
  if (needed <= 0) return true;
  if (needed > impl_->pool.num_available()) return false;  // all-or-nothing
  for (int i = 0; i < needed; ++i) s.blocks.push_back(impl_->pool.allocate());
  return true;
}

void KvCacheManager::mark_computed(SeqId seq, std::span<const int32_t> tokens, int num_computed) {
  SeqState& s = impl_->get(seq);
  const int bs = impl_->config.block_size;
  PODSERVE_CHECK(num_computed >= s.num_computed && num_computed <= static_cast<int>(tokens.size()) &&
                 num_computed <= static_cast<int>(s.blocks.size()) * bs)
      << "sequence " << seq << ": num_computed " << num_computed << " (was " << s.num_computed << ", "
      << tokens.size() << " tokens, " << s.blocks.size() << " blocks)";
  s.num_computed = num_computed;
  if (!impl_->config.enable_prefix_caching) return;
  for (size_t i = s.hashes.size(); i < static_cast<size_t>(num_computed / bs); ++i) {
    const BlockHash h = impl_->hash_of_block(s, i, tokens);
    s.hashes.push_back(h);  // kept even if not indexed below: later blocks and forks chain from it
    // If another block already holds this hash (same prefix computed concurrently), keep ours uncached.
    impl_->pool.cache(s.blocks[i], h);
  }
}

Result<std::optional<std::pair<BlockId, BlockId>>> KvCacheManager::fork(SeqId parent, SeqId child) {
  PODSERVE_CHECK(!impl_->seqs.contains(child)) << "fork into existing sequence " << child;
  const SeqState& p = impl_->get(parent);
  const int bs = impl_->config.block_size;
  // The child gets blocks for the parent's computed tokens only: full ones shared, the partial one copied.
  // Positions past num_computed are the child's own to allocate() (they will hold different tokens).
  const int num_shared = p.num_computed / bs;
  const bool partial = p.num_computed % bs != 0;
  if (partial && impl_->pool.num_available() == 0) {
    return resource_exhausted("no free KV block to fork sequence " + std::to_string(parent));
  }
  SeqState c;
  c.salt = p.salt;
  c.hashes = p.hashes;
  c.num_computed = p.num_computed;
  c.blocks.reserve(num_shared + (partial ? 1 : 0));
  for (int i = 0; i < num_shared; ++i) {
    impl_->pool.incref(p.blocks[i]);
    c.blocks.push_back(p.blocks[i]);
  }
  std::optional<std::pair<BlockId, BlockId>> copy;
  if (partial) {
    c.blocks.push_back(impl_->pool.allocate());
    copy.emplace(p.blocks[num_shared], c.blocks.back());
  }
  impl_->seqs.emplace(child, std::move(c));  // last: may rehash and invalidate `p`
  return copy;
}

void KvCacheManager::free(SeqId seq) {
  auto it = impl_->seqs.find(seq);
  if (it == impl_->seqs.end()) return;  // never added (e.g. aborted while waiting): nothing to release
  // Tail first, so a sequence's later blocks sit nearer the LRU head and are evicted before its prefix
  // (a cached block is useless once its parent is gone).
  const std::vector<BlockId>& blocks = it->second.blocks;
  for (auto b = blocks.rbegin(); b != blocks.rend(); ++b) impl_->pool.decref(*b);
  impl_->seqs.erase(it);
}

std::span<const BlockId> KvCacheManager::block_table(SeqId seq) const {
  const SeqState* s = impl_->find(seq);
  return s ? std::span<const BlockId>(s->blocks) : std::span<const BlockId>();
}

int64_t KvCacheManager::slot(SeqId seq, int pos) const {
  const SeqState* s = impl_->find(seq);
  PODSERVE_CHECK(s != nullptr) << "unknown sequence " << seq;
  PODSERVE_CHECK(pos >= 0 && pos < static_cast<int>(s->blocks.size()) * impl_->config.block_size)
      << "sequence " << seq << ": position " << pos << " has no block";
  return slot_of(s->blocks, impl_->config.block_size, pos);
}

int KvCacheManager::block_size() const { return impl_->config.block_size; }
int KvCacheManager::num_blocks() const { return impl_->pool.num_blocks(); }
int KvCacheManager::num_free_blocks() const { return impl_->pool.num_available(); }

double KvCacheManager::usage() const {
  const int total = impl_->pool.num_blocks();
  return total == 0 ? 0.0 : static_cast<double>(impl_->pool.num_used()) / total;
}

const KvCacheStats& KvCacheManager::stats() const { return impl_->stats; }

void KvCacheManager::reset_prefix_cache() { impl_->pool.evict_all(); }

Status KvCacheManager::audit() const {
  const BlockPool& pool = impl_->pool;
  const int bs = impl_->config.block_size;
  const bool caching = impl_->config.enable_prefix_caching;
  std::vector<int> refcounts(pool.num_blocks(), 0);
  std::vector<SeqId> last_holder(pool.num_blocks(), -1);
  std::vector<bool> held(pool.num_blocks(), false);
  for (const auto& [seq, s] : impl_->seqs) {
    auto fail = [seq = seq](const std::string& what) {
      return internal_error("sequence " + std::to_string(seq) + ": " + what);
    };
    if (s.num_computed < 0 || s.num_computed > static_cast<int>(s.blocks.size()) * bs) {
      return fail(std::to_string(s.num_computed) + " computed tokens but " + std::to_string(s.blocks.size()) +
                  " blocks");
    }
    const size_t expected_hashes = caching ? static_cast<size_t>(s.num_computed / bs) : 0;
    if (s.hashes.size() != expected_hashes) {
      return fail(std::to_string(s.hashes.size()) + " chain hashes, expected " + std::to_string(expected_hashes));
    }
    for (size_t i = 0; i < s.blocks.size(); ++i) {
      const BlockId b = s.blocks[i];
      if (b < 0 || b >= pool.num_blocks()) return fail("invalid block id " + std::to_string(b));
      if (held[b] && last_holder[b] == seq) return fail("holds block " + std::to_string(b) + " twice");
      held[b] = true;
      last_holder[b] = seq;
      ++refcounts[b];
      if (pool.is_cached(b) && (i >= s.hashes.size() || !(pool.hash_of(b) == s.hashes[i]))) {
        return fail("block " + std::to_string(i) + " (physical " + std::to_string(b) +
                    ") is cached under a hash other than the sequence's chain hash");
      }
    }
  }
  if (!caching && (pool.num_evictable() > 0)) return internal_error("prefix caching off but blocks are cached");
  return pool.audit(refcounts);
}

}  // namespace podserve
