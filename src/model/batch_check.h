// Validation of a ForwardBatch against the pool and vocabulary, shared by every architecture.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "kernels/ops.h"
#include "model/causal_lm.h"

namespace podserve {

/// InvalidArgument naming the first inconsistency: array sizes, token ids, positions not covered by the block
/// table, slots outside the pool, logits rows out of range, a pool not in host memory when `host_pool`, LoRA slots
/// out of range or adapters of another layer count; any LoRA token at all unless `lora` (the model applies them).
Status validate_batch(const ForwardBatch& batch, const KvPool& pool, int vocab_size, bool host_pool = true,
                      bool lora = false);

/// Tokens [begin, end) of one sequence at consecutive positions: the queries one attention_block call serves.
struct TokenRun {
  int64_t begin, end;
};
/// Splits the batch into runs of at most 16 consecutive tokens of one sequence, so a run's queries of one GQA group
/// share each pass over that sequence's K/V. `runs` is reused across calls.
void plan_attention_runs(const ForwardBatch& batch, std::vector<TokenRun>& runs);
/// The attention_block call of one run for the `group` query heads starting at column `head_off` of q and out,
/// both [tokens, q_dim]; the K/V (and its block table) is the caller's.
kernels::AttentionBlock attention_block_of(const ForwardBatch& batch, const TokenRun& run, const float* q, float* out,
                                           int64_t q_dim, int64_t head_off, int64_t group);

}  // namespace podserve
