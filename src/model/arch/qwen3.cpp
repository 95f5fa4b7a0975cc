// Qwen3: Llama with a per-head RMSNorm of q and k (over head_dim) before RoPE; explicit head_dim.
#include "model/arch/hf_archs.h"

namespace podserve {

Result<std::unique_ptr<CausalLm>> create_hf_qwen3(HfConfig config, SafetensorsModel weights, WeightDType dtype,
                                                  const ComputeOptions& compute) {
  DecoderSpec spec;
  spec.qk_norm = true;
  return create_decoder(spec, std::move(config), std::move(weights), dtype, compute);
}

}  // namespace podserve
