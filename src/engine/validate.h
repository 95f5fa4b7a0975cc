// Admission checks of a request against the context and the vocabulary, with vLLM's messages.
#pragma once

#include "base/status.h"
#include "engine/request.h"

namespace podserve {

/// OutOfRange for prompts that do not fit max_model_len (with or without max_tokens), InvalidArgument for an
/// empty prompt, out-of-vocabulary ids or bad sampling counts; with `speculative` decoding on, also for what vLLM
/// refuses with it (min_p, logit_bias).
Status validate_request(const GenerationRequest& request, int max_model_len, int vocab_size, bool speculative = false);

}  // namespace podserve
