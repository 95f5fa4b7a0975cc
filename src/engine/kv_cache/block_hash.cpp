#include "engine/kv_cache/block_hash.h"

#include <xxhash.h>

#include <cstring>
#include <random>
#include <vector>

#include "base/check.h"

namespace podserve {

BlockHash random_root_hash() {
  std::random_device rd;
  auto word = [&] { return (static_cast<uint64_t>(rd()) << 32) | rd(); };
  BlockHash h;
  h.low = word();
  h.high = word();
  return h;
}

BlockHash hash_block(const BlockHash& parent, std::span<const int32_t> tokens, std::string_view extra_keys) {
  // Serialize (parent, n_tokens, tokens, n_extra, extra) and hash it in one shot. Blocks are small (16-128
  // tokens), so the stack buffer almost always suffices; only a long cache_salt spills to the heap.
  const uint64_t num_tokens = tokens.size();
  const uint64_t num_extra = extra_keys.size();
  const size_t total = sizeof(parent.low) + sizeof(parent.high) + sizeof(num_tokens) + tokens.size_bytes() +
                       sizeof(num_extra) + extra_keys.size();
  alignas(8) unsigned char stack_buf[1024];
  std::vector<unsigned char> heap_buf;
  unsigned char* buf = stack_buf;
  if (total > sizeof(stack_buf)) {
    heap_buf.resize(total);
    buf = heap_buf.data();
  }
  unsigned char* p = buf;
  auto put = [&p](const void* src, size_t n) {
    if (n != 0) std::memcpy(p, src, n);
    p += n;
  };
  put(&parent.low, sizeof(parent.low));
  put(&parent.high, sizeof(parent.high));
  put(&num_tokens, sizeof(num_tokens));
  put(tokens.data(), tokens.size_bytes());
  put(&num_extra, sizeof(num_extra));
  put(extra_keys.data(), extra_keys.size());
  const XXH128_hash_t d = XXH3_128bits(buf, total);
  return BlockHash{d.low64, d.high64};
}

std::optional<PrefixIndex::BlockId> PrefixIndex::find(const BlockHash& h) const {
  auto it = map_.find(h);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

bool PrefixIndex::insert(const BlockHash& h, BlockId block) { return map_.emplace(h, block).second; }

void PrefixIndex::erase(const BlockHash& h, BlockId block) {
  auto it = map_.find(h);
  PODSERVE_CHECK(it != map_.end() && it->second == block) << "block " << block << " is not indexed under its hash";
  map_.erase(it);
}

}  // namespace podserve
