// LoRA on the GPU: the step's adapters on the device and each projection's delta (kernels::cuda::lora_bgmv), the
// same deltas at the same places as the CPU decoder's add_lora (model/decoder.cpp). An adapter's matrices go to
// the device the first time a step uses it and stay, keyed by its weights' hash, until kMaxDeviceAdapters others
// were used since; a step's slot table ([layer][module][slot] pairs) is rebuilt when its adapter list changes.
// Steps with LoRA tokens run eagerly (decode graphs are captured without adapters). Adapter memory is allocated
// when first used, outside the KV plan (from what GPU_MEMORY_UTILIZATION leaves free); running out is the step's
// error, naming the adapter.
#include <algorithm>
#include <string>
#include <vector>

#include "model/cuda/cuda_check.h"
#include "model/cuda/cuda_decoder.h"
#include "model/lora.h"

namespace podserve::cuda {
namespace {

namespace k = kernels::cuda;

// Adapters kept on the device besides those of the current step (vLLM keeps MAX_LORAS slots on the GPU; here an
// adapter not used by the last steps is freed, and uploaded again when it comes back).
constexpr size_t kMaxDeviceAdapters = 8;

}  // namespace

bool CudaDecoder::supports_lora() const { return !spec_.moe; }

Result<const CudaDecoder::DeviceAdapter*> CudaDecoder::device_adapter(const LoraAdapter& a) {
  const AdapterKey key{a.weights_hash[0], a.weights_hash[1]};
  ++lora_clock_;
  if (auto it = adapters_.find(key); it != adapters_.end()) {
    it->second.last_used = lora_clock_;
    return &it->second;
  }
  const int layers = hf_.model.n_layers;
  if (static_cast<int>(a.layers.size()) != layers) {
    return invalid_argument("LoRA adapter " + a.path + " has " + std::to_string(a.layers.size()) +
                            " layers; the model has " + std::to_string(layers));
  }
  size_t floats = 0;
  for (int li = 0; li < layers; ++li) {
    for (int m = 0; m < kNumLoraModules; ++m) {
      const LoraWeights& w = a.at(li, static_cast<LoraModule>(m));
      if (w.rank > k::kLoraMaxRank) {
        return invalid_argument("LoRA adapter " + a.path + ": rank " + std::to_string(w.rank) + " is above " +
                                std::to_string(k::kLoraMaxRank));
      }
      floats += w.a.size() + w.b.size();
    }
  }
  DeviceAdapter d;
  const std::string what = "LoRA adapter " + a.path;
  PODSERVE_ASSIGN_OR_RETURN(d.memory, DeviceBuffer::allocate(std::max<size_t>(floats, 1) * sizeof(float), what.c_str()));
  d.pairs.resize(static_cast<size_t>(layers) * kNumLoraModules);
  auto* at = reinterpret_cast<float*>(d.memory.data());
  for (int li = 0; li < layers; ++li) {
    for (int m = 0; m < kNumLoraModules; ++m) {
      const LoraWeights& w = a.at(li, static_cast<LoraModule>(m));
      kernels::LoraPair& pair = d.pairs[static_cast<size_t>(li) * kNumLoraModules + m];
      if (w.rank == 0) continue;
      PODSERVE_CUDA_TRY(cudaMemcpy(at, w.a.data(), w.a.size() * sizeof(float), cudaMemcpyHostToDevice));
      PODSERVE_CUDA_TRY(
          cudaMemcpy(at + w.a.size(), w.b.data(), w.b.size() * sizeof(float), cudaMemcpyHostToDevice));
      pair = {at, at + w.a.size(), w.rank};
      at += w.a.size() + w.b.size();
    }
  }
  d.last_used = lora_clock_;
  // Make room: the adapters used least recently go first (never one of this step's: they were just touched).
  while (adapters_.size() >= kMaxDeviceAdapters + lora_step_count_) {
    auto oldest = adapters_.begin();
    for (auto it = adapters_.begin(); it != adapters_.end(); ++it) {
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    }
    adapters_.erase(oldest);
  }
  return &adapters_.emplace(key, std::move(d)).first->second;
}

Status CudaDecoder::prepare_lora(const ForwardBatch& batch) {
  const int layers = hf_.model.n_layers;
  lora_wraps_.assign(static_cast<size_t>(layers) * kNumLoraModules, 0);
  lora_step_count_ = 0;
  bool any = false;
  for (int32_t s : batch.lora_slot) any = any || s >= 0;
  if (!any) return ok_status();
  // The step's device adapters first (an upload may evict, but never an adapter of this step).
  lora_step_count_ = batch.loras.size();
  std::vector<const DeviceAdapter*> dev(batch.loras.size(), nullptr);
  for (size_t s = 0; s < batch.loras.size(); ++s) {
    if (batch.loras[s] == nullptr) continue;
    PODSERVE_ASSIGN_OR_RETURN(dev[s], device_adapter(*batch.loras[s]));
  }
  const size_t slots = batch.loras.size();
  lora_slots_ = static_cast<int64_t>(slots);
  std::vector<kernels::LoraPair> table(static_cast<size_t>(layers) * kNumLoraModules * slots);
  for (int li = 0; li < layers; ++li) {
    for (int m = 0; m < kNumLoraModules; ++m) {
      const size_t lm = static_cast<size_t>(li) * kNumLoraModules + m;
      for (size_t s = 0; s < slots; ++s) {
        if (dev[s] == nullptr) continue;
        table[lm * slots + s] = dev[s]->pairs[lm];
        if (dev[s]->pairs[lm].rank > 0) lora_wraps_[lm] = 1;
      }
    }
  }
  const size_t bytes = table.size() * sizeof(kernels::LoraPair);
  if (lora_table_.size() < bytes) {
    PODSERVE_ASSIGN_OR_RETURN(lora_table_, DeviceBuffer::allocate(bytes, "LoRA slot table"));
  }
  PODSERVE_CUDA_TRY(cudaMemcpy(lora_table_.data(), table.data(), bytes, cudaMemcpyHostToDevice));
  return ok_status();
}

Status CudaDecoder::add_lora(const PackedStep& p, int layer, LoraModule m, const float* x, int64_t x_stride,
                             int64_t in, float* y, int64_t y_stride, int64_t out) {
  const size_t lm = static_cast<size_t>(layer) * kNumLoraModules + static_cast<int>(m);
  if (!p.any_lora || lm >= lora_wraps_.size() || lora_wraps_[lm] == 0) return ok_status();
  const auto* table = reinterpret_cast<const kernels::LoraPair*>(lora_table_.data()) + lm * lora_slots_;
  const auto* slot_of = reinterpret_cast<const int32_t*>(step_device_.data() + layout_.lora_slots);
  return k::lora_bgmv(table, slot_of, x, x_stride, in, y, y_stride, out, p.n_tokens, stream_.get());
}

}  // namespace podserve::cuda
