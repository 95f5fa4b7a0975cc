// Embedding gather, RMSNorm (with the residual add), bias, activations, soft-cap and 16-bit conversions.
// Memory-bound: one coalesced pass each; a row's reduction order depends on its length only.
#include <cmath>
#include <map>
#include <mutex>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/device_ops.h"

namespace podserve::kernels::cuda {
namespace {

constexpr unsigned kThreads = 256;

// Rows of at most this many elements are normalized by one warp (several rows per block), longer ones by a block.
constexpr int64_t kWarpRowMax = 1024;

__global__ void embedding_kernel(DType type, const uint8_t* table, int64_t rows, int64_t cols, size_t row_bytes,
                                 const int32_t* tokens, float scale, float* out) {
  const int64_t t = blockIdx.x;
  const int32_t id = tokens[t];
  float* dst = out + t * cols;
  if (id < 0 || id >= rows) {
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) dst[c] = __uint_as_float(0x7fc00000u);
    return;
  }
  const uint8_t* row = table + static_cast<size_t>(id) * row_bytes;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) dst[c] = dequant_element(type, row, c) * scale;
}

// The sum of squares of a row, by the calling warp (lanes stride the row) or block.
SIMT_DEVICE float warp_row_sumsq(const float* x, int64_t dim, unsigned lane) {
  float s = 0.0f;
  for (int64_t i = lane; i < dim; i += 32) s += x[i] * x[i];
  return simt::warp_sum(s);
}

SIMT_DEVICE float rms_scale(float sumsq, int64_t dim, float eps) {
  return 1.0f / sqrtf(sumsq / static_cast<float>(dim) + eps);
}

// One warp per row; blockDim.x / 32 rows per block.
__global__ void rms_norm_warp_kernel(const float* x, int64_t x_stride, const int32_t* rows_index, const float* weight,
                                     float* y, int64_t y_stride, int64_t rows, int64_t dim, float eps) {
  const unsigned lane = threadIdx.x % 32;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (r >= rows) return;  // whole warps: no collective follows in this warp
  const float* xr = x + (rows_index != nullptr ? rows_index[r] : r) * x_stride;
  const float s = rms_scale(warp_row_sumsq(xr, dim, lane), dim, eps);
  float* yr = y + r * y_stride;
  for (int64_t i = lane; i < dim; i += 32) yr[i] = xr[i] * s * weight[i];
}

__global__ void rms_norm_block_kernel(const float* x, int64_t x_stride, const int32_t* rows_index,
                                      const float* weight, float* y, int64_t y_stride, int64_t dim, float eps) {
  __shared__ float scratch[32];
  const int64_t r = blockIdx.x;
  const float* xr = x + (rows_index != nullptr ? rows_index[r] : r) * x_stride;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) s += xr[i] * xr[i];
  s = rms_scale(block_sum(s, scratch), dim, eps);
  float* yr = y + r * y_stride;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = xr[i] * s * weight[i];
}

__global__ void add_rms_norm_warp_kernel(float* x, const float* h, const float* weight, float* y, int64_t rows,
                                         int64_t dim, float eps) {
  const unsigned lane = threadIdx.x % 32;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (r >= rows) return;
  float* xr = x + r * dim;
  const float* hr = h + r * dim;
  for (int64_t i = lane; i < dim; i += 32) xr[i] += hr[i];  // each lane re-reads only its own elements below
  const float s = rms_scale(warp_row_sumsq(xr, dim, lane), dim, eps);
  float* yr = y + r * dim;
  for (int64_t i = lane; i < dim; i += 32) yr[i] = xr[i] * s * weight[i];
}

__global__ void add_rms_norm_block_kernel(float* x, const float* h, const float* weight, float* y, int64_t dim,
                                          float eps) {
  __shared__ float scratch[32];
  float* xr = x + static_cast<int64_t>(blockIdx.x) * dim;
  const float* hr = h + static_cast<int64_t>(blockIdx.x) * dim;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = xr[i] + hr[i];
    xr[i] = v;
    s += v * v;
  }
  s = rms_scale(block_sum(s, scratch), dim, eps);
  float* yr = y + static_cast<int64_t>(blockIdx.x) * dim;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = xr[i] * s * weight[i];
}

