// Gemma: embeddings scaled by sqrt(hidden), RMSNorm by (1 + w), tanh-approximated GELU (transformers forces it
// even where an old config says "gelu"), tied embeddings.
#include "model/arch/hf_archs.h"

namespace podserve {

Result<std::unique_ptr<CausalLm>> create_hf_gemma(HfConfig config, SafetensorsModel weights, WeightDType dtype,
                                                  const ComputeOptions& compute) {
  DecoderSpec spec;
  spec.gemma_norm = true;
  spec.embed_scale = true;
  config.activation = "gelu_pytorch_tanh";
  return create_decoder(spec, std::move(config), std::move(weights), dtype, compute);
}

}  // namespace podserve
