// The decode GEMV for the K-quants (Q4_K, Q5_K, Q6_K): one file per format group (gemv_impl.cuh),
// so the fat binary's slowest compile is split three ways.
#include "kernels/cuda/gemv_impl.cuh"

namespace podserve::kernels::cuda {
namespace {
using Group = gemv_impl::FormatGroup<gemv_fmt::QK4<false>, gemv_fmt::QK4<true>, gemv_fmt::Q6K>;
}  // namespace

Status gemv_kquant(const MatrixView& w, const float* x, int64_t x_stride, int64_t n, const float* bias, float* y,
                   int64_t y_stride, Stream stream) {
  return Group::gemv("gemv_kquant", w, x, x_stride, n, bias, y, y_stride, stream);
}

Status moe_gemv_kquant(const ExpertMatrices& w, const MoeRouting& routing, int32_t n_experts, const float* x,
                       int64_t x_stride, bool gather_x, float* y, int64_t y_stride, Stream stream) {
  return Group::moe_gemv("moe_gemv_kquant", w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
}

}  // namespace podserve::kernels::cuda
