// The IEEE half scale stored in a quantized block, read as a float: one definition for the portable GEMM files
// (quant_gemm.cpp, quant_gemm_k.cpp), which the sanitizer builds compile as one translation unit. The
// instruction-set files keep their own copies: an inline function from a shared header would be a weak symbol in
// their objects (see -fno-weak in CMakeLists.txt).
#pragma once

#include <cstdint>
#include <cstring>

#include "base/fp16.h"

namespace podserve::kernels::gemm {

inline float half_at(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return fp16_to_float(v);
}

}  // namespace podserve::kernels::gemm
