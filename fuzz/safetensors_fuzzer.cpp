// Raw bytes as a `.safetensors` file: the header length, the JSON header (dtype, shape, data_offsets, names,
// __metadata__), the offsets against the data buffer. A file the reader accepts must satisfy what the reference
// implementation (huggingface/safetensors, tensor.rs) demands of it, re-checked here independently: each tensor's
// bytes are shape x dtype, lie inside the data buffer, and the tensors tile the buffer exactly. An accepted file
// is then bound as the weights of each tiny test model's config.json (tests/data/tiny_models/*/bf16), the shape
// and name checks `load_model` runs on a Hugging Face directory.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/decoder.h"
#include "model/hf_config.h"
#include "model/registry.h"
#include "support/fuzz_common.h"

namespace {

using podserve::fuzz::fail;

std::vector<podserve::HfConfig>& configs() {
  static std::vector<podserve::HfConfig> all;
  return all;
}

void check_accepted(const podserve::SafetensorsModel& m, const uint8_t* data, size_t size) {
  uint64_t header_len = 0;
  std::memcpy(&header_len, data, 8);
  const uint8_t* buffer = data + 8 + header_len;
  const size_t buffer_size = size - 8 - header_len;
  std::vector<std::pair<size_t, size_t>> ranges;
  for (const auto& [name, t] : m.tensors()) {
    uint64_t bytes = podserve::dtype_block_bytes(t.type);
    for (int64_t d : t.shape) {
      if (d < 0 || __builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) fail("accepted a bad shape", name);
    }
    if (bytes != t.nbytes) fail("accepted a tensor whose bytes are not shape x dtype", name);
    if (t.data < buffer || t.data + t.nbytes > buffer + buffer_size) fail("accepted bytes outside the buffer", name);
    ranges.emplace_back(static_cast<size_t>(t.data - buffer), static_cast<size_t>(t.data - buffer) + t.nbytes);
  }
  std::sort(ranges.begin(), ranges.end());
  size_t at = 0;
  for (const auto& [begin, end] : ranges) {
    if (begin != at) fail("accepted tensors that do not tile the buffer (hole or overlap)");
    at = end;
  }
  if (at != buffer_size) fail("accepted tensors that do not cover the buffer");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  podserve::fuzz::quiet_logs();
  const std::string dir = podserve::fuzz::test_data_path() + "/tiny_models/";
  for (const char* model : {"llama", "gemma", "gemma2", "gemma3", "qwen2", "qwen3", "phi3", "mixtral"}) {
    auto config = podserve::read_hf_config(dir + model + "/bf16");
    if (!config.ok()) fail("set-up: cannot read a tiny model's config.json", config.status().to_string());
    configs().push_back(std::move(config).value());
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podserve;
  Result<SafetensorsModel> m = SafetensorsModel::parse(data, size, "fuzz.safetensors");
  if (!m.ok()) return 0;
  check_accepted(*m, data, size);
  if (m->find("model.embed_tokens.weight") == nullptr) return 0;  // not a model's weights: nothing to bind
  for (const HfConfig& config : configs()) {
    Result<SafetensorsModel> weights = SafetensorsModel::parse(data, size, "fuzz.safetensors");
    (void)create_hf_causal_lm(config, std::move(weights).value(), WeightDType::kAuto, 1);
  }
  return 0;
}
