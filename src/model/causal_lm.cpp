#include "model/causal_lm.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace podserve {

namespace {

// Anonymous private mapping: reserved now, backed by memory only where blocks are written.
class HostKvMemory final : public KvMemory {
 public:
  HostKvMemory(uint8_t* data, size_t bytes) : data_(data), bytes_(bytes) {}
  ~HostKvMemory() override { ::munmap(data_, bytes_); }
  uint8_t* data() override { return data_; }
  bool on_host() const override { return true; }
  Status copy(std::span<const KvByteCopy> copies) override {
    for (const KvByteCopy& c : copies) std::memcpy(data_ + c.dst, data_ + c.src, c.bytes);
    return ok_status();
  }

 private:
  uint8_t* data_;
  size_t bytes_;
};

Status check_dims(int n_layers, int num_blocks, int block_size, int kv_dim) {
  if (n_layers <= 0 || num_blocks <= 0 || block_size <= 0 || kv_dim <= 0) {
    return invalid_argument("KV pool dimensions must be positive");
  }
  return ok_status();
}

}  // namespace

Result<KvPool> KvPool::create(int n_layers, int num_blocks, int block_size, int kv_dim, bool f32) {
  PODSERVE_RETURN_IF_ERROR(check_dims(n_layers, num_blocks, block_size, kv_dim));
  const KvDType dtype = f32 ? KvDType::kF32 : KvDType::kF16;
  const size_t bytes = bytes_for(n_layers, num_blocks, block_size, kv_dim, dtype);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return resource_exhausted("cannot reserve " + std::to_string(bytes >> 20) + " MiB for the KV cache");
  return adopt(std::make_unique<HostKvMemory>(static_cast<uint8_t*>(p), bytes), n_layers, num_blocks, block_size,
               kv_dim, dtype);
}

Result<KvPool> KvPool::adopt(std::unique_ptr<KvMemory> memory, int n_layers, int num_blocks, int block_size,
                             int kv_dim, KvDType dtype) {
  PODSERVE_RETURN_IF_ERROR(check_dims(n_layers, num_blocks, block_size, kv_dim));
  if (memory == nullptr || memory->data() == nullptr) return invalid_argument("KV pool without memory");
  KvPool pool;
  pool.data_ = memory->data();
  pool.memory_ = std::move(memory);
  pool.dtype_ = dtype;
  pool.n_layers_ = n_layers;
  pool.num_blocks_ = num_blocks;
  pool.block_size_ = block_size;
  pool.kv_dim_ = kv_dim;
  return pool;
}

Status KvPool::copy_block(int src, int dst) {
  if (src < 0 || dst < 0 || src >= num_blocks_ || dst >= num_blocks_) return invalid_argument("copy_block: block id outside the pool");
  const size_t row = static_cast<size_t>(block_size_) * kv_dim_ * kv_dtype_bytes(dtype_);
  std::vector<KvByteCopy> copies;
  copies.reserve(static_cast<size_t>(n_layers_) * 2);
  for (int layer = 0; layer < n_layers_; ++layer) {
    for (int which = 0; which < 2; ++which) {
      const size_t base = layer_offset(layer, which);
      copies.push_back({base + static_cast<size_t>(src) * row, base + static_cast<size_t>(dst) * row, row});
    }
  }
  return memory_->copy(copies);
}

Result<KvPool> CausalLm::create_kv_cache(const KvCacheRequest& r) {
  const ModelConfig& c = config();
  if (r.block_size < 1) return invalid_argument("block_size must be >= 1");
  const size_t block_bytes = KvPool::block_bytes(c.n_layers, r.block_size, c.kv_dim(), c.kv_f32);
  if (!(r.kv_cache_memory_gib > 0.0) && r.num_kv_blocks <= 0) return invalid_argument("kv_cache_memory must be > 0");
  const int64_t num_blocks = r.num_kv_blocks > 0
                                 ? r.num_kv_blocks
                                 : static_cast<int64_t>(r.kv_cache_memory_gib * (1ull << 30) / static_cast<double>(block_bytes));
  const int64_t blocks_per_request = (int64_t{r.max_model_len} + r.block_size - 1) / r.block_size;
  if (num_blocks < std::max<int64_t>(blocks_per_request, 1)) {
    return invalid_argument("The model's max seq len (" + std::to_string(r.max_model_len) +
                        ") is larger than the maximum number of tokens that can be stored in KV cache (" +
                        std::to_string(num_blocks * r.block_size) +
                        "). Try increasing the KV cache memory (KV_CACHE_MEMORY) or decreasing max_model_len.");
  }
  if (num_blocks > (1 << 30)) return invalid_argument("KV cache too large");
  return KvPool::create(c.n_layers, static_cast<int>(num_blocks), r.block_size, c.kv_dim(), c.kv_f32);
}

float* CausalLm::host_logits(size_t floats) {
  if (host_logits_.size() < floats) host_logits_.resize(floats);
  return host_logits_.data();
}

void ForwardBatch::add_sequence(std::span<const int32_t> seq_tokens, int start_pos, std::span<const int32_t> block_table,
                                int block_size, bool want_last_logits, int32_t lora) {
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
  if (lora >= 0 || !lora_slot.empty()) {  // the earlier sequences' tokens run the base model unless they said so
    lora_slot.resize(tokens.size() - seq_tokens.size(), -1);
    lora_slot.resize(tokens.size(), lora);
  }
}

}  // namespace podserve
