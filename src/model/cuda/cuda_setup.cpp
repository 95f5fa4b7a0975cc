// The step machinery and start-up of a CUDA model, as vLLM's worker: step buffers and the activation arena sized
// for max_num_batched_tokens, a profiling step, the memory plan (GPU_MEMORY_UTILIZATION -> KV blocks), the K/V
// pool, and the decode graphs.
#include <algorithm>
#include <chrono>
#include <set>

#include "base/log.h"
#include "model/cuda/cuda_check.h"
#include "model/cuda/cuda_decoder.h"
#include "model/cuda/cuda_kv.h"
#include "model/memory_plan.h"

namespace podserve::cuda {
namespace {

namespace k = kernels::cuda;
using Clock = std::chrono::steady_clock;

double gib(size_t bytes) { return static_cast<double>(bytes) / 1073741824.0; }

// The graphs' per-graph memory (exec objects, kernel parameters) before it is measured: activations live in the
// arena, so a graph holds only its nodes. Budgeted per captured size; the measured figure is logged after capture.
constexpr uint64_t kGraphBytesEstimate = uint64_t{2} << 20;

}  // namespace

Status CudaDecoder::prepare_steps(const KvCacheRequest& r) {
  const ModelConfig& c = hf_.model;
  if (r.block_size < 1 || r.max_model_len < 1) return invalid_argument("KV cache request: block_size and max_model_len must be >= 1");
  PODSERVE_ASSIGN_OR_RETURN(graph_plan_, plan_cuda_graphs(compute_.options.cuda_graphs, r.max_num_seqs,
                                                          r.max_num_batched_tokens));
  const int max_tokens = std::max({r.max_num_batched_tokens, graph_plan_.max_size(), 1});
  const int max_seqs = std::max({r.max_num_seqs, graph_plan_.max_size(), 1});
  const int max_blocks = (r.max_model_len + r.block_size - 1) / r.block_size;
  if (steps_ready_ && max_tokens <= layout_.max_tokens && max_seqs <= layout_.max_seqs &&
      max_blocks <= layout_.max_blocks_per_seq) {
    return ok_status();  // a later pool (tests make several) fits the buffers already sized
  }
  // (Re)sizing moves every buffer: graphs captured on the old ones and the GEMM scratch go.
  steps_ready_ = false;
  drop_graphs();
  gemm_.reset();
  PODSERVE_ASSIGN_OR_RETURN(layout_, make_step_layout(max_tokens, max_seqs, max_blocks));
  // Logits: as many rows per lm-head pass as a decode step of every sequence (prompt logprobs take more passes).
  logits_chunk_ = std::min(max_tokens, std::max(max_seqs, 256));
  PODSERVE_ASSIGN_OR_RETURN(step_device_, DeviceBuffer::allocate(layout_.total, "step inputs"));
  PODSERVE_ASSIGN_OR_RETURN(step_host_, PinnedBuffer::allocate(layout_.total, "step inputs"));
  // The arena: the largest step's allocation sequence, replayed on a measuring arena, is exactly its size.
  arena_memory_ = DeviceBuffer();
  arena_ = BumpArena(0, BumpArena::kUnbounded);
  PODSERVE_RETURN_IF_ERROR(carve(max_tokens).status());
  const size_t arena_bytes = arena_.peak();
  PODSERVE_ASSIGN_OR_RETURN(arena_memory_, DeviceBuffer::allocate(arena_bytes, "activations"));
  arena_ = BumpArena(reinterpret_cast<uintptr_t>(arena_memory_.data()), arena_bytes);
  PODSERVE_ASSIGN_OR_RETURN(decode_scratch_, DeviceBuffer::allocate(
      std::max<size_t>(k::attention_decode_scratch_bytes(max_seqs, c.n_heads, c.head_dim), 256), "attention splits"));
  // The GEMM's activation scratch covers every matmul input; its weight scratch the largest quantized matrix
  // without a bf16 twin (fused q|k|v and gate|up included).
  int64_t max_cols = std::max<int64_t>({c.hidden, int64_t{c.n_heads} * c.head_dim, 2 * int64_t{c.ffn_hidden}});
  int64_t max_weight = 0;
  auto consider = [&](const DeviceMatrix& m, int64_t rows) {
    if (m.present() && needs_bf16_twin(m.type) && m.bf16_offset == kNoOffset) max_weight = std::max(max_weight, rows * m.cols);
  };
  const WeightPlan& w = weights_.plan;
  consider(w.output, w.output.rows);
  for (const DeviceLayer& l : w.layers) {
    consider(l.wq, l.qkv_adjacent ? l.wq.rows + l.wk.rows + l.wv.rows : l.wq.rows);
    consider(l.wk, l.wk.rows);
    consider(l.wv, l.wv.rows);
    consider(l.wo, l.wo.rows);
    consider(l.gate, l.gate_up_adjacent ? 2 * l.gate.rows : l.gate.rows);
    consider(l.up, l.up.rows);
    consider(l.down, l.down.rows);
    consider(l.router, l.router.rows);
  }
  PODSERVE_ASSIGN_OR_RETURN(gemm_, k::GemmContext::create(max_tokens, max_cols, max_weight, stream_.get()));
  steps_ready_ = true;
  PODSERVE_LOG(kInfo) << "step buffers: " << max_tokens << " tokens, " << max_seqs << " sequences, " << max_blocks
                      << " blocks per sequence; activation arena " << gib(arena_bytes) << " GiB, GEMM workspace "
                      << gib(gemm_->device_bytes()) << " GiB";
  return check_stage(stream_.get(), "step buffers");
}

// A step of max_num_batched_tokens tokens (sequences of at most max_model_len) with a full lm-head pass, through a
// temporary K/V pool: it runs every kernel at its largest shape once (warming cuBLASLt's algorithm choice) and
// makes whatever the libraries allocate on first use show in the free memory.
Status CudaDecoder::profile_step(const KvCacheRequest& r) {
  const int total = layout_.max_tokens;
  ForwardBatch batch;
  int blocks = 0;
  std::vector<std::vector<int32_t>> tables;
  std::vector<int32_t> tokens(static_cast<size_t>(std::min(total, r.max_model_len)), 1);
  for (int done = 0; done < total && static_cast<int>(tables.size()) < layout_.max_seqs;) {
    const int len = std::min(total - done, r.max_model_len);
    std::vector<int32_t> table(static_cast<size_t>((len + r.block_size - 1) / r.block_size));
    for (int32_t& b : table) b = blocks++;
    batch.add_sequence(std::span(tokens).first(static_cast<size_t>(len)), 0, table, r.block_size, false);
    tables.push_back(std::move(table));
    done += len;
  }
  for (int row = 0; row < std::min<int>(logits_chunk_, static_cast<int>(batch.tokens.size())); ++row) {
    batch.logits_rows.push_back(row);
  }
  PODSERVE_ASSIGN_OR_RETURN(KvPool pool, create_device_kv_pool(hf_.model.n_layers, blocks, r.block_size,
                                                               hf_.model.kv_dim(), kv_dtype(), stream_.get()));
  std::vector<float> logits(batch.logits_rows.size() * static_cast<size_t>(hf_.model.vocab_size));
  const Status s = forward(batch, pool, logits.data());
  if (!s.ok()) return Status(s.code(), "the profiling step failed: " + s.message());
  return ok_status();
}

Status CudaDecoder::warm_up_gemms(int n) {
  if (n <= k::kGemvMaxTokens) return ok_status();
  const WeightPlan& w = weights_.plan;
  auto warm = [&](const DeviceMatrix& m, int64_t rows) -> Status {
    if (!m.present()) return ok_status();
    DeviceMatrix x = m;
    x.rows = rows;
    return gemm_->warm_up(weights_.for_gemm(x), n);
  };
  PODSERVE_RETURN_IF_ERROR(warm(w.output, w.output.rows));
  for (const DeviceLayer& l : w.layers) {
    if (l.qkv_adjacent) {
      PODSERVE_RETURN_IF_ERROR(warm(l.wq, l.wq.rows + l.wk.rows + l.wv.rows));
    } else {
      for (const DeviceMatrix* m : {&l.wq, &l.wk, &l.wv}) PODSERVE_RETURN_IF_ERROR(warm(*m, m->rows));
    }
    PODSERVE_RETURN_IF_ERROR(warm(l.wo, l.wo.rows));
    if (l.gate_up_adjacent && !l.b_gate.present() && !l.b_up.present()) {
      PODSERVE_RETURN_IF_ERROR(warm(l.gate, 2 * l.gate.rows));
    } else {
      PODSERVE_RETURN_IF_ERROR(warm(l.gate, l.gate.rows));
      PODSERVE_RETURN_IF_ERROR(warm(l.up, l.up.rows));
    }
    PODSERVE_RETURN_IF_ERROR(warm(l.down, l.down.rows));
    PODSERVE_RETURN_IF_ERROR(warm(l.router, l.router.rows));
  }
  return ok_status();
}

Result<KvPool> CudaDecoder::plan_and_allocate_kv(const KvCacheRequest& r) {
  const ModelConfig& c = hf_.model;
  const DeviceOptions& o = compute_.options;
  const KvDType dtype = kv_dtype();
  int64_t blocks = r.num_kv_blocks;
  if (blocks <= 0 && o.num_gpu_blocks_override > 0) blocks = o.num_gpu_blocks_override;
  if (blocks <= 0) {
    // Measure: everything the step machinery, the profiling step and the libraries took beyond the arena.
    PODSERVE_ASSIGN_OR_RETURN(DeviceMemory before, device_memory());
    PODSERVE_RETURN_IF_ERROR(profile_step(r));
    PODSERVE_CUDA_TRY(cudaStreamSynchronize(stream_.get()));
    PODSERVE_ASSIGN_OR_RETURN(DeviceMemory after, device_memory());
    GpuMemoryInputs in;
    in.device = "cuda:" + std::to_string(info_.ordinal);
    in.total_bytes = info_.total_bytes;
    in.free_bytes = info_.free_bytes;
    in.gpu_memory_utilization = o.gpu_memory_utilization;
    in.weight_bytes = weights_.plan.total_bytes + consts_.size();
    in.activation_peak_bytes = arena_.capacity();
    // Context, step buffers, split scratch, GEMM workspace: what the device lost since the model was selected,
    // beyond the weights, the arena and what the profiling step freed again.
    const uint64_t used_now = info_.total_bytes - after.free;
    const uint64_t used_at_start = info_.total_bytes - info_.free_bytes;
    const uint64_t counted = in.weight_bytes + in.activation_peak_bytes;
    in.workspace_bytes = used_now > used_at_start + counted ? used_now - used_at_start - counted : 0;
    (void)before;
    in.cuda_graph_bytes = o.cuda_graphs.enforce_eager ? 0 : kGraphBytesEstimate * graph_plan_.sizes.size();
    in.safety_margin_bytes = kDefaultSafetyMarginBytes;
    in.kv_cache_memory_bytes = o.kv_cache_memory_bytes;
    in.block_bytes = KvPool::block_bytes(c.n_layers, r.block_size, c.kv_dim(), dtype);
    in.block_size = r.block_size;
    in.max_model_len = r.max_model_len;
    PODSERVE_ASSIGN_OR_RETURN(GpuMemoryPlan plan, plan_gpu_memory(in));
    for (const std::string& line : plan.log_lines) PODSERVE_LOG(kInfo) << line;
    blocks = plan.num_blocks;
  } else {
    const int64_t per_request = (int64_t{r.max_model_len} + r.block_size - 1) / r.block_size;
    if (blocks < per_request) {
      return invalid_argument("NUM_GPU_BLOCKS_OVERRIDE / num_kv_blocks " + std::to_string(blocks) +
                              " blocks cannot hold one sequence of max_model_len " + std::to_string(r.max_model_len));
    }
  }
  if (blocks > (int64_t{1} << 30)) return invalid_argument("KV cache too large");
  Result<KvPool> pool = create_device_kv_pool(c.n_layers, static_cast<int>(blocks), r.block_size, c.kv_dim(), dtype,
                                              stream_.get());
  if (!pool.ok() && pool.status().code() == StatusCode::kResourceExhausted) {
    return resource_exhausted(pool.status().message() +
                              ". Lower GPU_MEMORY_UTILIZATION's share for the KV cache (or KV_CACHE_MEMORY_BYTES / "
                              "NUM_GPU_BLOCKS_OVERRIDE), or free the GPU of other processes");
  }
  return pool;
}

Status CudaDecoder::capture_graphs(KvPool& pool) {
  if (graph_plan_.sizes.empty()) return ok_status();
  const auto start = Clock::now();
  PODSERVE_ASSIGN_OR_RETURN(DeviceMemory before, device_memory());
  std::vector<int> sizes = graph_plan_.sizes;
  std::sort(sizes.rbegin(), sizes.rend());  // largest first: smaller graphs reuse the pool it grew
  PODSERVE_LOG(kInfo) << "Capturing CUDA graphs (decode, FULL): " << format_size_list(graph_plan_.sizes);
  for (int g : sizes) {
    PODSERVE_RETURN_IF_ERROR(warm_up_gemms(g));
    PackedStep p;
    p.n_tokens = p.n_real_tokens = p.n_decode = p.n_logits = g;
    p.n_real_logits = g;
    p.uniform_decode = true;
    PODSERVE_ASSIGN_OR_RETURN(StepBuffers b, carve(g));
    cudaStream_t s = stream_.get();
    PODSERVE_CUDA_TRY(cudaStreamSynchronize(s));
    PODSERVE_CUDA_TRY(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    const Status run = run_step(p, pool, b, nullptr);
    cudaGraph_t graph = nullptr;
    const Status ended = cuda_status(cudaStreamEndCapture(s, &graph), "cudaStreamEndCapture");
    if (!run.ok() || !ended.ok()) {
      if (graph != nullptr) cudaGraphDestroy(graph);
      (void)cudaGetLastError();
      return Status(run.ok() ? ended.code() : run.code(),
                    "capturing the decode graph of " + std::to_string(g) + " sequences: " +
                        (run.ok() ? ended.message() : run.message()));
    }
    cudaGraphExec_t exec = nullptr;
    const Status inst = cuda_status(cudaGraphInstantiate(&exec, graph, 0), "cudaGraphInstantiate");
    cudaGraphDestroy(graph);
    PODSERVE_RETURN_IF_ERROR(inst);
    graphs_[g] = exec;
    PODSERVE_CUDA_TRY(cudaGraphUpload(exec, s));
  }
  PODSERVE_CUDA_TRY(cudaStreamSynchronize(stream_.get()));
  graph_pool_ = layout_of(pool);
  PODSERVE_ASSIGN_OR_RETURN(DeviceMemory after, device_memory());
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  const size_t took = before.free > after.free ? before.free - after.free : 0;
  char line[128];
  std::snprintf(line, sizeof line, "Graph capturing finished in %.0f secs, took %.2f GiB", secs, gib(took));
  PODSERVE_LOG(kInfo) << line << " (" << graphs_.size() << " graphs, " << secs << " s)";
  return ok_status();
}

Result<KvPool> CudaDecoder::create_kv_cache(const KvCacheRequest& r) {
  PODSERVE_CUDA_TRY(cudaSetDevice(info_.ordinal));
  const auto start = Clock::now();
  PODSERVE_RETURN_IF_ERROR(prepare_steps(r));
  PODSERVE_ASSIGN_OR_RETURN(KvPool pool, plan_and_allocate_kv(r));
  // Graphs serve the newest pool that asks for them (the engine's only one; the bench makes one per test).
  if (r.cuda_graphs && !graph_plan_.sizes.empty() && !(layout_of(pool) == graph_pool_)) {
    drop_graphs();
    const Status captured = capture_graphs(pool);
    if (!captured.ok()) {
      // Serving still works without graphs: every step runs eagerly. An out-of-memory names the settings.
      drop_graphs();
      if (captured.code() == StatusCode::kResourceExhausted) {
        return resource_exhausted(captured.message() + ". Set ENFORCE_EAGER=true or lower GPU_MEMORY_UTILIZATION");
      }
      PODSERVE_LOG(kError) << "CUDA graphs disabled, every step runs eagerly: " << captured.to_string();
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  PODSERVE_LOG(kInfo) << "init engine (profile, create kv cache, warmup model) took " << secs << " seconds";
  return pool;
}

}  // namespace podserve::cuda
