// The batched LoRA delta (device_ops.h lora_bgmv). One block per token: the shrink a·x (one warp per rank row,
// lanes striding the input, a warp reduction) into shared memory, then the expand b·(a·x) (one thread per output
// column, the rank summed in order) added to y. Adapters are small next to the base weights, so this is not tuned
// for prefill; it is exact enough and batch invariant.
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/device_ops.h"

namespace podserve::kernels::cuda {
namespace {

constexpr unsigned kThreads = 256;

__global__ void lora_bgmv_kernel(const LoraPair* slots, const int32_t* slot_of_token, const float* x,
                                 int64_t x_stride, int64_t in, float* y, int64_t y_stride, int64_t out) {
  __shared__ float shrunk[kLoraMaxRank];
  const int64_t t = blockIdx.x;
  const int32_t s = slot_of_token[t];
  if (s < 0) return;  // the whole block leaves before any barrier
  const LoraPair pair = slots[s];
  const int64_t rank = pair.rank;
  if (rank <= 0 || rank > kLoraMaxRank) return;
  const float* xt = x + t * x_stride;
  const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32, n_warps = blockDim.x / 32;
  for (int64_t r = warp; r < rank; r += n_warps) {
    const float* ar = pair.a + r * in;
    float acc = 0.0f;
    for (int64_t i = lane; i < in; i += 32) acc += ar[i] * xt[i];
    acc = simt::warp_sum(acc);
    if (lane == 0) shrunk[r] = acc;
  }
  __syncthreads();
  float* yt = y + t * y_stride;
  for (int64_t o = threadIdx.x; o < out; o += blockDim.x) {
    const float* bo = pair.b + o * rank;
    float acc = 0.0f;
    for (int64_t r = 0; r < rank; ++r) acc += bo[r] * shrunk[r];
    yt[o] += acc;
  }
}

}  // namespace

Status lora_bgmv(const LoraPair* slots, const int32_t* slot_of_token, const float* x, int64_t x_stride, int64_t in,
                 float* y, int64_t y_stride, int64_t out, int64_t n, Stream stream) {
  if (n < 0 || in <= 0 || out <= 0 || x_stride < in || y_stride < out) {
    return invalid_argument("lora_bgmv: bad shape " + std::to_string(n) + " tokens, in " + std::to_string(in) +
                            ", out " + std::to_string(out));
  }
  if (n == 0) return ok_status();
  return simt::launch("lora_bgmv", lora_bgmv_kernel, dim3(static_cast<unsigned>(n)), dim3(kThreads), 0, stream, slots,
                      slot_of_token, x, x_stride, in, y, y_stride, out);
}

}  // namespace podserve::kernels::cuda
