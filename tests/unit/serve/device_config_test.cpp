// The device, load-format, GPU-memory and CUDA-graph settings of the config table: the vLLM worker's variable names
// and defaults, vLLM's flag spellings, and errors that name the variable or flag.
#include <gtest/gtest.h>

#include <map>

#include "serve/config.h"
#include "test_util.h"

namespace podserve {
namespace {

using testing::env_of;

Result<ServerConfig> parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), {"--model", "m.gguf"});
  return parse_server_config(args, env_of(std::move(env)));
}

std::string error_of(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  Result<ServerConfig> r = parse(std::move(args), std::move(env));
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(DeviceConfigTest, Defaults) {
  Result<ServerConfig> r = parse({});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->device.device, Device::kAuto);
  EXPECT_EQ(r->load_format, LoadFormat::kAuto);
  EXPECT_EQ(r->device.kv_cache_dtype, KvCacheDType::kAuto);
  EXPECT_DOUBLE_EQ(r->device.gpu_memory_utilization, 0.9);  // vLLM's default, not the worker's 0.95
  EXPECT_EQ(r->device.kv_cache_memory_bytes, 0u);           // planned on a GPU
  EXPECT_DOUBLE_EQ(r->kv_cache_memory_gib, 4.0);            // the CPU pool
  EXPECT_EQ(r->device.num_gpu_blocks_override, 0);
  EXPECT_FALSE(r->device.cuda_graphs.enforce_eager);
  EXPECT_TRUE(r->device.cuda_graphs.capture_sizes.empty());
  EXPECT_EQ(r->device.cuda_graphs.max_capture_size, 0);
  EXPECT_EQ(r->device.cuda_graphs.max_seq_len_to_capture, 0);
}

