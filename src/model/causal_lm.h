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
struct LoraAdapter;

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
  // Q/K projection rows stored per head in GGUF's interleaved-RoPE order ([h][i][2], llama.cpp's converter permutes
  // Hugging Face's [h][2][i]) and computed so: a LoRA adapter's q_proj/k_proj lora_B gets the same permutation.
  bool qk_rows_interleaved = false;
  std::vector<int32_t> eos_token_ids;  // generation_config.json's eos_token_id (int or list); may be empty
  int kv_dim() const { return n_kv_heads * head_dim; }
};

/// Element type of the paged K/V: fp16 (the precision llama.cpp and vLLM keep by default), bf16 (KV_CACHE_DTYPE on
/// devices that take it) or float32 (models that compute in float32: ModelConfig::kv_f32).
enum class KvDType { kF16, kBF16, kF32 };
constexpr size_t kv_dtype_bytes(KvDType t) { return t == KvDType::kF32 ? 4 : 2; }
constexpr const char* kv_dtype_name(KvDType t) {
  return t == KvDType::kF32 ? "F32" : t == KvDType::kBF16 ? "BF16" : "F16";
}

/// One byte range copy inside a KvPool's memory (offsets from its first byte).
struct KvByteCopy {
  size_t src = 0, dst = 0, bytes = 0;
};

/// Where a KvPool's bytes live: host pages (KvPool::create) or a device's memory (a device model's
/// create_kv_cache). The engine never reads K/V; it only asks for block copies (fork's copy-on-write).
class KvMemory {
 public:
  virtual ~KvMemory() = default;
  /// The first byte: a host address, or a device address the host must not dereference.
  virtual uint8_t* data() = 0;
  virtual bool on_host() const = 0;
  /// Copies each range; on a device the copies are ordered before the next forward pass.
  virtual Status copy(std::span<const KvByteCopy> copies) = 0;
};

/// The K/V memory of the paged cache. Per layer, K and V are [num_blocks, block_size, kv_dim] of `dtype`
/// (engine/kv_cache/kv_layout.h). Host pools reserve their pages up front without touching them, so resident
/// memory grows with use. Move-only.
class KvPool {
 public:
  /// A host pool (fp16, or float32 when `f32`).
  static Result<KvPool> create(int n_layers, int num_blocks, int block_size, int kv_dim, bool f32 = false);
  /// A pool over memory a backend allocated (at least bytes_for(...) bytes).
  static Result<KvPool> adopt(std::unique_ptr<KvMemory> memory, int n_layers, int num_blocks, int block_size,
                              int kv_dim, KvDType dtype);

  int n_layers() const { return n_layers_; }
  int num_blocks() const { return num_blocks_; }
  int block_size() const { return block_size_; }
  int kv_dim() const { return kv_dim_; }
  KvDType dtype() const { return dtype_; }
  bool is_f32() const { return dtype_ == KvDType::kF32; }
  /// False for device memory: k(), v() and friends are then device addresses.
  bool on_host() const { return memory_->on_host(); }
  // fp16 (and bf16) pools: element bits.
  uint16_t* k(int layer) { return reinterpret_cast<uint16_t*>(data_ + layer_offset(layer, 0)); }
  uint16_t* v(int layer) { return reinterpret_cast<uint16_t*>(data_ + layer_offset(layer, 1)); }
  // float32 pools.
  float* k_f32(int layer) { return reinterpret_cast<float*>(data_ + layer_offset(layer, 0)); }
  float* v_f32(int layer) { return reinterpret_cast<float*>(data_ + layer_offset(layer, 1)); }
  /// The first byte of the pool (host or device address).
  uint8_t* data() { return data_; }
  /// Copies one block's K/V (all layers) from `src` to `dst` (copy-on-write when a sequence is forked).
  Status copy_block(int src, int dst);
  /// Bytes one block takes across all layers.
  static size_t block_bytes(int n_layers, int block_size, int kv_dim, KvDType dtype) {
    return static_cast<size_t>(n_layers) * 2 * block_size * kv_dim * kv_dtype_bytes(dtype);
  }
  static size_t block_bytes(int n_layers, int block_size, int kv_dim, bool f32 = false) {
    return block_bytes(n_layers, block_size, kv_dim, f32 ? KvDType::kF32 : KvDType::kF16);
  }
  /// Bytes of a whole pool.
  static size_t bytes_for(int n_layers, int num_blocks, int block_size, int kv_dim, KvDType dtype) {
    return block_bytes(n_layers, block_size, kv_dim, dtype) * static_cast<size_t>(num_blocks);
  }

