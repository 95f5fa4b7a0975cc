// Qwen2 / Qwen2.5: Llama with q, k, v biases; the sliding window only when use_sliding_window (hf_config.cpp).
#include "model/arch/hf_archs.h"

namespace podserve {

Result<std::unique_ptr<CausalLm>> create_hf_qwen2(HfConfig config, SafetensorsModel weights, WeightDType dtype,
                                                  const ComputeOptions& compute) {
  DecoderSpec spec;
  spec.qkv_bias = true;
  return create_decoder(spec, std::move(config), std::move(weights), dtype, compute);
}

}  // namespace podserve
