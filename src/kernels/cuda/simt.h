// The CUDA subset the SIMT kernels (every kernel but cuBLASLt's) are written in, so that one source compiles with
// nvcc for the GPU and as host C++ over simt_emu.h for the unit tests. Kernels use plain CUDA for indices
// (threadIdx, blockIdx, blockDim, gridDim), __syncthreads(), __shared__ arrays, SIMT_DYNAMIC_SMEM and math
// functions; everything else that differs between the two goes through the helpers below. Warp-level exchange is
// only through the collectives here (warp_sum, warp_max, ...), which give the same bits in both builds.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"
#include "kernels/cuda/device_ops.h"

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#define SIMT_DEVICE __device__ __forceinline__
#define SIMT_HOST_DEVICE __host__ __device__ __forceinline__
#define SIMT_UNROLL _Pragma("unroll")
#define SIMT_DYNAMIC_SMEM(type, name) extern __shared__ __align__(16) type name[]
#else
#include "kernels/cuda/simt_emu.h"
#endif

namespace podserve::kernels::cuda::simt {

inline constexpr int kWarp = 32;

// ---- 16-byte and narrower loads/stores through untyped pointers (no type punning on the host) ----------------

struct alignas(16) U32x4 {
  uint32_t x, y, z, w;
};
struct alignas(8) U32x2 {
  uint32_t x, y;
};

SIMT_DEVICE U32x4 load16(const void* p) {
#if defined(__CUDACC__)
  const uint4 v = *reinterpret_cast<const uint4*>(p);
  return U32x4{v.x, v.y, v.z, v.w};
#else
  simt_emu::check_aligned(p, 16);
  U32x4 v;
  std::memcpy(&v, p, 16);
  return v;
#endif
}
SIMT_DEVICE void store16(void* p, const U32x4& v) {
#if defined(__CUDACC__)
  *reinterpret_cast<uint4*>(p) = make_uint4(v.x, v.y, v.z, v.w);
#else
  simt_emu::check_aligned(p, 16);
  std::memcpy(p, &v, 16);
#endif
}
template <typename T>
SIMT_DEVICE T load(const void* p) {
#if defined(__CUDACC__)
  return *reinterpret_cast<const T*>(p);
#else
  simt_emu::check_aligned(p, alignof(T));
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
#endif
}
template <typename T>
SIMT_DEVICE void store(void* p, T v) {
#if defined(__CUDACC__)
  *reinterpret_cast<T*>(p) = v;
#else
  simt_emu::check_aligned(p, alignof(T));
  std::memcpy(p, &v, sizeof v);
#endif
}
/// 4 floats with one 16-byte access (p 16-byte aligned).
SIMT_DEVICE void load_f32x4(const float* p, float out[4]) {
  const U32x4 v = load16(p);
  out[0] = __uint_as_float(v.x);
  out[1] = __uint_as_float(v.y);
  out[2] = __uint_as_float(v.z);
  out[3] = __uint_as_float(v.w);
}

// ---- fp16 / bf16 bits <-> float (round to nearest even, as base/fp16.h) ----------------------------------------

SIMT_DEVICE float bf16_to_f32(uint32_t bits16) { return __uint_as_float(bits16 << 16); }
SIMT_DEVICE float f16_to_f32(uint32_t bits16) {
#if defined(__CUDACC__)
  return __half2float(__ushort_as_half(static_cast<unsigned short>(bits16)));
#else
  return simt_emu::half_to_float(static_cast<uint16_t>(bits16));
#endif
}
SIMT_DEVICE uint16_t f32_to_bf16(float f) {
#if defined(__CUDACC__)
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));
#else
  return simt_emu::float_to_bf16(f);
#endif
}
SIMT_DEVICE uint16_t f32_to_f16(float f) {
#if defined(__CUDACC__)
  return __half_as_ushort(__float2half_rn(f));
#else
  return simt_emu::float_to_half(f);
#endif
}
/// Element 0/1 of a pair of 16-bit values packed in a 32-bit word (little endian: element 0 is the low half).
SIMT_DEVICE uint32_t lo16(uint32_t w) { return w & 0xffffu; }
SIMT_DEVICE uint32_t hi16(uint32_t w) { return w >> 16; }

// ---- float steps that must not be contracted into an fma (to keep ref::'s bits where the ref has two steps) --

