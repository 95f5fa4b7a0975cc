// GPU memory planning against vLLM's own logged figures (gpu.md §1.3, §11): the components vLLM logged for a
// start-up, fed in, must give the block count and log lines vLLM printed; each failure names the setting to change.
#include "model/memory_plan.h"

#include <gtest/gtest.h>

#include <cmath>

namespace podserve {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
uint64_t gib(double x) { return static_cast<uint64_t>(std::llround(x * kGiB)); }

// Llama-2-7B: 32 layers x 32 KV heads x head_dim 128, fp16, 16-token blocks: 8 MiB per block.
KvBlockShape llama2_7b() { return KvBlockShape{.n_layers = 32, .n_kv_heads = 32, .head_dim = 128, .block_size = 16, .dtype_bytes = 2}; }
// Llama-3-8B: 32 layers x 8 KV heads x 128, bf16: 128 KiB per token, 2 MiB per block.
KvBlockShape llama3_8b() { return KvBlockShape{.n_layers = 32, .n_kv_heads = 8, .head_dim = 128, .block_size = 16, .dtype_bytes = 2}; }

GpuMemoryInputs inputs(uint64_t total, double util, KvBlockShape shape, int max_model_len) {
  GpuMemoryInputs in;
  in.total_bytes = in.free_bytes = total;
  in.gpu_memory_utilization = util;
  in.block_bytes = kv_block_bytes(shape);
  in.block_size = shape.block_size;
  in.max_model_len = max_model_len;
  return in;
}

std::string error_of(const GpuMemoryInputs& in) {
  Result<GpuMemoryPlan> plan = plan_gpu_memory(in);
  EXPECT_FALSE(plan.ok());
  return plan.ok() ? "" : plan.status().message();
}

TEST(KvBlockBytesTest, PageSizeTimesLayers) {
  EXPECT_EQ(kv_block_bytes(llama2_7b()), uint64_t{8} << 20);
  EXPECT_EQ(kv_block_bytes(llama3_8b()), uint64_t{2} << 20);
  KvBlockShape fp8 = llama3_8b();
  fp8.dtype_bytes = 1;
  EXPECT_EQ(kv_block_bytes(fp8), uint64_t{1} << 20);
  fp8.n_layers = 0;
  EXPECT_EQ(kv_block_bytes(fp8), 0u);
}

// kubernetes-sigs/gateway-api-inference-extension#550: vLLM on an 80 GB card, Llama-2-7B, utilization 0.90,
// logged 79.19 GiB total, weights 12.55, non-torch 0.16, activation peak 2.38, KV 56.18 GiB, "# cuda blocks: 7191"
// (115,056 tokens).
TEST(GpuMemoryPlanTest, Llama2On80GBAsVllmLogged) {
  GpuMemoryInputs in = inputs(gib(79.19), 0.90, llama2_7b(), 4096);
  in.weight_bytes = gib(12.55);
  in.workspace_bytes = gib(0.16);
  in.activation_peak_bytes = gib(2.38);
  Result<GpuMemoryPlan> plan = plan_gpu_memory(in);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->num_blocks, 7191);
  EXPECT_EQ(plan->kv_tokens, 115056);
  ASSERT_EQ(plan->log_lines.size(), 3u);
  EXPECT_EQ(plan->log_lines[0], "Available KV cache memory: 56.18 GiB");
  EXPECT_EQ(plan->log_lines[1], "GPU KV cache size: 115,056 tokens");
  EXPECT_EQ(plan->log_lines[2], "Maximum concurrency for 4,096 tokens per request: 28.09x");  // 7191 / 256
}

// vllm#20264: "GPU KV cache size: 613,024 tokens", "Maximum concurrency for 131,072 tokens per request: 4.68x"
// (38,314 blocks of 16 tokens).
TEST(GpuMemoryPlanTest, LogLinesAsVllmPrintsThem) {
  GpuMemoryInputs in = inputs(gib(80), 1.0, llama3_8b(), 131072);
  in.kv_cache_memory_bytes = uint64_t{38314} * kv_block_bytes(llama3_8b());
  Result<GpuMemoryPlan> plan = plan_gpu_memory(in);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->num_blocks, 38314);
  EXPECT_EQ(plan->log_lines[1], "GPU KV cache size: 613,024 tokens");
  EXPECT_EQ(plan->log_lines[2], "Maximum concurrency for 131,072 tokens per request: 4.68x");
}

