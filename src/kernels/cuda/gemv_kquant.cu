// The decode GEMV for the K-quants (Q4_K, Q5_K, Q6_K) (gemv_impl.cuh).
#include "kernels/cuda/gemv_impl.cuh"

namespace podserve::kernels::cuda {

Status gemv_kquant(const MatrixView& w, const float* x, int64_t x_stride, int64_t n, const float* bias, float* y,
                   int64_t y_stride, Stream stream) {
  switch (w.type) {
    case DType::kQ4_K: return gemv_impl::launch_gemv<gemv_fmt::QK4<false>>(w, x, x_stride, n, bias, y, y_stride, stream);
    case DType::kQ5_K: return gemv_impl::launch_gemv<gemv_fmt::QK4<true>>(w, x, x_stride, n, bias, y, y_stride, stream);
    case DType::kQ6_K: return gemv_impl::launch_gemv<gemv_fmt::Q6K>(w, x, x_stride, n, bias, y, y_stride, stream);
    default: return internal_error("gemv_kquant: not a K-quant (Q4_K, Q5_K, Q6_K) type");
  }
}

Status moe_gemv_kquant(const ExpertMatrices& w, const MoeRouting& routing, int32_t n_experts, const float* x,
                       int64_t x_stride, bool gather_x, float* y, int64_t y_stride, Stream stream) {
  switch (w.type) {
    case DType::kQ4_K:
      return gemv_impl::launch_moe_gemv<gemv_fmt::QK4<false>>(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    case DType::kQ5_K:
      return gemv_impl::launch_moe_gemv<gemv_fmt::QK4<true>>(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    case DType::kQ6_K:
      return gemv_impl::launch_moe_gemv<gemv_fmt::Q6K>(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    default: return internal_error("moe_gemv_kquant: not a K-quant (Q4_K, Q5_K, Q6_K) type");
  }
}

}  // namespace podserve::kernels::cuda
