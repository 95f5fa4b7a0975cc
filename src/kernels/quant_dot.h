// 8-bit activation quantization and the integer block dot products used by cpu::matmul (ggml's scheme:
// Q4_0/Q8_0 weights pair with Q8_0 activations, Q4_1 weights with Q8_1 activations). Portable scalar versions
// here; AVX2 versions in cpu/quant_dot_avx2.cpp must give the same results up to float summation order.
#pragma once

#include <cstdint>

#include "base/dtype.h"

namespace podserve::kernels {

/// The activation format a weight type is dotted with.
DType activation_type_for(DType weight);

/// Quantizes x: [n] (n % 32 == 0) into blocks of `act_type` (kQ8_0 or kQ8_1) at dst.
void quantize_activations(DType act_type, const float* x, uint8_t* dst, int64_t n);

/// Dot product of one weight row (n elements, `weight_type` blocks) with quantized activations.
float quant_dot_scalar(DType weight_type, const uint8_t* w, const uint8_t* a, int64_t n);
float quant_dot_avx2(DType weight_type, const uint8_t* w, const uint8_t* a, int64_t n);

}  // namespace podserve::kernels
