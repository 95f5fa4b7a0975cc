// Gemma 2: Gemma plus norms after attention and around the MLP, attention scale query_pre_attn_scalar^-0.5,
// attention and final-logit soft-capping, sliding-window attention on alternate layers (hf_config.cpp).
#include "model/arch/hf_archs.h"

namespace podserve {

Result<std::unique_ptr<CausalLm>> create_hf_gemma2(HfConfig config, SafetensorsModel weights, WeightDType dtype,
                                                   const ComputeOptions& compute) {
  DecoderSpec spec;
  spec.gemma_norm = true;
  spec.embed_scale = true;
  spec.sandwich_norms = true;
  config.activation = "gelu_pytorch_tanh";
  return create_decoder(spec, std::move(config), std::move(weights), dtype, compute);
}

}  // namespace podserve