 private:
  KvPool() = default;
  // In bytes.
  size_t layer_offset(int layer, int which) const {
    return (static_cast<size_t>(layer) * 2 + which) * num_blocks_ * block_size_ * kv_dim_ * kv_dtype_bytes(dtype_);
  }
  std::unique_ptr<KvMemory> memory_;
  uint8_t* data_ = nullptr;
  KvDType dtype_ = KvDType::kF16;
  int n_layers_ = 0, num_blocks_ = 0, block_size_ = 0, kv_dim_ = 0;
};

/// What the engine asks of the model's K/V cache. Host models size it from `kv_cache_memory_gib`; device models
/// from what is left of the device after the weights and a profiling step (GPU_MEMORY_UTILIZATION).
struct KvCacheRequest {
  int block_size = 16;
  int max_model_len = 0;            // the longest sequence; a pool that cannot hold one is an error
  int max_num_seqs = 256;           // sequences in one step (device models size their step buffers by it)
  int max_num_batched_tokens = 2048;  // tokens in one step (device models profile a step of this many)
  double kv_cache_memory_gib = 4.0;   // KV_CACHE_MEMORY: the pool's size when > 0
  int num_kv_blocks = 0;              // > 0: exactly this many blocks (tests; NUM_GPU_BLOCKS_OVERRIDE)
  bool cuda_graphs = false;           // device models: capture decode-step graphs for this pool (unless eager)
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
  /// LoRA (model/lora.h): this step's adapters (slot i is loras[i]) and each token's slot, -1 for the base model.
  /// Empty lora_slot: every token runs on the base model. One batch may mix adapters and the base model.
  std::vector<const LoraAdapter*> loras;
  std::vector<int32_t> lora_slot;

  /// Appends `tokens` of one sequence starting at `start_pos`, with its block table; asks for the logits of its
  /// last token when `want_last_logits`. Its tokens run LoRA slot `lora` (-1: the base model).
  void add_sequence(std::span<const int32_t> seq_tokens, int start_pos, std::span<const int32_t> block_table,
                    int block_size, bool want_last_logits, int32_t lora = -1);
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
  /// The paged K/V cache in the memory this model computes in. The default is a host pool of
  /// `kv_cache_memory_gib` (or `num_kv_blocks` blocks); InvalidArgument (naming the setting) when it cannot hold one
  /// sequence of max_model_len tokens.
  virtual Result<KvPool> create_kv_cache(const KvCacheRequest& request);
  /// Host memory for `floats` logits that forward() may write into, owned by the model and reused by the next
  /// call (a device model's is pinned, so its one device-to-host copy per step runs at full speed).
  virtual float* host_logits(size_t floats);
  /// Bytes of weights one decode step reads (every matrix once; the embedding only when it is also the output
  /// matrix), for the bench's roofline; 0 when the model does not know (the bench then reads the file sizes).
  virtual uint64_t decode_weight_bytes() const { return 0; }
  /// Whether forward() applies LoRA adapters (ForwardBatch::lora_slot); the others refuse a batch that uses one.
  virtual bool supports_lora() const { return false; }

 private:
  std::vector<float> host_logits_;
};

}  // namespace podserve