// The hub's defaults (worker-vllm.md §1.4) are all accepted as they are written there.
TEST(DeviceConfigTest, WorkerHubDefaults) {
  Result<ServerConfig> r = parse({}, {{"DEVICE", "auto"}, {"GPU_MEMORY_UTILIZATION", "0.95"}, {"KV_CACHE_DTYPE", "auto"},
                                      {"ENFORCE_EAGER", "false"}, {"LOAD_FORMAT", "auto"}, {"BLOCK_SIZE", "16"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_DOUBLE_EQ(r->device.gpu_memory_utilization, 0.95);
}

TEST(DeviceConfigTest, EnvAndFlags) {
  Result<ServerConfig> r = parse({"--device", "cuda", "--load-format=dummy", "--kv-cache-dtype", "bf16",
                                  "--gpu-memory-utilization", "0.5", "--enforce-eager", "--num-gpu-blocks-override",
                                  "100", "--max-seq-len-to-capture", "8192"},
                                 {{"DEVICE", "cpu"}, {"GPU_MEMORY_UTILIZATION", "0.7"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->device.device, Device::kCuda);  // flags win
  EXPECT_EQ(r->load_format, LoadFormat::kDummy);
  EXPECT_EQ(r->device.kv_cache_dtype, KvCacheDType::kBFloat16);
  EXPECT_DOUBLE_EQ(r->device.gpu_memory_utilization, 0.5);
  EXPECT_TRUE(r->device.cuda_graphs.enforce_eager);
  EXPECT_EQ(r->device.num_gpu_blocks_override, 100);
  EXPECT_EQ(r->device.cuda_graphs.max_seq_len_to_capture, 8192);
  r = parse({"--no-enforce-eager"}, {{"ENFORCE_EAGER", "1"}, {"MAX_CONTEXT_LEN_TO_CAPTURE", "4096"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->device.cuda_graphs.enforce_eager);
  EXPECT_EQ(r->device.cuda_graphs.max_seq_len_to_capture, 4096);  // the worker's deprecated alias
}

TEST(DeviceConfigTest, KvCacheMemoryInGibOrBytes) {
  Result<ServerConfig> r = parse({}, {{"KV_CACHE_MEMORY", "2"}});  // podserve's GiB flag, an explicit size
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->device.kv_cache_memory_bytes, uint64_t{2} << 30);
  EXPECT_DOUBLE_EQ(r->kv_cache_memory_gib, 2.0);
  r = parse({"--kv-cache-memory-bytes", "8G"});  // vLLM's bytes flag
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->device.kv_cache_memory_bytes, uint64_t{8} << 30);
  EXPECT_DOUBLE_EQ(r->kv_cache_memory_gib, 8.0);  // the CPU pool too
  r = parse({"--kv-cache-memory", "1"}, {{"KV_CACHE_MEMORY_BYTES", "536870912"}});  // bytes win when both are set
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->device.kv_cache_memory_bytes, uint64_t{512} << 20);
  EXPECT_DOUBLE_EQ(r->kv_cache_memory_gib, 0.5);
}

TEST(DeviceConfigTest, CudaGraphSizesAndCompilationConfig) {
  Result<ServerConfig> r = parse({"--cuda-graph-sizes", "1,2,4,8"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->device.cuda_graphs.capture_sizes, (std::vector<int>{1, 2, 4, 8}));
  r = parse({}, {{"CUDA_GRAPH_SIZES", "128"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->device.cuda_graphs.max_capture_size, 128);
  r = parse({"--compilation-config", R"({"cudagraph_capture_sizes": [1, 4, 16], "level": 3})"},
            {{"CUDA_GRAPH_SIZES", "128"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->device.cuda_graphs.capture_sizes, (std::vector<int>{1, 4, 16}));
  r = parse({}, {{"COMPILATION_CONFIG", R"({"cudagraph_mode": "NONE"})"}});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->device.cuda_graphs.enforce_eager);
}

TEST(DeviceConfigTest, BadValuesNameTheVariable) {
  struct Case {
    std::map<std::string, std::string> env;
    std::string want;
  };
  const Case cases[] = {
      {{{"DEVICE", "tpu"}}, "DEVICE: vLLM's device 'tpu' is not supported"},
      {{{"LOAD_FORMAT", "bitsandbytes"}}, "LOAD_FORMAT: vLLM's load format 'bitsandbytes' is not supported"},
      {{{"LOAD_FORMAT", "pt"}}, "podserve reads auto"},
      {{{"KV_CACHE_DTYPE", "fp4"}}, "KV_CACHE_DTYPE: KV cache dtype 'fp4' is not supported"},
      {{{"GPU_MEMORY_UTILIZATION", "0"}}, "Invalid value '0' for GPU_MEMORY_UTILIZATION"},
      {{{"GPU_MEMORY_UTILIZATION", "1.2"}}, "in (0, 1]"},
      {{{"GPU_MEMORY_UTILIZATION", "90%"}}, "GPU_MEMORY_UTILIZATION"},
      {{{"GPU_MEMORY_UTILIZATION", "nan"}}, "GPU_MEMORY_UTILIZATION"},
      {{{"KV_CACHE_MEMORY_BYTES", "8GB"}}, "Invalid value '8GB' for KV_CACHE_MEMORY_BYTES"},
      {{{"NUM_GPU_BLOCKS_OVERRIDE", "-1"}}, "NUM_GPU_BLOCKS_OVERRIDE"},
      {{{"ENFORCE_EAGER", "maybe"}}, "ENFORCE_EAGER"},
      {{{"CUDA_GRAPH_SIZES", "1,two"}}, "CUDA_GRAPH_SIZES: CUDA graph sizes must be integers"},
      {{{"COMPILATION_CONFIG", "{\"cudagraph_mode\": 3}"}}, "COMPILATION_CONFIG: cudagraph_mode must be one of"},
      {{{"MAX_SEQ_LEN_TO_CAPTURE", "-5"}}, "MAX_SEQ_LEN_TO_CAPTURE"},
  };
  for (const Case& c : cases) {
    const std::string e = error_of({}, c.env);
    EXPECT_NE(e.find(c.want), std::string::npos) << c.env.begin()->first << ": " << e;
  }
  EXPECT_NE(error_of({"--load-format", "tensorizer"}).find("--load-format: vLLM's load format 'tensorizer'"),
            std::string::npos);
  EXPECT_NE(error_of({"--gpu-memory-utilization", "-0.1"}).find("--gpu-memory-utilization"), std::string::npos);
}

TEST(DeviceConfigTest, HelpListsTheFlags) {
  const std::string help = server_help_text();
  for (const char* s : {"--device", "DEVICE", "--load-format", "LOAD_FORMAT", "dummy", "--kv-cache-dtype",
                        "KV_CACHE_DTYPE", "--gpu-memory-utilization", "GPU_MEMORY_UTILIZATION", "default 0.9",
                        "--kv-cache-memory-bytes", "KV_CACHE_MEMORY_BYTES", "--num-gpu-blocks-override",
                        "--[no-]enforce-eager", "ENFORCE_EAGER", "--cuda-graph-sizes", "CUDA_GRAPH_SIZES",
                        "--compilation-config", "COMPILATION_CONFIG", "--max-seq-len-to-capture"}) {
    EXPECT_NE(help.find(s), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace podserve
