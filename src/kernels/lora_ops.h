// The batched LoRA op (punica's BGMV): one call adds each token's own adapter delta to a projection's output, so
// a batch may mix adapters and base-model tokens. Same contract style as ops.h: `ref::` is the scalar ground
// truth, `cpu::` the threaded one; the CUDA backend's is kernels/cuda/device_ops.h's lora_bgmv.
#pragma once

#include <cstdint>

namespace podserve {
class ThreadPool;
}

namespace podserve::kernels {

/// One LoRA adapter's matrices for one linear layer, float32 row-major: a [rank, in], b [out, rank] (the adapter's
/// scaling already folded into b). rank 0: the adapter does not wrap this layer (a and b unused).
struct LoraPair {
  const float* a = nullptr;
  const float* b = nullptr;
  int64_t rank = 0;
};

namespace ref {
// For each token t whose slot s = slot_of_token[t] is >= 0 and slots[s].rank > 0: y[t] += b_s · (a_s · x[t]),
// shrink to `rank` floats then expand, each a dot product summed in index order. x: [n, in], y: [n, out]; no
// aliasing. Each token's result depends only on its own row and slot.
void lora_bgmv(const LoraPair* slots, const int32_t* slot_of_token, const float* x, int64_t in, float* y, int64_t out,
               int64_t n);
}  // namespace ref

namespace cpu {
// Same contract and bits as ref::lora_bgmv (one portable path, so every ISA gives the same bits); threads split
// the tokens.
void lora_bgmv(const LoraPair* slots, const int32_t* slot_of_token, const float* x, int64_t in, float* y, int64_t out,
               int64_t n, ThreadPool* pool);
}  // namespace cpu

}  // namespace podserve::kernels
