// A SIMT emulator for testing the CUDA kernels without a GPU (unit tests only; never linked into podserve).
// A grid runs block after block on the calling thread; each CUDA thread of a block is a fiber with its own stack,
// switched at barriers (simt_emu.cpp), so __syncthreads() is a real barrier and a missing one shows up as a wrong
// answer. __shared__ arrays are function statics: one copy, reused by the blocks in turn (as an SM reuses its
// memory). Warp collectives exchange through a per-warp buffer between two warp barriers, with the GPU's reduction
// tree. Device memory is host memory. The CUDA built-ins (threadIdx, ...) are process globals: one launch runs at a
// time (checked). Only simt.h includes this header.
#pragma once

#include <math.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

#include "base/fp16.h"

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};

extern uint3 threadIdx;
extern uint3 blockIdx;
extern dim3 blockDim;
extern dim3 gridDim;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __shared__ static
#define SIMT_DEVICE inline
#define SIMT_HOST_DEVICE inline
#define SIMT_UNROLL
#define SIMT_DYNAMIC_SMEM(type, name) type* name = reinterpret_cast<type*>(::simt_emu::dynamic_smem())

void __syncthreads();

inline float __uint_as_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t __float_as_uint(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline int __popc(uint32_t x) { return __builtin_popcount(x); }

namespace simt_emu {

/// Runs body() once per CUDA thread of every block of the grid (blocks one at a time), with threadIdx/blockIdx/
/// blockDim/gridDim set; `smem` bytes of dynamic shared memory per block (zero-filled per launch).
void run_grid(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body);

/// This block's dynamic shared memory.
uint8_t* dynamic_smem();

/// A barrier of the calling thread's warp.
void syncwarp();

/// The exchange slots of the calling thread's warp: kWarpSlots values per lane (lane l's value i at
/// [i * 32 + l]); each lane writes its own, then syncwarp().
inline constexpr int kWarpSlots = 64;
double* warp_slots();

inline int lane() { return static_cast<int>((threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) % 32); }

/// The GPU's xor butterfly (16, 8, 4, 2, 1) over the warp's values, evaluated by every lane on a copy.
template <typename Op>
float warp_butterfly(float v, Op op) {
  double* slots = warp_slots();
  slots[lane()] = v;
  syncwarp();
  float vals[32];
  for (int i = 0; i < 32; ++i) vals[i] = static_cast<float>(slots[i]);
  syncwarp();
  for (int off = 16; off > 0; off >>= 1) {
    float next[32];
    for (int i = 0; i < 32; ++i) next[i] = op(vals[i], vals[i ^ off]);
    std::memcpy(vals, next, sizeof vals);
  }
  return vals[lane()];
}

/// warp_butterfly with + over n values at once (n <= kWarpSlots), one exchange.
inline void warp_butterfly_n(float* v, int n) {
  double* slots = warp_slots();
  for (int i = 0; i < n; ++i) slots[i * 32 + lane()] = v[i];
  syncwarp();
  for (int i = 0; i < n; ++i) {
    float vals[32];
    for (int l = 0; l < 32; ++l) vals[l] = static_cast<float>(slots[i * 32 + l]);
    for (int off = 16; off > 0; off >>= 1) {
      float next[32];
      for (int l = 0; l < 32; ++l) next[l] = vals[l] + vals[l ^ off];
      std::memcpy(vals, next, sizeof vals);
    }
    v[i] = vals[lane()];
  }
  syncwarp();
}

/// The butterfly (xor 1, then 2) within each quad of 4 lanes.
template <typename Op>
float quad_butterfly(float v, Op op) {
  double* slots = warp_slots();
  slots[lane()] = v;
  syncwarp();
  const int base = lane() & ~3;
  float vals[4];
  for (int i = 0; i < 4; ++i) vals[i] = static_cast<float>(slots[base + i]);
  syncwarp();
  for (int off = 1; off < 4; off <<= 1) {
    float next[4];
    for (int i = 0; i < 4; ++i) next[i] = op(vals[i], vals[i ^ off]);
    std::memcpy(vals, next, sizeof vals);
  }
  return vals[lane() & 3];
}

/// The m16n8k16 tensor-core product in PTX's fragment layout (simt.h mma_16816): every lane publishes its
/// fragments, rebuilds A and B, and computes its own four outputs (products exact, sums in double).
void mma_16816(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4], bool bf16);

template <typename T>
T warp_broadcast(T v, int src) {
  static_assert(sizeof(T) <= sizeof(double));
  double* slots = warp_slots();
  std::memcpy(&slots[lane()], &v, sizeof v);
  syncwarp();
  T out;
  std::memcpy(&out, &slots[src], sizeof out);
  syncwarp();
  return out;
}

/// A GPU faults on a load or store through a pointer not aligned to its width (16-byte vectors, 8-byte pairs,
/// 4- and 2-byte words); the host would not, so the emulator stops with the kernel's address instead.
void misaligned_access(const void* p, size_t alignment);
inline void check_aligned(const void* p, size_t alignment) {
  if (reinterpret_cast<uintptr_t>(p) % alignment != 0) misaligned_access(p, alignment);
}

inline float half_to_float(uint16_t h) { return podserve::fp16_to_float(h); }
inline uint16_t float_to_half(float f) { return podserve::float_to_fp16(f); }
/// Round to nearest even; NaN stays NaN (quiet).
inline uint16_t float_to_bf16(float f) {
  const uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace simt_emu
