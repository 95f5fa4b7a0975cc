// Where a model's weights go in device memory: one allocation, every tensor at an offset in it, plus the list of
// host-to-device copies that fill it (weight_staging.h runs them) and the on-device conversions after them.
//
// - Matrices keep their stored type: F32/F16/BF16 and GGUF quant blocks (the decode GEMV dequantizes in the
//   kernel). A quantized matrix also gets a bf16 twin, dequantized on the device after the upload, for the
//   prefill GEMM on tensor cores: that costs 2 bytes per weight on top of the quantized bytes (an 8B Q4_K_M model:
//   4.6 GiB + 15 GiB), bought for prefill speed; WeightPlan::bf16_twin_bytes says what it cost.
// - q, k, v (and gate, up) of a layer are placed back to back when they share a type, so one matmul over the
//   concatenated rows computes all three; their biases likewise. Each group starts on a 256-byte boundary.
// - Norm weights and biases are float32 vectors.
// - A matrix bound twice (tied embeddings) is stored once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/dtype.h"
#include "base/status.h"
#include "model/decoder.h"

namespace podserve {

inline constexpr size_t kNoOffset = static_cast<size_t>(-1);

/// A matrix in the device block: offsets from the block's base.
struct DeviceMatrix {
  DType type = DType::kF32;
  int64_t rows = 0, cols = 0;
  size_t offset = kNoOffset;
  size_t bf16_offset = kNoOffset;  // the bf16 twin of a quantized matrix (kNoOffset for F32/F16/BF16)
  bool present() const { return offset != kNoOffset; }
  size_t row_bytes() const { return dtype_row_bytes(type, cols); }
  size_t bytes() const { return row_bytes() * static_cast<size_t>(rows); }
};

/// A float32 vector in the device block (absent: n == 0).
struct DeviceVector {
  size_t offset = kNoOffset;
  int64_t n = 0;
  bool present() const { return n > 0; }
};

struct DeviceExpert {
  DeviceMatrix gate, up, down;
};

struct DeviceLayer {
  DeviceVector attn_norm, post_attn_norm, ffn_norm, post_ffn_norm, q_norm, k_norm;
  DeviceMatrix wq, wk, wv, wo;
  DeviceVector bq, bk, bv, bo;
  DeviceMatrix gate, up, down;
  DeviceVector b_gate, b_up, b_down;
  DeviceMatrix router;
  std::vector<DeviceExpert> experts;
  bool sliding = false;
  bool qkv_adjacent = false;      // wq | wk | wv back to back (and their twins, and bq | bk | bv when present)
  bool gate_up_adjacent = false;  // gate | up back to back (and their twins)
};

/// One host-to-device copy: `bytes` from `src` to the block at `offset`.
struct WeightUpload {
  const uint8_t* src = nullptr;
  size_t offset = 0;
  size_t bytes = 0;
};

/// Elements [first, first + count) of a LOAD_FORMAT=dummy tensor, computed on the device into the block at
/// `offset` (model/device/dummy_device.h).
struct WeightFill {
  size_t offset = 0;
  DType type = DType::kBF16;
  uint64_t first = 0, count = 0;
  uint64_t stream = 0;  // dummy::tensor_stream of the tensor
};

/// A bf16 twin to fill on the device from the uploaded quantized matrix.
struct TwinDequant {
  DType type = DType::kQ8_0;
  int64_t rows = 0, cols = 0;
  size_t src_offset = 0, dst_offset = 0;
};

struct WeightPlan {
  DeviceMatrix embedding, output;
  DeviceVector final_norm;
  std::vector<DeviceLayer> layers;
  std::vector<WeightUpload> uploads;   // ascending offsets, no overlaps
  std::vector<WeightFill> fills;       // dummy weights, made on the device (after the uploads, before the twins)
  std::vector<TwinDequant> twins;
  size_t total_bytes = 0;      // the device block's size
  size_t stored_bytes = 0;     // the stored weights: [0, stored_bytes); the twins follow
  size_t upload_bytes = 0;     // bytes copied from the host
  size_t bf16_twin_bytes = 0;  // bytes of the bf16 twins (part of total_bytes)
};

/// Whether a matrix of this type gets a bf16 twin for prefill GEMMs.
bool needs_bf16_twin(DType type);

/// Lays out `w` (host views from the file or owned copies: they must outlive the upload). Every matrix type must
/// be one the device kernels read (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K); a matrix
/// whose data is null is placed but not uploaded (weights the device fills itself: LOAD_FORMAT=dummy).
Result<WeightPlan> plan_device_weights(const DecoderWeights& w);

/// The plan without bf16 twins (prefill then dequantizes each quantized matrix per GEMM into a scratch buffer):
/// total_bytes shrinks to stored_bytes.
void drop_bf16_twins(WeightPlan& plan);

}  // namespace podserve
