// Llama-family decoder (Llama 2/3, Mistral, SmolLM2 as written in GGUF with architecture "llama").
#pragma once

#include <memory>

#include "base/status.h"
#include "io/gguf.h"
#include "model/causal_lm.h"

namespace podserve {

Result<std::unique_ptr<CausalLm>> create_llama(GgufFile file, int num_threads);

}  // namespace podserve