// gpu.md §11 (arithmetic, not a log): Llama-3-8B bf16 on an 80 GB H100 at 0.9: about 71.3 - 15.0 - 2.6 = 53.7 GiB,
// about 27.5k blocks, about 440k tokens.
TEST(GpuMemoryPlanTest, Llama3On80GBRoughlyAsEstimated) {
  GpuMemoryInputs in = inputs(gib(79.19), 0.9, llama3_8b(), 8192);
  in.weight_bytes = gib(14.96);  // 8.03e9 parameters x 2 bytes
  in.activation_peak_bytes = gib(2.0);
  in.workspace_bytes = gib(0.3);
  in.cuda_graph_bytes = gib(0.33);  // vllm#11005: 0.32-0.33 GiB of graphs for Meta-Llama-3-8B
  Result<GpuMemoryPlan> plan = plan_gpu_memory(in);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_NEAR(static_cast<double>(plan->num_blocks), 27500, 300);
  EXPECT_NEAR(static_cast<double>(plan->kv_tokens), 440000, 5000);
}

TEST(GpuMemoryPlanTest, FreeMemoryBelowTheRequestedFractionIsVllmsError) {
  // One of vLLM's real messages: "Free memory on device cuda:0 (7.34/15.49 GiB) on startup is less than desired GPU
  // memory utilization (0.8, 12.39 GiB). Decrease GPU memory utilization or reduce GPU memory used by other
  // processes."
  GpuMemoryInputs in = inputs(gib(15.49), 0.8, llama3_8b(), 4096);
  in.free_bytes = gib(7.34);
  const std::string e = error_of(in);
  EXPECT_NE(e.find("Free memory on device cuda:0 (7.34/15.49 GiB) on startup is less than desired GPU memory "
                   "utilization (0.8, 12.39 GiB). Decrease GPU memory utilization or reduce GPU memory used by "
                   "other processes."), std::string::npos) << e;
  EXPECT_NE(e.find("GPU_MEMORY_UTILIZATION"), std::string::npos) << e;
}

TEST(GpuMemoryPlanTest, WeightsThatDoNotFitNameTheSetting) {
  GpuMemoryInputs in = inputs(gib(80), 0.5, llama3_8b(), 4096);
  in.weight_bytes = gib(60);  // fits the card, not half of it
  std::string e = error_of(in);
  EXPECT_NE(e.find("weights (60.00 GiB) do not fit"), std::string::npos) << e;
  EXPECT_NE(e.find("raise GPU_MEMORY_UTILIZATION"), std::string::npos) << e;
  in.weight_bytes = gib(130);  // a 70B bf16 model on one 80 GB card
  e = error_of(in);
  EXPECT_NE(e.find("the card is too small"), std::string::npos) << e;
}

TEST(GpuMemoryPlanTest, NothingLeftForTheCacheIsVllmsError) {
  GpuMemoryInputs in = inputs(gib(80), 0.5, llama3_8b(), 4096);
  in.weight_bytes = gib(38);
  in.activation_peak_bytes = gib(2.5);
  const std::string e = error_of(in);
  EXPECT_NE(e.find("No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when "
                   "initializing the engine."), std::string::npos) << e;
  EXPECT_NE(e.find("GPU_MEMORY_UTILIZATION"), std::string::npos) << e;
  EXPECT_NE(e.find("weights 38.00 GiB"), std::string::npos) << e;
}

TEST(GpuMemoryPlanTest, LessThanOneBlockIsNoAvailableMemory) {
  GpuMemoryInputs in = inputs(gib(80), 0.5, llama3_8b(), 4096);
  in.weight_bytes = gib(40) - (uint64_t{1} << 20);  // 1 MiB left, a block is 2 MiB
  EXPECT_NE(error_of(in).find("less than one block"), std::string::npos);
}

