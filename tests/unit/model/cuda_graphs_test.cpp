// CUDA graph sizes against vLLM: its documented default pattern (vllm/config/compilation.py,
// max_cudagraph_capture_size: "[1, 2, 4] + list(range(8, 256, 8)) + list(range(256, max_cudagraph_capture_size
// + 1, 16))", max = min(max_num_seqs * 2, 512)) and a real start-up log of 51 sizes "[1, 2, 4, 8, 16, 24, ..., 256,
// 272, ..., 512]" (community-scripts/ProxmoxVED#2047, gpu.md §2).
#include "model/cuda_graphs.h"

#include <gtest/gtest.h>

namespace podserve {
namespace {

// The documented pattern, spelled as its Python ranges.
std::vector<int> vllm_pattern(int max_size) {
  std::vector<int> out;
  for (int s : {1, 2, 4}) out.push_back(s);
  for (int s = 8; s < 256; s += 8) out.push_back(s);      // list(range(8, 256, 8))
  for (int s = 256; s < max_size + 1; s += 16) out.push_back(s);  // list(range(256, max + 1, 16))
  std::erase_if(out, [&](int s) { return s > max_size; });
  return out;
}

TEST(CudaGraphPlanTest, DefaultListAsVllmLogsIt) {
  Result<CudaGraphPlan> plan = plan_cuda_graphs({}, /*max_num_seqs=*/256, /*max_num_batched_tokens=*/8192);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->sizes.size(), 51u);
  EXPECT_EQ(plan->sizes, vllm_pattern(512));
  const std::string logged = format_size_list(plan->sizes);
  EXPECT_TRUE(logged.starts_with("[1, 2, 4, 8, 16, 24, ")) << logged;
  EXPECT_NE(logged.find(", 248, 256, 272, "), std::string::npos) << logged;
  EXPECT_TRUE(logged.ends_with(", 496, 512]")) << logged;
  EXPECT_EQ(plan->max_size(), 512);
  // H100-class defaults (max_num_seqs 1024): still capped at 512.
  EXPECT_EQ(plan_cuda_graphs({}, 1024, 16384)->sizes, vllm_pattern(512));
}

TEST(CudaGraphPlanTest, SmallMaxNumSeqs) {
  EXPECT_EQ(plan_cuda_graphs({}, 2, 2048)->sizes, (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(plan_cuda_graphs({}, 4, 2048)->sizes, (std::vector<int>{1, 2, 4, 8}));
  EXPECT_EQ(plan_cuda_graphs({}, 60, 2048)->sizes, vllm_pattern(120));
  EXPECT_EQ(plan_cuda_graphs({}, 60, 2048)->max_size(), 120);
  EXPECT_EQ(plan_cuda_graphs({}, 150, 2048)->sizes, vllm_pattern(300));
  EXPECT_EQ(plan_cuda_graphs({}, 150, 2048)->max_size(), 288);  // 300 is not on the 16-step grid
  // Never larger than a step's token budget.
  EXPECT_EQ(plan_cuda_graphs({}, 256, 64)->sizes, vllm_pattern(64));
}

TEST(CudaGraphPlanTest, EnforceEagerCapturesNothing) {
  CudaGraphOptions o;
  o.enforce_eager = true;
  Result<CudaGraphPlan> plan = plan_cuda_graphs(o, 256, 2048);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->sizes.empty());
  EXPECT_EQ(plan->padded_size(1), 0);
}

TEST(CudaGraphPlanTest, GivenSizesAndMax) {
  CudaGraphOptions o;
  o.capture_sizes = {64, 1, 8, 8, 4096, 2};
  Result<CudaGraphPlan> plan = plan_cuda_graphs(o, 256, 2048);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->sizes, (std::vector<int>{1, 2, 8, 64}));  // sorted, deduplicated, none above the token budget
  o.max_capture_size = 32;  // both given and inconsistent: vLLM's error
  EXPECT_NE(plan_cuda_graphs(o, 256, 2048).status().message().find("should be consistent"), std::string::npos);
  o.max_capture_size = 64;
  EXPECT_TRUE(plan_cuda_graphs(o, 256, 2048).ok());
  CudaGraphOptions max_only;
  max_only.max_capture_size = 100;
  EXPECT_EQ(plan_cuda_graphs(max_only, 8, 2048)->sizes, vllm_pattern(100));
  EXPECT_FALSE(plan_cuda_graphs({}, 0, 2048).ok());
}

TEST(CudaGraphPlanTest, PaddedSize) {
  const CudaGraphPlan plan = plan_cuda_graphs({}, 256, 8192).value();
  EXPECT_EQ(plan.padded_size(0), 0);
  EXPECT_EQ(plan.padded_size(1), 1);
  EXPECT_EQ(plan.padded_size(3), 4);
  EXPECT_EQ(plan.padded_size(5), 8);
  EXPECT_EQ(plan.padded_size(9), 16);
  EXPECT_EQ(plan.padded_size(248), 248);
  EXPECT_EQ(plan.padded_size(249), 256);
  EXPECT_EQ(plan.padded_size(257), 272);
  EXPECT_EQ(plan.padded_size(512), 512);
  EXPECT_EQ(plan.padded_size(513), 0);  // larger batches run eagerly
  CudaGraphOptions o;
  o.max_seq_len_to_capture = 8192;
  const CudaGraphPlan limited = plan_cuda_graphs(o, 256, 8192).value();
  EXPECT_EQ(limited.padded_size(3, 8192), 4);
  EXPECT_EQ(limited.padded_size(3, 8193), 0);  // a longer sequence in the batch: eager
}

}  // namespace
}  // namespace podserve
