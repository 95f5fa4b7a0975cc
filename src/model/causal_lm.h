// The interface every architecture implements, and the per-sequence KV cache it reads and appends to.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace podserve {

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
  float rms_eps = 1e-5f;
  bool tied_embeddings = false;
};

/// K/V history of one sequence, stored as fp16 (the precision llama.cpp and vLLM keep by default).
/// Layout: k and v are [n_layers, capacity, n_kv_heads * head_dim]. (Contiguous per sequence for now; the
/// paged block pool of the batching engine replaces it.)
class KvCache {
 public:
  KvCache(int n_layers, int capacity, int kv_dim);
  int capacity() const { return capacity_; }
  int kv_dim() const { return kv_dim_; }
  uint16_t* k(int layer, int pos) { return k_.data() + index(layer, pos); }
  uint16_t* v(int layer, int pos) { return v_.data() + index(layer, pos); }

 private:
  size_t index(int layer, int pos) const {
    return (static_cast<size_t>(layer) * capacity_ + pos) * kv_dim_;
  }
  int capacity_;
  int kv_dim_;
  std::vector<uint16_t> k_, v_;
};

/// A decoder-only language model.
class CausalLm {
 public:
  virtual ~CausalLm() = default;
  virtual const ModelConfig& config() const = 0;
  /// A cache able to hold `capacity` positions.
  std::unique_ptr<KvCache> new_cache(int capacity) const;
  /// Runs `tokens` at positions [start_pos, start_pos + tokens.size()) of the sequence whose earlier K/V are in
  /// `cache`, appends their K/V, and writes the logits of the last token to `logits` ([vocab_size]).
  /// OutOfRange if the positions do not fit the cache; InvalidArgument for token ids outside the vocabulary.
  virtual Status forward(std::span<const int32_t> tokens, int start_pos, KvCache& cache, float* logits) = 0;
};

}  // namespace podserve
