// The one place the physical K/V cache layout is written down. The KV cache manager hands out block ids; the
// model's attention reads and writes K/V at the slots those ids imply.
//
// Per transformer layer there are two pools, K and V, each one contiguous fp16 array
//
//     k_cache[layer], v_cache[layer] : fp16 [num_blocks, block_size, num_kv_heads * head_dim]
//
// so a token's K (or V) row is num_kv_heads * head_dim contiguous halves, heads outermost within the row
// (head h occupies [h * head_dim, (h + 1) * head_dim)). Token position `pos` of a sequence lives in
//
//     slot = block_table[pos / block_size] * block_size + pos % block_size
//
// i.e. at element offset slot * num_kv_heads * head_dim of the layer's K and V pools. A block holds the same
// tokens in every layer, so one block table serves all layers. Copying a block (fork's copy-on-write pair)
// means copying block_size rows of K and of V in every layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace podserve {

/// Bytes per cached element (fp16).
inline constexpr size_t kKvElemBytes = 2;

/// Bytes of one layer's K pool (the V pool is the same size).
constexpr size_t kv_pool_bytes(int64_t num_blocks, int block_size, int num_kv_heads, int head_dim) {
  return static_cast<size_t>(num_blocks) * block_size * num_kv_heads * head_dim * kKvElemBytes;
}

/// The slot (row of the layer's K/V pools) holding position `pos`, given the sequence's block table
/// (BlockId values). The caller guarantees pos < block_table.size() * block_size.
inline int64_t slot_of(std::span<const int32_t> block_table, int block_size, int pos) {
  return static_cast<int64_t>(block_table[pos / block_size]) * block_size + pos % block_size;
}

}  // namespace podserve
