// The shared decoder (model/decoder.h) on a CUDA device: the same DecoderSpec architectures, the same weights
// binding, the same ForwardBatch contract (one flattened batch in, the logits rows out through one device-to-host
// copy per step), computed by the kernels of kernels/cuda/device_ops.h in float32 activations over fp16/bf16
// paged K/V.
//
// Start-up, as vLLM's worker: the weights are uploaded (weight_upload.h); create_kv_cache() then sizes the step
// machinery (a bump arena for activations, measured by replaying a step's allocations, and fixed step buffers),
// runs a profiling step at max_num_batched_tokens, hands the measured figures to the memory planner
// (memory_plan.h: GPU_MEMORY_UTILIZATION -> KV blocks, vLLM's log lines), allocates the K/V pool and captures a
// CUDA graph per decode batch size (largest first, one memory pool: every graph's activations are at the arena's
// fixed offsets). A decode step whose batch has a graph is packed, padded to the graph's size, copied with one
// host-to-device copy and replayed; prefill and mixed steps run eagerly.
#pragma once

#include <cuda_runtime_api.h>

#include <map>
#include <memory>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/cuda/device_ops.h"
#include "model/causal_lm.h"
#include "model/cuda/cuda_device.h"
#include "model/cuda/cuda_resources.h"
#include "model/cuda/weight_upload.h"
#include "model/cuda_graphs.h"
#include "model/decoder.h"
#include "model/lora.h"
#include "model/device/bump_arena.h"
#include "model/device/compute_options.h"
#include "model/device/step_inputs.h"

namespace podserve::cuda {

/// A step's activation buffers, carved from the arena in one fixed order (so a size always gets the same addresses).
struct StepBuffers {
  float* x = nullptr;       // [n, hidden] residual stream
  float* h = nullptr;       // [n, hidden] normed input / block output
  float* qkv = nullptr;     // [n, q_dim + 2 kv_dim]
  float* att = nullptr;     // [n, q_dim]
  float* gu = nullptr;      // [n, 2 ffn_hidden] gate | up
  float* normed = nullptr;  // [logits_chunk, hidden]
  float* logits = nullptr;  // [logits_chunk, vocab]
  // Mixtral.
  float* router = nullptr;  // [n, experts]
  kernels::cuda::MoeRouting routing;
  float* expert_gu = nullptr;   // [n * k, 2 ffn_hidden]
  float* expert_out = nullptr;  // [n * k, hidden]
};

class CudaDecoder final : public CausalLm {
 public:
  static Result<std::unique_ptr<CausalLm>> create(const DecoderSpec& spec, HfConfig config,
                                                  std::shared_ptr<const void> file, DecoderWeights weights,
                                                  const ComputeOptions& compute);
  ~CudaDecoder() override;

  const ModelConfig& config() const override { return hf_.model; }
  Status forward(const ForwardBatch& batch, KvPool& pool, float* logits) override;
  ThreadPool* thread_pool() override { return &host_pool_; }
  Result<KvPool> create_kv_cache(const KvCacheRequest& request) override;
  float* host_logits(size_t floats) override;
  uint64_t decode_weight_bytes() const override;
  bool supports_lora() const override;  // cuda_lora.cpp

 private:
  CudaDecoder(const DecoderSpec& spec, HfConfig config, const ComputeOptions& compute, DeviceInfo info);
  Status load(const DecoderWeights& weights);

  // Step machinery (cuda_setup.cpp).
  Status prepare_steps(const KvCacheRequest& request);
  Result<StepBuffers> carve(int n_tokens);
  Result<KvPool> plan_and_allocate_kv(const KvCacheRequest& request);
  Status profile_step(const KvCacheRequest& request);
  Status capture_graphs(KvPool& pool);
  Status warm_up_gemms(int n_tokens);

