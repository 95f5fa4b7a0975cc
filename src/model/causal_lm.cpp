#include "model/causal_lm.h"

namespace podserve {

KvCache::KvCache(int n_layers, int capacity, int kv_dim)
    : capacity_(capacity),
      kv_dim_(kv_dim),
      k_(static_cast<size_t>(n_layers) * capacity * kv_dim),
      v_(static_cast<size_t>(n_layers) * capacity * kv_dim) {}

std::unique_ptr<KvCache> CausalLm::new_cache(int capacity) const {
  const ModelConfig& c = config();
  return std::make_unique<KvCache>(c.n_layers, capacity, c.n_kv_heads * c.head_dim);
}

}  // namespace podserve