SIMT_DEVICE float mul_rn(float a, float b) {
#if defined(__CUDACC__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
SIMT_DEVICE float add_rn(float a, float b) {
#if defined(__CUDACC__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

// ---- warp collectives (every lane of the warp must call them, blockDim.x a multiple of 32) --------------------
// The butterfly order (xor 16, 8, 4, 2, 1) is the same in both builds, so every lane gets the same bits.

SIMT_DEVICE float warp_sum(float v) {
#if defined(__CUDACC__)
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
#else
  return simt_emu::warp_butterfly(v, [](float a, float b) { return a + b; });
#endif
}
SIMT_DEVICE float warp_max(float v) {
#if defined(__CUDACC__)
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
#else
  return simt_emu::warp_butterfly(v, [](float a, float b) { return fmaxf(a, b); });
#endif
}
/// N independent sums in one exchange (the same tree per value as warp_sum).
template <int N>
SIMT_DEVICE void warp_sum_n(float (&v)[N]) {
#if defined(__CUDACC__)
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
#pragma unroll
    for (int i = 0; i < N; ++i) v[i] += __shfl_xor_sync(0xffffffffu, v[i], off);
  }
#else
  simt_emu::warp_butterfly_n(v, N);
#endif
}
/// Max / sum over the 4 lanes of a quad (lanes 4g .. 4g + 3): xor 1, then xor 2.
SIMT_DEVICE float quad_max(float v) {
#if defined(__CUDACC__)
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
#else
  return simt_emu::quad_butterfly(v, [](float a, float b) { return fmaxf(a, b); });
#endif
}
SIMT_DEVICE float quad_sum(float v) {
#if defined(__CUDACC__)
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
#else
  return simt_emu::quad_butterfly(v, [](float a, float b) { return a + b; });
#endif
}

/// d = a . b + c over one m16n8k16 tile on the tensor cores (PTX mma.sync.aligned.m16n8k16.row.col.f32 with bf16
/// or f16 inputs), in PTX's fragment layout: with g = lane / 4 and t = lane % 4, a[0..3] hold A(g, 2t..2t+1),
/// A(g+8, 2t..), A(g, 2t+8..), A(g+8, 2t+8..); b[0..1] hold B(2t..2t+1, g), B(2t+8.., g); c and d hold
/// C(g, 2t), C(g, 2t+1), C(g+8, 2t), C(g+8, 2t+1). Each 32-bit word packs two 16-bit values, the lower index in the
/// low half. Every lane of the warp must call it.
template <bool kBf16>
SIMT_DEVICE void mma_16816(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]) {
#if defined(__CUDACC__)
  if constexpr (kBf16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%10,%11,%12,%13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%10,%11,%12,%13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
  }
#else
  simt_emu::mma_16816(d, a, b, c, kBf16);
#endif
}

/// Lane `src`'s value, on every lane.
template <typename T>
SIMT_DEVICE T warp_broadcast(T v, int src) {
#if defined(__CUDACC__)
  return __shfl_sync(0xffffffffu, v, src);
#else
  return simt_emu::warp_broadcast(v, src);
#endif
}
/// Orders shared-memory accesses among the lanes of a warp (a warp-wide barrier).
SIMT_DEVICE void syncwarp() {
#if defined(__CUDACC__)
  __syncwarp();
#else
  simt_emu::syncwarp();
#endif
}

// ---- launching -------------------------------------------------------------------------------------------------

#if defined(__CUDACC__)
inline Status launch_status(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) return ok_status();
  return internal_error(std::string(what) + ": " + cudaGetErrorString(err));
}

/// Raises a kernel's dynamic shared-memory limit to `bytes` the first time a launch needs it (so a CUDA graph
/// capture, which follows the eager warm-up, makes no attribute calls).
Status allow_dynamic_smem(const void* kernel, size_t bytes, const char* what);
#endif

/// kernel<<<grid, block, smem, stream>>>(args...); dynamic shared memory over 48 KiB is opted into first.
/// In the emulated build, runs the grid to completion on host threads.
template <typename... Params, typename... Args>
Status launch(const char* what, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, Stream stream,
              Args&&... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return ok_status();
#if defined(__CUDACC__)
  if (smem > 48 * 1024) PODSERVE_RETURN_IF_ERROR(allow_dynamic_smem(reinterpret_cast<const void*>(kernel), smem, what));
  kernel<<<grid, block, smem, stream>>>(static_cast<Params>(args)...);
  return launch_status(what);
#else
  (void)stream;
  simt_emu::run_grid(grid, block, smem, [&] { kernel(static_cast<Params>(args)...); });
  return ok_status();
#endif
}

inline unsigned blocks_for(int64_t n, int64_t per_block) { return static_cast<unsigned>((n + per_block - 1) / per_block); }

}  // namespace podserve::kernels::cuda::simt