  // The forward pass on the stream (cuda_step.cpp); copies the real logits rows to `host_out` unless null.
  Status run_step(const PackedStep& p, KvPool& pool, const StepBuffers& b, float* host_out);
  Status matmul(const DeviceMatrix& m, const float* x, int64_t x_stride, int64_t n, const float* bias, float* y,
                int64_t y_stride);
  Status project_qkv(const DeviceLayer& l, const float* x, int64_t n, float* qkv);
  Status mlp(const PackedStep& p, const DeviceLayer& l, int li, const float* x, int64_t n, float* gu, float* out);
  Status moe(const DeviceLayer& l, int li, const StepBuffers& b, int64_t n);

  // LoRA (cuda_lora.cpp): the step's adapters on the device and its slot table, then each projection's delta.
  struct DeviceAdapter {
    DeviceBuffer memory;                    // every wrapped module's a then b, float32
    std::vector<kernels::LoraPair> pairs;   // [layer * kNumLoraModules + module], device pointers
    uint64_t last_used = 0;
  };
  using AdapterKey = std::pair<uint64_t, uint64_t>;  // LoraAdapter::weights_hash
  Result<const DeviceAdapter*> device_adapter(const LoraAdapter& a);
  Status prepare_lora(const ForwardBatch& batch);
  Status add_lora(const PackedStep& p, int layer, LoraModule m, const float* x, int64_t x_stride, int64_t in,
                  float* y, int64_t y_stride, int64_t out);

  DecoderSpec spec_;
  HfConfig hf_;
  ComputeOptions compute_;
  DeviceInfo info_;
  ThreadPool host_pool_;  // sampling, and the host side of the weight upload
  Stream stream_;
  DeviceWeights weights_;
  DeviceBuffer consts_;  // RoPE frequencies, expert pointer tables
  const float* inv_freq_full_ = nullptr;
  const float* inv_freq_local_ = nullptr;
  float attn_factor_full_ = 1.0f, attn_factor_local_ = 1.0f;
  float attn_scale_ = 1.0f;
  std::vector<kernels::cuda::ExpertMatrices> experts_;  // per layer: gate, up, down
  kernels::cuda::KvType kv_type_ = kernels::cuda::KvType::kF16;
  KvDType kv_dtype() const { return kv_type_ == kernels::cuda::KvType::kBF16 ? KvDType::kBF16 : KvDType::kF16; }

  // Sized by the first create_kv_cache() (and grown by a later one that needs more).
  bool steps_ready_ = false;
  StepLayout layout_;
  int logits_chunk_ = 0;  // rows of logits computed per lm-head pass
  DeviceBuffer step_device_;
  PinnedBuffer step_host_;
  DeviceBuffer arena_memory_;
  BumpArena arena_;
  DeviceBuffer decode_scratch_;
  std::unique_ptr<kernels::cuda::GemmContext> gemm_;
  std::map<AdapterKey, DeviceAdapter> adapters_;
  uint64_t lora_clock_ = 0;
  size_t lora_step_count_ = 0;       // adapters of the current step
  DeviceBuffer lora_table_;          // [layer][module][slot] LoraPair of the current step
  int64_t lora_slots_ = 0;
  std::vector<uint8_t> lora_wraps_;  // [layer * kNumLoraModules + module]: some adapter of the step wraps it
  PinnedBuffer host_logits_;

  // Decode graphs, for the pool they were captured with: its address and layout are baked into them (a pool
  // allocated later at the same address with the same layout is the same to them).
  struct PoolLayout {
    const uint8_t* data = nullptr;
    int num_blocks = 0, block_size = 0;
    KvDType dtype = KvDType::kF16;
    bool operator==(const PoolLayout&) const = default;
  };
  static PoolLayout layout_of(KvPool& pool) { return {pool.data(), pool.num_blocks(), pool.block_size(), pool.dtype()}; }
  void drop_graphs();
  CudaGraphPlan graph_plan_;
  std::map<int, cudaGraphExec_t> graphs_;
  PoolLayout graph_pool_;
};

}  // namespace podserve::cuda
