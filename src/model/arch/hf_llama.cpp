// Llama 1/2/3/3.1 (rope scaling llama3, linear, dynamic, yarn), SmolLM2 (tied embeddings) and Mistral (sliding
// window over every layer): the baseline graph, models.md §2.2. HF checkpoints use rotate_half RoPE as stored.
#include "model/arch/hf_archs.h"

namespace podserve {

Result<std::unique_ptr<CausalLm>> create_hf_llama(HfConfig config, SafetensorsModel weights, WeightDType dtype,
                                                  const ComputeOptions& compute) {
  return create_decoder(DecoderSpec{}, std::move(config), std::move(weights), dtype, compute);
}

}  // namespace podserve
