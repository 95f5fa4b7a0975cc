// The decode GEMV for the 32-element block quants (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) (gemv_impl.cuh).
#include "kernels/cuda/gemv_impl.cuh"

namespace podserve::kernels::cuda {

Status gemv_block(const MatrixView& w, const float* x, int64_t x_stride, int64_t n, const float* bias, float* y,
                  int64_t y_stride, Stream stream) {
  switch (w.type) {
    case DType::kQ8_0: return gemv_impl::launch_gemv<gemv_fmt::Q8_0>(w, x, x_stride, n, bias, y, y_stride, stream);
    case DType::kQ4_0: return gemv_impl::launch_gemv<gemv_fmt::Q4_0>(w, x, x_stride, n, bias, y, y_stride, stream);
    case DType::kQ4_1: return gemv_impl::launch_gemv<gemv_fmt::Q4_1>(w, x, x_stride, n, bias, y, y_stride, stream);
    case DType::kQ5_0: return gemv_impl::launch_gemv<gemv_fmt::Q5_0>(w, x, x_stride, n, bias, y, y_stride, stream);
    case DType::kQ5_1: return gemv_impl::launch_gemv<gemv_fmt::Q5_1>(w, x, x_stride, n, bias, y, y_stride, stream);
    default: return internal_error("gemv_block: not a 32-element block quant (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) type");
  }
}

Status moe_gemv_block(const ExpertMatrices& w, const MoeRouting& routing, int32_t n_experts, const float* x,
                      int64_t x_stride, bool gather_x, float* y, int64_t y_stride, Stream stream) {
  switch (w.type) {
    case DType::kQ8_0:
      return gemv_impl::launch_moe_gemv<gemv_fmt::Q8_0>(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    case DType::kQ4_0:
      return gemv_impl::launch_moe_gemv<gemv_fmt::Q4_0>(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    case DType::kQ4_1:
      return gemv_impl::launch_moe_gemv<gemv_fmt::Q4_1>(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    case DType::kQ5_0:
      return gemv_impl::launch_moe_gemv<gemv_fmt::Q5_0>(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    case DType::kQ5_1:
      return gemv_impl::launch_moe_gemv<gemv_fmt::Q5_1>(w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
    default: return internal_error("moe_gemv_block: not a 32-element block quant (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) type");
  }
}

}  // namespace podserve::kernels::cuda
