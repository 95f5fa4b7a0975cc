#include "model/cuda/cuda_decoder.h"

#include <cmath>
#include <cstring>

#include "base/log.h"
#include "model/batch_check.h"
#include "model/cuda/cuda_check.h"
#include "model/device/cuda_model.h"
#include "model/device/dummy_device.h"

namespace podserve {

Result<std::unique_ptr<CausalLm>> create_cuda_decoder(const DecoderSpec& spec, HfConfig config,
                                                      std::shared_ptr<const void> file, DecoderWeights weights,
                                                      const ComputeOptions& compute) {
  return cuda::CudaDecoder::create(spec, std::move(config), std::move(file), std::move(weights), compute);
}

namespace cuda {
namespace {

namespace k = kernels::cuda;

// KV_CACHE_DTYPE on the GPU: auto and float16 keep fp16 K/V (llama.cpp's and the CPU path's precision), bfloat16
// keeps bf16; fp8 is not implemented.
Result<k::KvType> kv_type_for(KvCacheDType requested) {
  switch (requested) {
    case KvCacheDType::kAuto:
    case KvCacheDType::kFloat16: return k::KvType::kF16;
    case KvCacheDType::kBFloat16: return k::KvType::kBF16;
    default:
      return unimplemented(std::string("KV_CACHE_DTYPE=") + kv_cache_dtype_name(requested) +
                           " is not supported on the GPU yet (supported: auto, float16, bfloat16)");
  }
}

// What the kernels require of the shapes; anything else is refused at load with the model's numbers.
Status check_shapes(const ModelConfig& c) {
  if (c.head_dim % 8 != 0 || c.head_dim > 256) {
    return unimplemented("head_dim " + std::to_string(c.head_dim) +
                         " is not supported on the GPU (a multiple of 8, at most 256)");
  }
  if (c.rope_dim > c.head_dim || c.rope_dim % 2 != 0) return data_loss("rope dimension must be even and <= head_dim");
  return ok_status();
}

}  // namespace

CudaDecoder::CudaDecoder(const DecoderSpec& spec, HfConfig config, const ComputeOptions& compute, DeviceInfo info)
    : spec_(spec), hf_(std::move(config)), compute_(compute), info_(std::move(info)), host_pool_(compute.num_threads) {
  hf_.model.kv_f32 = false;  // fp16 or bf16 K/V on the GPU, whatever the weights (KV_CACHE_DTYPE)
}

CudaDecoder::~CudaDecoder() {
  if (cudaSetDevice(info_.ordinal) != cudaSuccess) return;
  if (stream_.get() != nullptr) cudaStreamSynchronize(stream_.get());
  drop_graphs();
}

void CudaDecoder::drop_graphs() {
  for (auto& [size, exec] : graphs_) cudaGraphExecDestroy(exec);
  graphs_.clear();
  graph_pool_ = PoolLayout{};
}

Result<std::unique_ptr<CausalLm>> CudaDecoder::create(const DecoderSpec& spec, HfConfig config,
                                                      std::shared_ptr<const void> file, DecoderWeights weights,
                                                      const ComputeOptions& compute) {
  PODSERVE_RETURN_IF_ERROR(check_shapes(config.model));
  PODSERVE_ASSIGN_OR_RETURN(k::KvType kv_type, kv_type_for(compute.options.kv_cache_dtype));
  PODSERVE_ASSIGN_OR_RETURN(DeviceInfo info, select_device(compute.ordinal));
  PODSERVE_LOG(kInfo) << "GPU " << info.ordinal << ": " << info.describe();
  auto model = std::unique_ptr<CudaDecoder>(new CudaDecoder(spec, std::move(config), compute, std::move(info)));
  model->kv_type_ = kv_type;
  PODSERVE_ASSIGN_OR_RETURN(model->stream_, Stream::create());
  PODSERVE_RETURN_IF_ERROR(model->load(weights));
  // The device holds everything now: the mapping and any host copies can go.
  weights = DecoderWeights{};
  file.reset();
  const ModelConfig& c = model->hf_.model;
  PODSERVE_LOG(kInfo) << c.architecture << " on " << model->info_.name << ": " << c.n_layers << " layers, hidden "
                      << c.hidden << ", heads " << c.n_heads << "/" << c.n_kv_heads << " x " << c.head_dim
                      << ", vocab " << c.vocab_size << ", weights " << dtype_name(model->weights_.plan.embedding.type)
                      << ", K/V " << (kv_type == k::KvType::kBF16 ? "bf16" : "fp16")
                      << "; kernels: GEMV (decode, <= " << k::kGemvMaxTokens
                      << " tokens), cuBLASLt GEMM (prefill), flash-decoding and varlen prefill attention";
  return std::unique_ptr<CausalLm>(std::move(model));
}

Status CudaDecoder::load(const DecoderWeights& w) {
  const ModelConfig& c = hf_.model;
  PODSERVE_ASSIGN_OR_RETURN(WeightPlan plan, plan_device_weights(w));
  if (compute_.dummy != nullptr) {  // LOAD_FORMAT=dummy: the matrices are made on the device
    PODSERVE_RETURN_IF_ERROR(plan_dummy_fills(plan, *compute_.dummy));
    compute_.dummy = nullptr;  // the placeholders go with the checkpoint after loading
  }
  // bf16 twins of quantized matrices make prefill GEMMs read bf16 directly; they are kept when the weights and
  // twins together take at most half of the memory this instance may use, else prefill dequantizes per GEMM.
  const double budget = static_cast<double>(info_.total_bytes) * compute_.options.gpu_memory_utilization;
  if (plan.bf16_twin_bytes > 0) {
    if (static_cast<double>(plan.total_bytes) > 0.5 * budget) {
      PODSERVE_LOG(kInfo) << "quantized weights: no bf16 copies (they would take "
                          << plan.bf16_twin_bytes / 1073741824.0 << " GiB); prefill dequantizes per GEMM";
      drop_bf16_twins(plan);
    } else {
      PODSERVE_LOG(kInfo) << "quantized weights: bf16 copies for prefill GEMMs take " << plan.bf16_twin_bytes / 1073741824.0
                          << " GiB";
    }
  }
  UploadStats stats;
  PODSERVE_ASSIGN_OR_RETURN(weights_, upload_weights(std::move(plan), stream_.get(), &host_pool_, &stats));
  PODSERVE_LOG(kInfo) << "Model loading took " << weights_.plan.total_bytes / 1073741824.0 << " GiB memory and "
                      << stats.seconds << " seconds (" << stats.bytes / 1e9 / std::max(stats.seconds, 1e-9)
                      << " GB/s through " << stats.staging_buffers << " pinned buffers)";

  // Constants: RoPE frequencies of full and sliding layers, then per layer the expert pointer tables.
  const std::vector<float> full = rope_inv_freq(hf_.rope, c.rope_dim, hf_.max_position_embeddings, &attn_factor_full_);
  const std::vector<float> local = rope_inv_freq(hf_.rope_local, c.rope_dim, hf_.max_position_embeddings, &attn_factor_local_);
  std::vector<uint8_t> host;
  auto put = [&host](const void* data, size_t bytes) {
    const size_t at = BumpArena::align_up(host.size());
    host.resize(at + bytes);
    std::memcpy(host.data() + at, data, bytes);
    return at;
  };
  const size_t full_at = put(full.data(), full.size() * sizeof(float));
  const size_t local_at = put(local.data(), local.size() * sizeof(float));
  std::vector<size_t> expert_at;
  for (const DeviceLayer& l : weights_.plan.layers) {
    for (int which = 0; which < 3 && !l.experts.empty(); ++which) {
      std::vector<const uint8_t*> ptrs;
      for (const DeviceExpert& e : l.experts) {
        const DeviceMatrix& m = which == 0 ? e.gate : which == 1 ? e.up : e.down;
        ptrs.push_back(weights_.block.data() + m.offset);
      }
      expert_at.push_back(put(ptrs.data(), ptrs.size() * sizeof(ptrs[0])));
    }
  }
  PODSERVE_ASSIGN_OR_RETURN(consts_, DeviceBuffer::allocate(BumpArena::align_up(host.size()), "model constants"));
  PODSERVE_CUDA_TRY(cudaMemcpy(consts_.data(), host.data(), host.size(), cudaMemcpyHostToDevice));
  inv_freq_full_ = reinterpret_cast<const float*>(consts_.data() + full_at);
  inv_freq_local_ = reinterpret_cast<const float*>(consts_.data() + local_at);
  size_t next = 0;
  experts_.clear();
  for (const DeviceLayer& l : weights_.plan.layers) {
    for (int which = 0; which < 3 && !l.experts.empty(); ++which) {
      const DeviceMatrix& m = which == 0 ? l.experts[0].gate : which == 1 ? l.experts[0].up : l.experts[0].down;
      for (const DeviceExpert& e : l.experts) {
        const DeviceMatrix& x = which == 0 ? e.gate : which == 1 ? e.up : e.down;
        if (x.type != m.type || x.rows != m.rows || x.cols != m.cols) return unimplemented("experts of mixed types");
      }
      experts_.push_back({m.type, reinterpret_cast<const uint8_t* const*>(consts_.data() + expert_at[next++]), m.rows, m.cols});
    }
  }
  attn_scale_ = hf_.query_pre_attn_scalar > 0 ? static_cast<float>(1.0 / std::sqrt(hf_.query_pre_attn_scalar))
                                              : 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  return check_stage(stream_.get(), "loading the weights");
}

uint64_t CudaDecoder::decode_weight_bytes() const {
  const WeightPlan& w = weights_.plan;
  uint64_t bytes = w.output.bytes() + static_cast<uint64_t>(w.final_norm.n) * 4;
  auto vec = [](const DeviceVector& v) { return static_cast<uint64_t>(v.n) * 4; };
  for (const DeviceLayer& l : w.layers) {
    for (const DeviceMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down, &l.router}) {
      if (m->present()) bytes += m->bytes();
    }
    // Mixtral reads the routed experts' weights only: experts_per_tok of n_experts, for a single token.
    for (size_t e = 0; e < l.experts.size() && static_cast<int>(e) < hf_.experts_per_tok; ++e) {
      bytes += l.experts[e].gate.bytes() + l.experts[e].up.bytes() + l.experts[e].down.bytes();
    }
    for (const DeviceVector* v : {&l.attn_norm, &l.post_attn_norm, &l.ffn_norm, &l.post_ffn_norm, &l.q_norm, &l.k_norm,
                                  &l.bq, &l.bk, &l.bv, &l.bo, &l.b_gate, &l.b_up, &l.b_down}) {
      bytes += vec(*v);
    }
  }
  return bytes;
}

float* CudaDecoder::host_logits(size_t floats) {
  const size_t bytes = floats * sizeof(float);
  if (host_logits_.size() < bytes) {
    if (cudaSetDevice(info_.ordinal) != cudaSuccess) return CausalLm::host_logits(floats);
    host_logits_ = PinnedBuffer();
    // Grow by half again so a slowly growing step does not reallocate every time.
    Result<PinnedBuffer> b = PinnedBuffer::allocate(bytes + bytes / 2, "logits");
    if (!b.ok()) {
      PODSERVE_LOG(kWarning) << b.status().message() << "; logits go to pageable memory";
      return CausalLm::host_logits(floats);
    }
    host_logits_ = std::move(b).value();
  }
  return reinterpret_cast<float*>(host_logits_.data());
}

Status CudaDecoder::forward(const ForwardBatch& batch, KvPool& pool, float* logits) {
  PODSERVE_RETURN_IF_ERROR(validate_batch(batch, pool, hf_.model.vocab_size, /*host_pool=*/false, supports_lora()));
  if (!steps_ready_) return invalid_argument("forward before create_kv_cache: the step buffers are not sized yet");
  if (pool.n_layers() != hf_.model.n_layers || pool.kv_dim() != hf_.model.kv_dim() || pool.dtype() != kv_dtype()) {
    return invalid_argument("the KV pool does not match the model's layers, K/V width and K/V type");
  }
  PODSERVE_CUDA_TRY(cudaSetDevice(info_.ordinal));
  PODSERVE_RETURN_IF_ERROR(prepare_lora(batch));
  // A decode step whose batch has a graph (captured for this pool, without adapters) replays it.
  int graph_size = 0;
  if (!graphs_.empty() && layout_of(pool) == graph_pool_ && lora_step_count_ == 0 && is_uniform_decode(batch)) {
    int longest = 0;
    for (int32_t p : batch.positions) longest = std::max(longest, p + 1);
    graph_size = graph_plan_.padded_size(static_cast<int>(batch.tokens.size()), longest);
    if (graphs_.count(graph_size) == 0) graph_size = 0;
  }
  PODSERVE_ASSIGN_OR_RETURN(PackedStep p, pack_step(batch, layout_, graph_size, step_host_.data()));
  PODSERVE_CUDA_TRY(cudaMemcpyAsync(step_device_.data(), step_host_.data(), p.copy_bytes, cudaMemcpyHostToDevice,
                                    stream_.get()));
  const int64_t vocab = hf_.model.vocab_size;
  if (graph_size > 0) {
    PODSERVE_ASSIGN_OR_RETURN(StepBuffers b, carve(graph_size));
    PODSERVE_CUDA_TRY(cudaGraphLaunch(graphs_.at(graph_size), stream_.get()));
    if (p.n_real_logits > 0) {
      PODSERVE_CUDA_TRY(cudaMemcpyAsync(logits, b.logits, static_cast<size_t>(p.n_real_logits) * vocab * sizeof(float),
                                        cudaMemcpyDeviceToHost, stream_.get()));
    }
  } else {
    PODSERVE_ASSIGN_OR_RETURN(StepBuffers b, carve(p.n_tokens));
    PODSERVE_RETURN_IF_ERROR(run_step(p, pool, b, logits));
  }
  // The step buffer is rewritten by the next step and the logits are read now: wait for both.
  const Status done = cuda_status(cudaStreamSynchronize(stream_.get()), graph_size > 0 ? "decode graph" : "forward step");
  if (!done.ok()) return done;
  return cuda_status(cudaGetLastError(), "forward step");
}

}  // namespace cuda
}  // namespace podserve
