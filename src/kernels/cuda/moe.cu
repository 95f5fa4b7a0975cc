// Mixture-of-experts routing (device_ops.h moe_route, gather_rows, moe_combine): the CPU decoder's moe() on the
// device. Routing runs in one CTA: a thread per token for softmax / top-k / renormalization, then a thread per
// expert for the stable grouping (count, scan, place): no atomics, so the layout is a function of the logits only.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/device_ops.h"

namespace podserve::kernels::cuda {
namespace {

constexpr unsigned kRouteThreads = 256;
constexpr int32_t kMaxExperts = 256;
constexpr int32_t kMaxTopK = 8;

__global__ void __launch_bounds__(kRouteThreads)
    moe_route_kernel(const float* logits, int64_t n, int32_t n_experts, int32_t k, MoeRouting routing) {
  __shared__ int32_t counts[kMaxExperts + 1];
  // ref::softmax (max, exp, double sum, times float(1 / sum)), then the k largest, ties to the lower id.
  for (int64_t t = threadIdx.x; t < n; t += blockDim.x) {
    const float* l = logits + t * n_experts;
    float max = l[0];
    for (int32_t e = 1; e < n_experts; ++e) max = fmaxf(max, l[e]);
    double sum = 0.0;
    for (int32_t e = 0; e < n_experts; ++e) sum += expf(l[e] - max);
    const float inv = static_cast<float>(1.0 / sum);
    int32_t* ids = routing.topk_expert + t * k;
    float* weights = routing.topk_weight + t * k;
    float total = 0.0f;
    for (int32_t j = 0; j < k; ++j) {
      int32_t best = -1;
      float best_p = 0.0f;
      for (int32_t e = 0; e < n_experts; ++e) {
        bool taken = false;
        for (int32_t i = 0; i < j; ++i) taken = taken || ids[i] == e;
        const float p = expf(l[e] - max) * inv;
        if (!taken && (best < 0 || p > best_p)) {
          best = e;
          best_p = p;
        }
      }
      ids[j] = best;
      weights[j] = best_p;
      total += best_p;
    }
    for (int32_t j = 0; j < k; ++j) weights[j] /= total;
  }
  __syncthreads();
  // Group the n * k assignments by expert, tokens ascending within an expert.
  const int64_t assignments = n * k;
  for (int32_t e = static_cast<int32_t>(threadIdx.x); e < n_experts; e += blockDim.x) {
    int32_t c = 0;
    for (int64_t i = 0; i < assignments; ++i) c += routing.topk_expert[i] == e;
    counts[e] = c;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int32_t offset = 0;
    for (int32_t e = 0; e < n_experts; ++e) {
      const int32_t c = counts[e];
      counts[e] = offset;
      routing.expert_offsets[e] = offset;
      offset += c;
    }
    routing.expert_offsets[n_experts] = offset;
  }
  __syncthreads();
  for (int32_t e = static_cast<int32_t>(threadIdx.x); e < n_experts; e += blockDim.x) {
    int32_t pos = counts[e];
    for (int64_t i = 0; i < assignments; ++i) {
      if (routing.topk_expert[i] != e) continue;
      routing.sorted_token[pos] = static_cast<int32_t>(i / k);
      routing.assignment_of[i] = pos;
      ++pos;
    }
  }
}

__global__ void gather_rows_kernel(const float* src, int64_t src_stride, const int32_t* index, int64_t n, int64_t cols,
                                   float* dst, int64_t dst_stride) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n * cols) return;
  const int64_t r = i / cols, c = i % cols;
  dst[r * dst_stride + c] = src[static_cast<int64_t>(index[r]) * src_stride + c];
}

// out[t] = 0 + w_a * y_a + w_b * y_b + ..., experts a < b < ... (each step rounded, as the CPU's += of products).
__global__ void moe_combine_kernel(const float* expert_out, int64_t expert_stride, MoeRouting routing, int64_t n,
                                   int32_t k, int64_t cols, float* out, int64_t out_stride) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n * cols) return;
  const int64_t t = i / cols, c = i % cols;
  const int32_t* ids = routing.topk_expert + t * k;
  float acc = 0.0f;
  int32_t last = -1;
  for (int32_t step = 0; step < k; ++step) {  // the next larger expert id (ids are distinct)
    int32_t j_min = -1;
    for (int32_t j = 0; j < k; ++j) {
      if (ids[j] > last && (j_min < 0 || ids[j] < ids[j_min])) j_min = j;
    }
    last = ids[j_min];
    const float y = expert_out[static_cast<int64_t>(routing.assignment_of[t * k + j_min]) * expert_stride + c];
    acc = simt::add_rn(acc, simt::mul_rn(routing.topk_weight[t * k + j_min], y));
  }
  out[t * out_stride + c] = acc;
}

constexpr unsigned kThreads = 256;

}  // namespace

Status moe_route(const float* router_logits, int64_t n, int32_t n_experts, int32_t k, const MoeRouting& routing,
                 Stream stream) {
  if (n_experts <= 0 || n_experts > kMaxExperts || k <= 0 || k > kMaxTopK || k > n_experts) {
    return invalid_argument("moe_route: 1.." + std::to_string(kMaxExperts) + " experts and 1.." +
                            std::to_string(kMaxTopK) + " (<= experts) per token");
  }
  if (n < 0 || n * k > (int64_t{1} << 30)) return invalid_argument("moe_route: bad token count");
  if (n == 0) return ok_status();
  return simt::launch("moe_route", moe_route_kernel, dim3(1), dim3(kRouteThreads), 0, stream, router_logits, n,
                      n_experts, k, routing);
}

Status gather_rows(const float* src, int64_t src_stride, const int32_t* index, int64_t n, int64_t cols, float* dst,
                   int64_t dst_stride, Stream stream) {
  if (n < 0 || cols <= 0) return invalid_argument("gather_rows: bad shape");
  return simt::launch("gather_rows", gather_rows_kernel, dim3(simt::blocks_for(n * cols, kThreads)), dim3(kThreads), 0,
                      stream, src, src_stride, index, n, cols, dst, dst_stride);
}

Status moe_combine(const float* expert_out, int64_t expert_stride, const MoeRouting& routing, int64_t n, int32_t k,
                   int64_t cols, float* out, int64_t out_stride, Stream stream) {
  if (n < 0 || cols <= 0 || k <= 0 || k > kMaxTopK) return invalid_argument("moe_combine: bad shape");
  return simt::launch("moe_combine", moe_combine_kernel, dim3(simt::blocks_for(n * cols, kThreads)), dim3(kThreads), 0,
                      stream, expert_out, expert_stride, routing, n, k, cols, out, out_stride);
}

}  // namespace podserve::kernels::cuda
