// Mixtral: Mistral attention with a sparse MoE MLP: softmax over the router, top-k experts, weights
// renormalized over the chosen ones.
#include "model/arch/hf_archs.h"

namespace podserve {

Result<std::unique_ptr<CausalLm>> create_hf_mixtral(HfConfig config, SafetensorsModel weights, WeightDType dtype,
                                                    const ComputeOptions& compute) {
  if (config.n_experts < 1) return data_loss("a mixtral config needs num_local_experts >= 1");
  DecoderSpec spec;
  spec.moe = true;
  return create_decoder(spec, std::move(config), std::move(weights), dtype, compute);
}

}  // namespace podserve
