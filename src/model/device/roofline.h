// The arithmetic behind the GPU targets' limits (gpu.md §11): bytes a decode step must read and operations a
// prefill must do, from a model's shape alone.
#pragma once

#include <cstdint>

#include "model/causal_lm.h"

namespace podserve {

/// K/V bytes one token occupies (all layers, K and V) at `elem_bytes` per element.
uint64_t kv_bytes_per_token(const ModelConfig& c, int elem_bytes);

/// Floating-point operations of a prefill of `n` tokens from position 0 with the logits of the last one:
/// 2 x the matrix parameters per token (`experts_per_token` of the experts for MoE, else the dense MLP), plus
/// causal attention's 4 x heads x head_dim per attended position.
double prefill_flops(const ModelConfig& c, int experts_per_token, int n);

/// Tokens per second of a decode step of `streams` sequences that is bound by reading `weight_bytes` and every
/// sequence's K/V (`mean_context` tokens each) once, at `bandwidth` bytes/s.
double memory_bound_tokens_per_s(uint64_t weight_bytes, uint64_t kv_token_bytes, int streams, double mean_context,
                                 double bandwidth);

}  // namespace podserve
