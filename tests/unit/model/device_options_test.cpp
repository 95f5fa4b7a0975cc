// The device-option parsers take vLLM's spellings (vllm/config/cache.py CacheDType, the load formats of
// --load-format, --compilation-config's keys) and say what podserve accepts for the rest.
#include "model/device_options.h"

#include <gtest/gtest.h>

namespace podserve {
namespace {

TEST(DeviceOptionsTest, Devices) {
  EXPECT_EQ(parse_device("auto").value(), Device::kAuto);
  EXPECT_EQ(parse_device("cpu").value(), Device::kCpu);
  EXPECT_EQ(parse_device("cuda").value(), Device::kCuda);
  const std::string e = parse_device("tpu").status().message();
  EXPECT_NE(e.find("vLLM's device 'tpu' is not supported"), std::string::npos) << e;
  EXPECT_NE(e.find("auto, cpu or cuda"), std::string::npos) << e;
  EXPECT_FALSE(parse_device("CUDA").ok());
  EXPECT_STREQ(device_name(Device::kCuda), "cuda");
}

TEST(DeviceOptionsTest, LoadFormats) {
  EXPECT_EQ(parse_load_format("auto").value(), LoadFormat::kAuto);
  EXPECT_EQ(parse_load_format("safetensors").value(), LoadFormat::kSafetensors);
  EXPECT_EQ(parse_load_format("gguf").value(), LoadFormat::kGguf);
  EXPECT_EQ(parse_load_format("dummy").value(), LoadFormat::kDummy);
  for (const char* vllm_only : {"pt", "npcache", "tensorizer", "bitsandbytes", "mistral", "runai_streamer",
                                "sharded_state", "fastsafetensors"}) {
    const std::string e = parse_load_format(vllm_only).status().message();
    EXPECT_NE(e.find(std::string("vLLM's load format '") + vllm_only + "' is not supported"), std::string::npos) << e;
    EXPECT_NE(e.find("safetensors, gguf or dummy"), std::string::npos) << e;
  }
  EXPECT_NE(parse_load_format("onnx").status().message().find("load format 'onnx'"), std::string::npos);
  EXPECT_STREQ(load_format_name(LoadFormat::kDummy), "dummy");
}

TEST(DeviceOptionsTest, KvCacheDtypes) {
  EXPECT_EQ(parse_kv_cache_dtype("auto").value(), KvCacheDType::kAuto);
  for (const char* s : {"float16", "fp16", "half"}) EXPECT_EQ(parse_kv_cache_dtype(s).value(), KvCacheDType::kFloat16);
  for (const char* s : {"bfloat16", "bf16"}) EXPECT_EQ(parse_kv_cache_dtype(s).value(), KvCacheDType::kBFloat16);
  for (const char* s : {"fp8", "fp8_e4m3"}) EXPECT_EQ(parse_kv_cache_dtype(s).value(), KvCacheDType::kFp8E4M3);
  EXPECT_EQ(parse_kv_cache_dtype("fp8_e5m2").value(), KvCacheDType::kFp8E5M2);
  for (const char* s : {"fp8_inc", "nvfp4", "int8_per_token_head", "float32"}) {
    EXPECT_NE(parse_kv_cache_dtype(s).status().message().find("is not supported: podserve takes auto"),
              std::string::npos) << s;
  }
  EXPECT_EQ(kv_cache_dtype_bytes(KvCacheDType::kBFloat16), 2);
  EXPECT_EQ(kv_cache_dtype_bytes(KvCacheDType::kFp8E5M2), 1);
  EXPECT_EQ(kv_cache_dtype_bytes(KvCacheDType::kAuto), 0);
}

TEST(DeviceOptionsTest, CpuKvCacheDtypes) {
  EXPECT_TRUE(check_cpu_kv_cache_dtype(KvCacheDType::kAuto, false).ok());
  EXPECT_TRUE(check_cpu_kv_cache_dtype(KvCacheDType::kAuto, true).ok());
  EXPECT_TRUE(check_cpu_kv_cache_dtype(KvCacheDType::kFloat16, false).ok());
  for (KvCacheDType t : {KvCacheDType::kBFloat16, KvCacheDType::kFp8E4M3, KvCacheDType::kFp8E5M2}) {
    const std::string e = check_cpu_kv_cache_dtype(t, false).message();
    EXPECT_NE(e.find("KV_CACHE_DTYPE"), std::string::npos) << e;
    EXPECT_NE(e.find("not supported on the CPU"), std::string::npos) << e;
    EXPECT_NE(e.find("auto or float16"), std::string::npos) << e;
  }
  const std::string e = check_cpu_kv_cache_dtype(KvCacheDType::kFloat16, true).message();
  EXPECT_NE(e.find("float16 is not supported on the CPU"), std::string::npos) << e;
  EXPECT_NE(e.find("float32 K/V"), std::string::npos) << e;
}

TEST(DeviceOptionsTest, CudaGraphSizes) {
  CudaGraphOptions o;
  ASSERT_TRUE(parse_cuda_graph_sizes("1,2,4, 8", &o).ok());
  EXPECT_EQ(o.capture_sizes, (std::vector<int>{1, 2, 4, 8}));
  EXPECT_EQ(o.max_capture_size, 0);
  ASSERT_TRUE(parse_cuda_graph_sizes("[1 2 16]", &o).ok());
  EXPECT_EQ(o.capture_sizes, (std::vector<int>{1, 2, 16}));
  ASSERT_TRUE(parse_cuda_graph_sizes("256", &o).ok());  // one value: the largest size
  EXPECT_TRUE(o.capture_sizes.empty());
  EXPECT_EQ(o.max_capture_size, 256);
  for (const char* bad : {"", "0", "-4", "1,x", "1.5", "70000"}) EXPECT_FALSE(parse_cuda_graph_sizes(bad, &o).ok()) << bad;
}

TEST(DeviceOptionsTest, CompilationConfig) {
  CudaGraphOptions o;
  Result<std::vector<std::string>> ignored = parse_compilation_config(
      R"({"cudagraph_capture_sizes": [1, 2, 4, 8], "max_cudagraph_capture_size": 8, "mode": 3, "cudagraph_mode": "FULL_AND_PIECEWISE"})",
      &o);
  ASSERT_TRUE(ignored.ok()) << ignored.status().message();
  EXPECT_EQ(ignored.value(), (std::vector<std::string>{"mode"}));
  EXPECT_EQ(o.capture_sizes, (std::vector<int>{1, 2, 4, 8}));
  EXPECT_EQ(o.max_capture_size, 8);
  EXPECT_FALSE(o.enforce_eager);
  ASSERT_TRUE(parse_compilation_config(R"({"cudagraph_mode": "NONE"})", &o).ok());
  EXPECT_TRUE(o.enforce_eager);
  ASSERT_TRUE(parse_compilation_config(R"({"cudagraph_mode": "FULL"})", &o).ok());
  EXPECT_TRUE(o.enforce_eager);  // ENFORCE_EAGER (or an earlier NONE) is not undone by a mode
  for (const char* bad : {"[1, 2]", "{", R"({"cudagraph_capture_sizes": [0]})", R"({"cudagraph_capture_sizes": 8})",
                          R"({"max_cudagraph_capture_size": "8"})", R"({"cudagraph_mode": "full"})"}) {
    CudaGraphOptions untouched;
    EXPECT_FALSE(parse_compilation_config(bad, &untouched).ok()) << bad;
  }
}

TEST(DeviceOptionsTest, ByteCounts) {
  EXPECT_EQ(parse_byte_count("1073741824").value(), 1073741824u);
  EXPECT_EQ(parse_byte_count("8G").value(), uint64_t{8} << 30);
  EXPECT_EQ(parse_byte_count("8g").value(), 8000000000u);
  EXPECT_EQ(parse_byte_count("512M").value(), uint64_t{512} << 20);
  EXPECT_EQ(parse_byte_count("1.5K").value(), 1536u);
  EXPECT_EQ(parse_byte_count("2k").value(), 2000u);
  for (const char* bad : {"", "0", "-1", "1.5", "8GB", "8X", "G", "nan", "inf", "1e30"}) {
    EXPECT_FALSE(parse_byte_count(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace podserve
