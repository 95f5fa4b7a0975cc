// Validation of a ForwardBatch against the pool and vocabulary, shared by every architecture.
#pragma once

#include "base/status.h"
#include "model/causal_lm.h"

namespace podserve {

/// InvalidArgument naming the first inconsistency: array sizes, token ids, positions not covered by the block
/// table, slots outside the pool, logits rows out of range.
Status validate_batch(const ForwardBatch& batch, const KvPool& pool, int vocab_size);

}  // namespace podserve