__global__ void add_kernel(float* x, const float* h, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] += h[i];
}

__global__ void add_bias_kernel(float* y, int64_t y_stride, const float* bias, int64_t rows, int64_t cols) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < rows * cols) y[(i / cols) * y_stride + i % cols] += bias[i % cols];
}

__global__ void act_mul_kernel(Activation act, const float* gate, int64_t gate_stride, const float* up,
                               int64_t up_stride, float* out, int64_t out_stride, int64_t rows, int64_t cols) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * cols) return;
  const int64_t r = i / cols, c = i % cols;
  const float g = gate[r * gate_stride + c], u = up[r * up_stride + c];
  float a;
  if (act == Activation::kSilu) {
    a = g / (1.0f + expf(-g));
  } else {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    a = 0.5f * g * (1.0f + tanhf(kSqrt2OverPi * (g + 0.044715f * g * g * g)));
  }
  out[r * out_stride + c] = a * u;
}

__global__ void softcap_kernel(float* x, int64_t n, float cap) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] = tanhf(x[i] / cap) * cap;
}

__global__ void dequantize_bf16_kernel(DType type, const uint8_t* w, size_t row_bytes, int64_t rows, int64_t cols,
                                       uint16_t* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * cols) return;
  out[i] = simt::f32_to_bf16(dequant_element(type, w + static_cast<size_t>(i / cols) * row_bytes, i % cols));
}

__global__ void to_16bit_kernel(const float* x, uint16_t* out, int64_t n, bool bf16) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = bf16 ? simt::f32_to_bf16(x[i]) : simt::f32_to_f16(x[i]);
}

Status check_rows(const char* what, int64_t rows, int64_t cols) {
  if (rows < 0 || cols <= 0) {
    return invalid_argument(std::string(what) + ": bad shape " + std::to_string(rows) + " x " + std::to_string(cols));
  }
  return ok_status();
}

}  // namespace

#if defined(__CUDACC__)
Status simt::allow_dynamic_smem(const void* kernel, size_t bytes, const char* what) {
  static std::mutex mu;
  static std::map<const void*, size_t> allowed;
  std::lock_guard lock(mu);
  size_t& have = allowed[kernel];
  if (have >= bytes) return ok_status();
  const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
  if (err != cudaSuccess) return internal_error(std::string(what) + ": shared memory " + std::to_string(bytes) + " bytes: " + cudaGetErrorString(err));
  have = bytes;
  return ok_status();
}
#endif

bool device_supports(DType type) {
  switch (type) {
    case DType::kF32: case DType::kF16: case DType::kBF16: case DType::kQ8_0: case DType::kQ4_0: case DType::kQ4_1:
    case DType::kQ5_0: case DType::kQ5_1: case DType::kQ4_K: case DType::kQ5_K: case DType::kQ6_K:
      return true;
    case DType::kQ8_1:
      return false;
  }
  return false;
}

Status embedding(const MatrixView& table, const int32_t* tokens, int64_t n, float scale, float* out, Stream stream) {
  PODSERVE_RETURN_IF_ERROR(check_rows("embedding", n, table.cols));
  if (!device_supports(table.type)) return invalid_argument(std::string("embedding: type ") + dtype_name(table.type));
  return simt::launch("embedding", embedding_kernel, dim3(static_cast<unsigned>(n)), dim3(kThreads), 0, stream,
                      table.type, table.data, table.rows, table.cols, table.row_bytes(), tokens, scale, out);
}

