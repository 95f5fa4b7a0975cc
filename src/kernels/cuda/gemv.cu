// Decode GEMV entry points (device_ops.h gemv, moe_gemv): shape checks, then the launcher of the weight's format
// group (gemv_impl.cuh has the kernels).
#include "kernels/cuda/gemv_impl.cuh"

namespace podserve::kernels::cuda {
namespace {

Status check_matrix(const char* what, DType type, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0 || cols % dtype_block_size(type) != 0) {
    return invalid_argument(std::string(what) + ": a " + std::to_string(rows) + " x " + std::to_string(cols) + " " +
                            dtype_name(type) + " matrix (cols must be a positive multiple of the block size)");
  }
  return ok_status();
}

}  // namespace

Status gemv(const MatrixView& w, const float* x, int64_t x_stride, int64_t n, const float* bias, float* y,
            int64_t y_stride, Stream stream) {
  PODSERVE_RETURN_IF_ERROR(check_matrix("gemv", w.type, w.rows, w.cols));
  if (n <= 0) return ok_status();
  if (n > kGemvMaxTokens) return invalid_argument("gemv: at most kGemvMaxTokens tokens per call");
  switch (w.type) {
    case DType::kF32: case DType::kF16: case DType::kBF16:
      return gemv_float(w, x, x_stride, n, bias, y, y_stride, stream);
    case DType::kQ8_0: case DType::kQ4_0: case DType::kQ4_1: case DType::kQ5_0: case DType::kQ5_1:
      return gemv_block(w, x, x_stride, n, bias, y, y_stride, stream);
    case DType::kQ4_K: case DType::kQ5_K: case DType::kQ6_K:
      return gemv_kquant(w, x, x_stride, n, bias, y, y_stride, stream);
    case DType::kQ8_1: break;
  }
  return invalid_argument(std::string("gemv: weight type ") + dtype_name(w.type) + " is not supported on the device");
}

Status moe_gemv(const ExpertMatrices& w, const MoeRouting& routing, int32_t n_experts, int64_t n_assignments,
                const float* x, int64_t x_stride, bool gather_x, float* y, int64_t y_stride, Stream stream) {
  PODSERVE_RETURN_IF_ERROR(check_matrix("moe_gemv", w.type, w.rows, w.cols));
  if (n_experts <= 0 || n_experts > 65535) return invalid_argument("moe_gemv: 1..65535 experts");
  if (n_assignments <= 0) return ok_status();
  switch (w.type) {
    case DType::kF32: case DType::kF16: case DType::kBF16:
      return moe_gemv_float(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    case DType::kQ8_0: case DType::kQ4_0: case DType::kQ4_1: case DType::kQ5_0: case DType::kQ5_1:
      return moe_gemv_block(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    case DType::kQ4_K: case DType::kQ5_K: case DType::kQ6_K:
      return moe_gemv_kquant(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    case DType::kQ8_1: break;
  }
  return invalid_argument(std::string("moe_gemv: weight type ") + dtype_name(w.type) + " is not supported on the device");
}

}  // namespace podserve::kernels::cuda