TEST(GpuMemoryPlanTest, MaxModelLenThatDoesNotFitIsVllmsErrorWithTheEstimate) {
  GpuMemoryInputs in = inputs(gib(80), 0.9, llama3_8b(), 131072);
  in.weight_bytes = gib(70);  // leaves 2 GiB = 1024 blocks = 16,384 tokens; 131072 tokens need 16 GiB
  const std::string e = error_of(in);
  EXPECT_NE(e.find("To serve at least one request with the model's max seq len (131072), (16.00 GiB KV cache is "
                   "needed, which is larger than the available KV cache memory (2.00 GiB). Based on the available "
                   "memory, the estimated maximum model length is 16384. Try increasing `gpu_memory_utilization` "
                   "or decreasing `max_model_len` when initializing the engine."), std::string::npos) << e;
  EXPECT_NE(e.find("MAX_MODEL_LEN"), std::string::npos) << e;
}

TEST(GpuMemoryPlanTest, ExplicitKvSizeSkipsTheArithmetic) {
  GpuMemoryInputs in = inputs(gib(80), 0.9, llama3_8b(), 4096);
  in.weight_bytes = gib(15);
  in.kv_cache_memory_bytes = gib(4);
  Result<GpuMemoryPlan> plan = plan_gpu_memory(in);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->num_blocks, 2048);
  EXPECT_NE(plan->log_lines[0].find("KV_CACHE_MEMORY_BYTES"), std::string::npos);
  in.kv_cache_memory_bytes = gib(70);  // 15 + 70 > 80: a clear error instead of an allocation failure
  const std::string e = error_of(in);
  EXPECT_NE(e.find("Lower KV_CACHE_MEMORY_BYTES"), std::string::npos) << e;
}

TEST(GpuMemoryPlanTest, BlockOverride) {
  GpuMemoryInputs in = inputs(gib(80), 0.9, llama3_8b(), 4096);
  in.weight_bytes = gib(15);
  in.num_gpu_blocks_override = 300;
  Result<GpuMemoryPlan> plan = plan_gpu_memory(in);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->num_blocks, 300);
  EXPECT_EQ(plan->log_lines[1], "Overriding num_gpu_blocks=29184 with num_gpu_blocks_override=300");  // 57 GiB / 2 MiB
  in.num_gpu_blocks_override = 200;  // 3,200 tokens < 4,096
  EXPECT_NE(error_of(in).find("NUM_GPU_BLOCKS_OVERRIDE"), std::string::npos);
  in.num_gpu_blocks_override = 100000;  // 195 GiB
  EXPECT_NE(error_of(in).find("more than the"), std::string::npos);
}

TEST(GpuMemoryPlanTest, BadInputs) {
  GpuMemoryInputs in = inputs(gib(80), 0.0, llama3_8b(), 4096);
  EXPECT_NE(error_of(in).find("GPU_MEMORY_UTILIZATION"), std::string::npos);
  in.gpu_memory_utilization = 1.01;
  EXPECT_NE(error_of(in).find("(0, 1]"), std::string::npos);
  in.gpu_memory_utilization = std::nan("");
  EXPECT_FALSE(plan_gpu_memory(in).ok());
  in = inputs(gib(80), 0.9, llama3_8b(), 4096);
  in.free_bytes = gib(81);
  EXPECT_FALSE(plan_gpu_memory(in).ok());
  in = inputs(gib(80), 0.9, KvBlockShape{}, 4096);
  EXPECT_FALSE(plan_gpu_memory(in).ok());
}

TEST(WithThousandsTest, PythonsCommaFormat) {
  EXPECT_EQ(with_thousands(0), "0");
  EXPECT_EQ(with_thousands(999), "999");
  EXPECT_EQ(with_thousands(1000), "1,000");
  EXPECT_EQ(with_thousands(613024), "613,024");
  EXPECT_EQ(with_thousands(1234567890), "1,234,567,890");
  EXPECT_EQ(with_thousands(-52608), "-52,608");
}

}  // namespace
}  // namespace podserve
