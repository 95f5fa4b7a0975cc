// The attention input step (device_ops.h rope_qk_kv_write): per-head q/k RMSNorm, RoPE and the K/V cache write,
// one CTA per token. The token's cos/sin table is computed once into shared memory, then each warp takes heads
// (q heads first, then k heads): loads the head into shared memory, normalizes it, rotates its pairs and writes it
// back (k also to its cache slot); the block writes v.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/device_ops.h"

namespace podserve::kernels::cuda {
namespace {

constexpr unsigned kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxHeadDim = 256;

SIMT_DEVICE uint16_t to_kv(float x, KvType type) {
  return type == KvType::kBF16 ? simt::f32_to_bf16(x) : simt::f32_to_f16(x);
}

__global__ void __launch_bounds__(kThreads)
    rope_qk_kv_write_kernel(float* q, int64_t q_stride, int32_t n_heads, float* k, int64_t k_stride, const float* v,
                            int64_t v_stride, int32_t n_kv_heads, int32_t head_dim, const int32_t* positions,
                            const int32_t* slots, RopeParams rope, const float* q_norm, const float* k_norm,
                            float norm_eps, PagedKvCache cache) {
  __shared__ float cos_sin[kMaxHeadDim];  // pair p: cos at 2p, sin at 2p + 1
  __shared__ float head[kWarps][kMaxHeadDim];
  const int64_t t = blockIdx.x;
  const int32_t pos = positions[t];
  const int32_t slot = slots[t];
  const int half = rope.rot_dim / 2;

  if (rope.kind != RopeKind::kNone) {
    for (int p = static_cast<int>(threadIdx.x); p < half; p += blockDim.x) {
      float c, s;
      if (rope.kind == RopeKind::kInterleavedTheta) {  // ref::rope_interleaved: the angle in double precision
        const double freq = pow(static_cast<double>(rope.theta), -static_cast<double>(2 * p) / rope.rot_dim);
        const double angle = static_cast<double>(pos) * freq;
        c = static_cast<float>(cos(angle));
        s = static_cast<float>(sin(angle));
      } else {
        const float angle = static_cast<float>(pos) * rope.inv_freq[p];
        c = cosf(angle);
        s = sinf(angle);
        if (rope.kind == RopeKind::kRotateHalf) {
          c *= rope.attn_factor;
          s *= rope.attn_factor;
        }
      }
      cos_sin[2 * p] = c;
      cos_sin[2 * p + 1] = s;
    }
  }
  __syncthreads();

  const int warp = static_cast<int>(threadIdx.x / 32), lane = static_cast<int>(threadIdx.x % 32);
  float* sh = head[warp];
  const bool write_cache = slot >= 0;
  for (int job = warp; job < n_heads + n_kv_heads; job += kWarps) {
    const bool is_q = job < n_heads;
    const int h = is_q ? job : job - n_heads;
    float* x = is_q ? q + t * q_stride + static_cast<int64_t>(h) * head_dim : k + t * k_stride + static_cast<int64_t>(h) * head_dim;
    const float* norm = is_q ? q_norm : k_norm;
    float sumsq = 0.0f;
    for (int d = lane; d < head_dim; d += 32) {
      sh[d] = x[d];
      sumsq += sh[d] * sh[d];
    }
    if (norm != nullptr) {  // ref::rms_norm over the head: x * scale * w
      const float scale = 1.0f / sqrtf(simt::warp_sum(sumsq) / static_cast<float>(head_dim) + norm_eps);
      for (int d = lane; d < head_dim; d += 32) sh[d] = sh[d] * scale * norm[d];
    }
    simt::syncwarp();
    uint16_t* kc = nullptr;
    if (!is_q && write_cache) {
      kc = static_cast<uint16_t*>(cache.k) + static_cast<int64_t>(slot) * cache.slot_stride +
           static_cast<int64_t>(h) * head_dim;
    }
    // Rotated pairs (the same float steps as ref::, uncontracted), then the dims past rot_dim as they are.
    if (rope.kind != RopeKind::kNone) {
      for (int p = lane; p < half; p += 32) {
        const bool interleaved = rope.kind != RopeKind::kRotateHalf;
        const int i0 = interleaved ? 2 * p : p, i1 = interleaved ? 2 * p + 1 : p + half;
        const float c = cos_sin[2 * p], s = cos_sin[2 * p + 1], a = sh[i0], b = sh[i1];
        const float r0 = simt::add_rn(simt::mul_rn(a, c), -simt::mul_rn(b, s));
        const float r1 = interleaved ? simt::add_rn(simt::mul_rn(a, s), simt::mul_rn(b, c))
                                     : simt::add_rn(simt::mul_rn(b, c), simt::mul_rn(a, s));
        x[i0] = r0;
        x[i1] = r1;
        if (kc != nullptr) {
          kc[i0] = to_kv(r0, cache.type);
          kc[i1] = to_kv(r1, cache.type);
        }
      }
    }
    const int first_plain = rope.kind != RopeKind::kNone ? rope.rot_dim : 0;
    for (int d = first_plain + lane; d < head_dim; d += 32) {
      x[d] = sh[d];
      if (kc != nullptr) kc[d] = to_kv(sh[d], cache.type);
    }
    simt::syncwarp();  // sh is reused by this warp's next head
  }

  if (write_cache) {
    const int64_t kv_dim = static_cast<int64_t>(n_kv_heads) * head_dim;
    const float* vt = v + t * v_stride;
    uint16_t* vc = static_cast<uint16_t*>(cache.v) + static_cast<int64_t>(slot) * cache.slot_stride;
    for (int64_t d = threadIdx.x; d < kv_dim; d += blockDim.x) vc[d] = to_kv(vt[d], cache.type);
  }
}

}  // namespace

Status rope_qk_kv_write(float* q, int64_t q_stride, int32_t n_heads, float* k, int64_t k_stride, const float* v,
                        int64_t v_stride, int32_t n_kv_heads, int32_t head_dim, const int32_t* positions,
                        const int32_t* slots, int64_t n_tokens, const RopeParams& rope, const float* q_norm,
                        const float* k_norm, float norm_eps, const PagedKvCache& cache, Stream stream) {
  if (head_dim <= 0 || head_dim > kMaxHeadDim || n_heads <= 0 || n_kv_heads <= 0 || n_tokens < 0) {
    return invalid_argument("rope_qk_kv_write: head_dim must be in 1.." + std::to_string(kMaxHeadDim) +
                            " and the head counts positive");
  }
  if (rope.kind != RopeKind::kNone) {
    if (rope.rot_dim <= 0 || rope.rot_dim % 2 != 0 || rope.rot_dim > head_dim) {
      return invalid_argument("rope_qk_kv_write: rot_dim must be even and in 2..head_dim");
    }
    if (rope.kind != RopeKind::kInterleavedTheta && rope.inv_freq == nullptr) {
      return invalid_argument("rope_qk_kv_write: this RoPE kind needs inv_freq");
    }
  }
  if (cache.slot_stride < static_cast<int64_t>(n_kv_heads) * head_dim) {
    return invalid_argument("rope_qk_kv_write: the cache's slot_stride is smaller than kv_heads * head_dim");
  }
  return simt::launch("rope_qk_kv_write", rope_qk_kv_write_kernel, dim3(static_cast<unsigned>(n_tokens)),
                      dim3(kThreads), 0, stream, q, q_stride, n_heads, k, k_stride, v, v_stride, n_kv_heads, head_dim,
                      positions, slots, rope, q_norm, k_norm, norm_eps, cache);
}

}  // namespace podserve::kernels::cuda
