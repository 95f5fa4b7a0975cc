// Fused entry points for the forward pass: several matmuls that read the same activations run as one thread-pool
// dispatch with the activations quantized once, and the SwiGLU MLP's gate/up/activation as one dispatch.
// Decode runs ~10 small ops per layer, so each dispatch saved is a hand-off between threads saved.
//
// Every output element gets exactly cpu::matmul's (and cpu::silu_mul's) bits: the same per-row kernels run over
// the same quantized activations, only the split of rows over threads differs, and no kernel's result depends
// on its row range (tests/unit/kernels/fused_ops_test.cpp).
#pragma once

#include <cstdint>
#include <span>

#include "kernels/ops.h"

namespace podserve::kernels::cpu {

/// ys[i] = cpu::matmul(ws[i], x) for every i: x is [n, cols] (every ws[i].cols equal), ys[i] is [n, ws[i].rows].
/// No y may alias x or another y.
void matmul_many(std::span<const MatrixView> ws, const float* x, std::span<float* const> ys, int64_t n,
                 ThreadPool* pool);

/// out = silu(gate x) * (up x), elementwise over [n, gate.rows], with the bits of cpu::matmul twice then
/// cpu::silu_mul on each token's row. `up_scratch` holds n * up.rows floats; out must not alias x.
void matmul_swiglu(const MatrixView& gate, const MatrixView& up, const float* x, float* out, float* up_scratch,
                   int64_t n, ThreadPool* pool);

}  // namespace podserve::kernels::cpu
