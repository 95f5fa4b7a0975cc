// Binds named GGUF tensors to typed views, checking shape and type so the forward pass can trust them.
#pragma once

#include <string>

#include "base/status.h"
#include "io/gguf.h"
#include "kernels/ops.h"

namespace podserve {

/// A matrix [rows, cols] (GGUF dims {cols, rows}) of a type the matmul kernels support.
Result<kernels::MatrixView> bind_matrix(const GgufFile& file, const std::string& name, int64_t rows, int64_t cols);
/// A float32 vector of `n` elements (norm weights).
Result<const float*> bind_vector(const GgufFile& file, const std::string& name, int64_t n);
/// A tensor's GGUF dims as "{d0, d1, ...}", for the shape errors above (and the GGUF decoder's).
std::string dims_string(const GgufTensor& t);

}  // namespace podserve
