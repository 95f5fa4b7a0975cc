// Gemma 3 (text): Gemma 2's layer layout with q/k norms instead of attention soft-capping, five sliding layers
// per global one, and separate RoPE bases (and scaling) for local and global layers.
#include "model/arch/hf_archs.h"

namespace podserve {

Result<std::unique_ptr<CausalLm>> create_hf_gemma3(HfConfig config, SafetensorsModel weights, WeightDType dtype,
                                                   const ComputeOptions& compute) {
  DecoderSpec spec;
  spec.gemma_norm = true;
  spec.embed_scale = true;
  spec.sandwich_norms = true;
  spec.qk_norm = true;
  config.activation = "gelu_pytorch_tanh";
  return create_decoder(spec, std::move(config), std::move(weights), dtype, compute);
}

}  // namespace podserve
