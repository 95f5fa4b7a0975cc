// The decode GEMV for the 32-element block quants (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1): one file per format group
// (gemv_impl.cuh), so the fat binary's slowest compile is split three ways.
#include "kernels/cuda/gemv_impl.cuh"

namespace podserve::kernels::cuda {
namespace {
using Group = gemv_impl::FormatGroup<gemv_fmt::Q8_0, gemv_fmt::Q4_0, gemv_fmt::Q4_1, gemv_fmt::Q5_0, gemv_fmt::Q5_1>;
}  // namespace

Status gemv_block(const MatrixView& w, const float* x, int64_t x_stride, int64_t n, const float* bias, float* y,
                  int64_t y_stride, Stream stream) {
  return Group::gemv("gemv_block", w, x, x_stride, n, bias, y, y_stride, stream);
}

Status moe_gemv_block(const ExpertMatrices& w, const MoeRouting& routing, int32_t n_experts, const float* x,
                      int64_t x_stride, bool gather_x, float* y, int64_t y_stride, Stream stream) {
  return Group::moe_gemv("moe_gemv_block", w, routing, n_experts, x, x_stride, gather_x, y, y_stride, stream);
}

}  // namespace podserve::kernels::cuda