Status rms_norm(const float* x, int64_t x_stride, const int32_t* rows_index, const float* weight, float* y,
                int64_t y_stride, int64_t rows, int64_t dim, float eps, Stream stream) {
  PODSERVE_RETURN_IF_ERROR(check_rows("rms_norm", rows, dim));
  if (dim <= kWarpRowMax) {
    return simt::launch("rms_norm", rms_norm_warp_kernel, dim3(simt::blocks_for(rows, kThreads / 32)), dim3(kThreads),
                        0, stream, x, x_stride, rows_index, weight, y, y_stride, rows, dim, eps);
  }
  return simt::launch("rms_norm", rms_norm_block_kernel, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, stream,
                      x, x_stride, rows_index, weight, y, y_stride, dim, eps);
}

Status add_rms_norm(float* x, const float* h, const float* weight, float* y, int64_t rows, int64_t dim, float eps,
                    Stream stream) {
  PODSERVE_RETURN_IF_ERROR(check_rows("add_rms_norm", rows, dim));
  if (dim <= kWarpRowMax) {
    return simt::launch("add_rms_norm", add_rms_norm_warp_kernel, dim3(simt::blocks_for(rows, kThreads / 32)),
                        dim3(kThreads), 0, stream, x, h, weight, y, rows, dim, eps);
  }
  return simt::launch("add_rms_norm", add_rms_norm_block_kernel, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0,
                      stream, x, h, weight, y, dim, eps);
}

Status add(float* x, const float* h, int64_t n, Stream stream) {
  return simt::launch("add", add_kernel, dim3(simt::blocks_for(n, kThreads)), dim3(kThreads), 0, stream, x, h, n);
}

Status add_bias(float* y, int64_t y_stride, const float* bias, int64_t rows, int64_t cols, Stream stream) {
  PODSERVE_RETURN_IF_ERROR(check_rows("add_bias", rows, cols));
  return simt::launch("add_bias", add_bias_kernel, dim3(simt::blocks_for(rows * cols, kThreads)), dim3(kThreads), 0,
                      stream, y, y_stride, bias, rows, cols);
}

Status act_mul(Activation act, const float* gate, int64_t gate_stride, const float* up, int64_t up_stride,
               float* out, int64_t out_stride, int64_t rows, int64_t cols, Stream stream) {
  PODSERVE_RETURN_IF_ERROR(check_rows("act_mul", rows, cols));
  return simt::launch("act_mul", act_mul_kernel, dim3(simt::blocks_for(rows * cols, kThreads)), dim3(kThreads), 0,
                      stream, act, gate, gate_stride, up, up_stride, out, out_stride, rows, cols);
}

Status softcap(float* x, int64_t n, float cap, Stream stream) {
  if (!(cap > 0.0f)) return invalid_argument("softcap: the cap must be > 0");
  return simt::launch("softcap", softcap_kernel, dim3(simt::blocks_for(n, kThreads)), dim3(kThreads), 0, stream, x, n,
                      cap);
}

Status dequantize_bf16(const MatrixView& w, uint16_t* out, Stream stream) {
  PODSERVE_RETURN_IF_ERROR(check_rows("dequantize_bf16", w.rows, w.cols));
  if (!device_supports(w.type)) return invalid_argument(std::string("dequantize_bf16: type ") + dtype_name(w.type));
  return simt::launch("dequantize_bf16", dequantize_bf16_kernel, dim3(simt::blocks_for(w.rows * w.cols, kThreads)),
                      dim3(kThreads), 0, stream, w.type, w.data, w.row_bytes(), w.rows, w.cols, out);
}

Status to_bf16(const float* x, uint16_t* out, int64_t n, Stream stream) {
  return simt::launch("to_bf16", to_16bit_kernel, dim3(simt::blocks_for(n, kThreads)), dim3(kThreads), 0, stream, x,
                      out, n, true);
}

Status to_fp16(const float* x, uint16_t* out, int64_t n, Stream stream) {
  return simt::launch("to_fp16", to_16bit_kernel, dim3(simt::blocks_for(n, kThreads)), dim3(kThreads), 0, stream, x,
                      out, n, false);
}

}  // namespace podserve::kernels::cuda
