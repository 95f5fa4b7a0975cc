#include "model/causal_lm.h"

#include <sys/mman.h>

#include <cstring>
#include <utility>

namespace podserve {

Result<KvPool> KvPool::create(int n_layers, int num_blocks, int block_size, int kv_dim, bool f32) {
  if (n_layers <= 0 || num_blocks <= 0 || block_size <= 0 || kv_dim <= 0) {
    return invalid_argument("KV pool dimensions must be positive");
  }
  KvPool pool;
  pool.bytes_ = block_bytes(n_layers, block_size, kv_dim, f32) * static_cast<size_t>(num_blocks);
  pool.elem_bytes_ = f32 ? 4 : 2;
  // Anonymous mapping: reserved now, backed by memory only where blocks are written.
  void* p = ::mmap(nullptr, pool.bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    return resource_exhausted("cannot reserve " + std::to_string(pool.bytes_ >> 20) + " MiB for the KV cache");
  }
  pool.data_ = static_cast<uint8_t*>(p);
  pool.n_layers_ = n_layers;
  pool.num_blocks_ = num_blocks;
  pool.block_size_ = block_size;
  pool.kv_dim_ = kv_dim;
  return pool;
}

KvPool::KvPool(KvPool&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)), elem_bytes_(o.elem_bytes_),
      n_layers_(o.n_layers_),
      num_blocks_(o.num_blocks_), block_size_(o.block_size_), kv_dim_(o.kv_dim_) {}

KvPool& KvPool::operator=(KvPool&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(data_, bytes_);
    data_ = std::exchange(o.data_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
    elem_bytes_ = o.elem_bytes_;
    n_layers_ = o.n_layers_;
    num_blocks_ = o.num_blocks_;
    block_size_ = o.block_size_;
    kv_dim_ = o.kv_dim_;
  }
  return *this;
}

KvPool::~KvPool() {
  if (data_) ::munmap(data_, bytes_);
}

void KvPool::copy_block(int src, int dst) {
  const size_t row = static_cast<size_t>(block_size_) * kv_dim_ * elem_bytes_;
  for (int layer = 0; layer < n_layers_; ++layer) {
    for (int which = 0; which < 2; ++which) {
      uint8_t* base = data_ + layer_offset(layer, which);
      std::memcpy(base + dst * row, base + src * row, row);
    }
  }
}

void ForwardBatch::add_sequence(std::span<const int32_t> seq_tokens, int start_pos, std::span<const int32_t> block_table,
                                int block_size, bool want_last_logits) {
  const auto seq = static_cast<int32_t>(block_tables.size());
  block_tables.emplace_back(block_table.begin(), block_table.end());
  for (size_t i = 0; i < seq_tokens.size(); ++i) {
    const int pos = start_pos + static_cast<int>(i);
    tokens.push_back(seq_tokens[i]);
    positions.push_back(pos);
    seq_of_token.push_back(seq);
    const size_t logical = static_cast<size_t>(pos / block_size);
    const int64_t block = logical < block_table.size() ? block_table[logical] : -1;
    slots.push_back(block < 0 ? -1 : block * block_size + pos % block_size);
  }
  if (want_last_logits && !seq_tokens.empty()) logits_rows.push_back(static_cast<int32_t>(tokens.size() - 1));
}

}  // namespace podserve
