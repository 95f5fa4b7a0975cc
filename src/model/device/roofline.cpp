#include "model/device/roofline.h"

#include <algorithm>

namespace podserve {

uint64_t kv_bytes_per_token(const ModelConfig& c, int elem_bytes) {
  return static_cast<uint64_t>(c.n_layers) * 2 * static_cast<uint64_t>(c.kv_dim()) * static_cast<uint64_t>(elem_bytes);
}

double prefill_flops(const ModelConfig& c, int experts_per_token, int n) {
  const double H = c.hidden, q = double(c.n_heads) * c.head_dim, kv = c.kv_dim(), I = c.ffn_hidden;
  const double per_layer = H * q + 2.0 * H * kv + q * H + 3.0 * H * I * std::max(1, experts_per_token);
  const double matmuls = 2.0 * per_layer * c.n_layers * n + 2.0 * H * c.vocab_size;  // one logits row
  const double attention = 4.0 * q * c.n_layers * (double(n) * (n + 1) / 2.0);      // token i sees i + 1 keys
  return matmuls + attention;
}

double memory_bound_tokens_per_s(uint64_t weight_bytes, uint64_t kv_token_bytes, int streams, double mean_context,
                                 double bandwidth) {
  const double bytes = static_cast<double>(weight_bytes) + static_cast<double>(kv_token_bytes) * streams * mean_context;
  return bytes > 0 ? streams * bandwidth / bytes : 0.0;
}

}  // namespace podserve
