// The interface every architecture implements: one forward pass over a flattened batch of tokens from many
// sequences, reading and appending K/V through each sequence's block table in a paged pool.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace podserve {

class ThreadPool;

/// Hyper-parameters shared by the Llama family (filled from GGUF metadata or config.json).
struct ModelConfig {
  std::string architecture;  // e.g. "llama"
  int n_layers = 0;
  int hidden = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int ffn_hidden = 0;
  int vocab_size = 0;
  int context_length = 0;
  int rope_dim = 0;
  float rope_theta = 10000.0f;
  float rope_linear_factor = 1.0f;  // GGUF rope.scaling.type linear: positions divided by this
  float rms_eps = 1e-5f;
  bool tied_embeddings = false;
  bool kv_f32 = false;  // K/V kept in float32 (DTYPE=float32) instead of fp16
  std::vector<int32_t> eos_token_ids;  // generation_config.json's eos_token_id (int or list); may be empty
  int kv_dim() const { return n_kv_heads * head_dim; }
};

/// The K/V memory of the paged cache, fp16 (the precision llama.cpp and vLLM keep by default) or float32 when the
/// model computes in float32 (ModelConfig::kv_f32). Per layer, K and V are [num_blocks, block_size, kv_dim]
/// (engine/kv_cache/kv_layout.h). The pages are reserved, not touched, up front, so resident memory grows with
/// use. Move-only owner of the mapping.
class KvPool {
 public:
  static Result<KvPool> create(int n_layers, int num_blocks, int block_size, int kv_dim, bool f32 = false);
  KvPool(KvPool&& other) noexcept;
  KvPool& operator=(KvPool&& other) noexcept;
  KvPool(const KvPool&) = delete;
  KvPool& operator=(const KvPool&) = delete;
  ~KvPool();

  int num_blocks() const { return num_blocks_; }
  int block_size() const { return block_size_; }
  int kv_dim() const { return kv_dim_; }
  bool is_f32() const { return elem_bytes_ == 4; }
  // fp16 pools.
  uint16_t* k(int layer) { return reinterpret_cast<uint16_t*>(data_ + layer_offset(layer, 0)); }
  uint16_t* v(int layer) { return reinterpret_cast<uint16_t*>(data_ + layer_offset(layer, 1)); }
  // float32 pools.
  float* k_f32(int layer) { return reinterpret_cast<float*>(data_ + layer_offset(layer, 0)); }
  float* v_f32(int layer) { return reinterpret_cast<float*>(data_ + layer_offset(layer, 1)); }
  /// Copies one block's K/V (all layers) from `src` to `dst` (copy-on-write when a sequence is forked).
  void copy_block(int src, int dst);
  /// Bytes one block takes across all layers.
  static size_t block_bytes(int n_layers, int block_size, int kv_dim, bool f32 = false) {
    return static_cast<size_t>(n_layers) * 2 * block_size * kv_dim * (f32 ? 4 : 2);
  }

 private:
  KvPool() = default;
  // In bytes.
  size_t layer_offset(int layer, int which) const {
    return (static_cast<size_t>(layer) * 2 + which) * num_blocks_ * block_size_ * kv_dim_ * elem_bytes_;
  }
  uint8_t* data_ = nullptr;
  size_t bytes_ = 0;
  size_t elem_bytes_ = 2;
  int n_layers_ = 0, num_blocks_ = 0, block_size_ = 0, kv_dim_ = 0;
};

/// One step's work: tokens of several sequences, flattened. Token i belongs to sequence seq_of_token[i], sits at
/// positions[i], and its K/V is written to `slots[i]` (block * block_size + offset); it attends to positions
/// [0, positions[i]] of its sequence, read through block_tables[seq_of_token[i]].
struct ForwardBatch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;
  std::vector<int64_t> slots;
  std::vector<int32_t> seq_of_token;
  std::vector<std::vector<int32_t>> block_tables;
  std::vector<int32_t> logits_rows;  // indices of the tokens whose next-token logits are returned, in order

  /// Appends `tokens` of one sequence starting at `start_pos`, with its block table; asks for the logits of its
  /// last token when `want_last_logits`.
  void add_sequence(std::span<const int32_t> seq_tokens, int start_pos, std::span<const int32_t> block_table,
                    int block_size, bool want_last_logits);
};

/// A decoder-only language model.
class CausalLm {
 public:
  virtual ~CausalLm() = default;
  virtual const ModelConfig& config() const = 0;
  /// Runs the batch, writes every token's K/V into `pool`, and the logits of `batch.logits_rows` to `logits`
  /// ([logits_rows.size(), vocab_size]). InvalidArgument for malformed batches or token ids outside the
  /// vocabulary; nothing is written then.
  virtual Status forward(const ForwardBatch& batch, KvPool& pool, float* logits) = 0;
  /// The threads the forward pass computes with, for the per-row work after it (sampling); nullptr: none.
  /// Used only between forward passes, from the thread that calls forward().
  virtual ThreadPool* thread_pool() { return nullptr; }
};

}  // namespace podserve
