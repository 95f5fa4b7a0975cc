// Phi-3: Llama with fused qkv_proj (rows q | k | v) and gate_up_proj (rows gate | up); partial rotary factor.
// longrope scaling (the 128k variants) is rejected by hf_config.cpp naming it.
#include "model/arch/hf_archs.h"

namespace podserve {

Result<std::unique_ptr<CausalLm>> create_hf_phi3(HfConfig config, SafetensorsModel weights, WeightDType dtype,
                                                 const ComputeOptions& compute) {
  DecoderSpec spec;
  spec.fused_qkv = true;
  spec.fused_gate_up = true;
  return create_decoder(spec, std::move(config), std::move(weights), dtype, compute);
}

}  // namespace podserve
