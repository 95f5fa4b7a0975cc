// The decode GEMV for F32, F16 and BF16 weights (gemv_impl.cuh).
#include "kernels/cuda/gemv_impl.cuh"

namespace podserve::kernels::cuda {

Status gemv_float(const MatrixView& w, const float* x, int64_t x_stride, int64_t n, const float* bias, float* y,
                  int64_t y_stride, Stream stream) {
  switch (w.type) {
    case DType::kF32: return gemv_impl::launch_gemv<gemv_fmt::F32>(w, x, x_stride, n, bias, y, y_stride, stream);
    case DType::kF16: return gemv_impl::launch_gemv<gemv_fmt::F16>(w, x, x_stride, n, bias, y, y_stride, stream);
    case DType::kBF16: return gemv_impl::launch_gemv<gemv_fmt::BF16>(w, x, x_stride, n, bias, y, y_stride, stream);
    default: return internal_error("gemv_float: not a float (F32, F16, BF16) type");
  }
}

Status moe_gemv_float(const ExpertMatrices& w, const MoeRouting& routing, int32_t n_experts, const float* x,
                      int64_t x_stride, bool gather_x, float* y, int64_t y_stride, Stream stream) {
  switch (w.type) {
    case DType::kF32:
      return gemv_impl::launch_moe_gemv<gemv_fmt::F32>(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    case DType::kF16:
      return gemv_impl::launch_moe_gemv<gemv_fmt::F16>(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    case DType::kBF16:
      return gemv_impl::launch_moe_gemv<gemv_fmt::BF16>(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    default: return internal_error("moe_gemv_float: not a float (F32, F16, BF16) type");
  }
}

}  // namespace podserve::kernels::cuda
