// Scalar reference dequantization: the oracle that the optimized kernels are tested against. Written straight
// from the block layouts in ggml (see docs: models.md §5.3), favouring obviousness over speed.
#pragma once

#include <cstdint>

#include "base/dtype.h"

namespace podserve {

/// Converts `n` elements of type `type` at `src` (dtype_row_bytes(type, n) bytes) to floats in `dst`.
/// Supports F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K. Preconditions (checked, abort on violation):
/// `n` >= 0 is a multiple of dtype_block_size(type) and the type is supported. Callers validate shapes first.
void dequantize_row_ref(DType type, const void* src, float* dst, int64_t n);

}  // namespace podserve
