#include "model/device_options.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <optional>

namespace podserve {
namespace {

// vLLM's spellings this podserve does not implement, so their error can say "vLLM's, not podserve's".
constexpr std::string_view kVllmOnlyLoadFormats[] = {
    "pt", "npcache", "tensorizer", "bitsandbytes", "mistral", "runai_streamer", "runai_streamer_sharded",
    "sharded_state", "fastsafetensors", "instanttensor"};
constexpr std::string_view kVllmOnlyDevices[] = {"neuron", "tpu", "xpu", "hpu", "rocm"};

template <size_t N>
bool one_of(std::string_view s, const std::string_view (&names)[N]) {
  for (std::string_view n : names) {
    if (s == n) return true;
  }
  return false;
}

// Each setting's spellings; the first one of a value is the name it is printed with (vLLM's canonical one).
template <typename E>
struct Spelling {
  std::string_view name;
  E value;
};
constexpr Spelling<Device> kDevices[] = {{"auto", Device::kAuto}, {"cpu", Device::kCpu}, {"cuda", Device::kCuda}};
constexpr Spelling<LoadFormat> kLoadFormats[] = {{"auto", LoadFormat::kAuto},
                                                 {"safetensors", LoadFormat::kSafetensors},
                                                 {"gguf", LoadFormat::kGguf},
                                                 {"dummy", LoadFormat::kDummy}};
constexpr Spelling<KvCacheDType> kKvCacheDTypes[] = {
    {"auto", KvCacheDType::kAuto},         {"float16", KvCacheDType::kFloat16}, {"fp16", KvCacheDType::kFloat16},
    {"half", KvCacheDType::kFloat16},      {"bfloat16", KvCacheDType::kBFloat16}, {"bf16", KvCacheDType::kBFloat16},
    {"fp8", KvCacheDType::kFp8E4M3},       {"fp8_e4m3", KvCacheDType::kFp8E4M3}, {"fp8_e5m2", KvCacheDType::kFp8E5M2}};

template <typename E, size_t N>
std::optional<E> lookup(const Spelling<E> (&table)[N], std::string_view s) {
  for (const Spelling<E>& sp : table) {
    if (sp.name == s) return sp.value;
  }
  return std::nullopt;
}

template <typename E, size_t N>
const char* name_of(const Spelling<E> (&table)[N], E value) {
  for (const Spelling<E>& sp : table) {
    if (sp.value == value) return sp.name.data();  // the literals are NUL-terminated
  }
  return "?";
}

}  // namespace

Result<Device> parse_device(std::string_view s) {
  if (std::optional<Device> d = lookup(kDevices, s)) return *d;
  const std::string what = one_of(s, kVllmOnlyDevices) ? "vLLM's device '" : "device '";
  return invalid_argument(what + std::string(s) + "' is not supported: podserve runs on auto, cpu or cuda");
}

Result<LoadFormat> parse_load_format(std::string_view s) {
  if (std::optional<LoadFormat> f = lookup(kLoadFormats, s)) return *f;
  const std::string what = one_of(s, kVllmOnlyLoadFormats) ? "vLLM's load format '" : "load format '";
  return invalid_argument(what + std::string(s) +
                          "' is not supported: podserve reads auto (a .gguf file or a Hugging Face directory, by "
                          "what the path is), safetensors, gguf or dummy (random weights from config.json)");
}

Result<KvCacheDType> parse_kv_cache_dtype(std::string_view s) {
  if (std::optional<KvCacheDType> t = lookup(kKvCacheDTypes, s)) return *t;
  return invalid_argument("KV cache dtype '" + std::string(s) +
                          "' is not supported: podserve takes auto, float16 (fp16), bfloat16 (bf16), fp8 (fp8_e4m3) "
                          "or fp8_e5m2");
}

Status parse_cuda_graph_sizes(std::string_view text, CudaGraphOptions* out) {
  std::vector<int> sizes;
  size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',' || text[i] == '[' || text[i] == ']')) ++i;
  };
  for (skip(); i < text.size(); skip()) {
    int v = 0;
    auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + text.size(), v);
    if (ec != std::errc() || v < 1 || v > (1 << 16)) {
      return invalid_argument("CUDA graph sizes must be integers in 1..65536 separated by commas or spaces");
    }
    sizes.push_back(v);
    i = static_cast<size_t>(ptr - text.data());
  }
  if (sizes.empty()) return invalid_argument("no CUDA graph size given");
  if (sizes.size() == 1) {
    out->max_capture_size = sizes[0];
    out->capture_sizes.clear();
  } else {
    out->capture_sizes = std::move(sizes);
    out->max_capture_size = 0;
  }
  return ok_status();
}

Result<std::vector<std::string>> parse_compilation_config(std::string_view text, CudaGraphOptions* out) {
  namespace json = boost::json;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return invalid_argument("expected a JSON object such as {\"cudagraph_capture_sizes\": [1, 2, 4]}");
  std::vector<std::string> ignored;
  CudaGraphOptions g = *out;
  auto positive = [](const json::value& x, int* n) {
    if (!x.is_int64() || x.as_int64() < 1 || x.as_int64() > (1 << 16)) return false;
    *n = static_cast<int>(x.as_int64());
    return true;
  };
  for (const auto& [key, value] : v.as_object()) {
    if (key == "cudagraph_capture_sizes") {
      if (!value.is_array()) return invalid_argument("cudagraph_capture_sizes must be a list of integers");
      g.capture_sizes.clear();
      for (const json::value& x : value.as_array()) {
        int n = 0;
        if (!positive(x, &n)) return invalid_argument("cudagraph_capture_sizes must hold integers in 1..65536");
        g.capture_sizes.push_back(n);
      }
    } else if (key == "max_cudagraph_capture_size") {
      if (!positive(value, &g.max_capture_size)) {
        return invalid_argument("max_cudagraph_capture_size must be an integer in 1..65536");
      }
    } else if (key == "cudagraph_mode") {
      const json::string* mode = value.if_string();
      if (mode == nullptr || (*mode != "NONE" && *mode != "PIECEWISE" && *mode != "FULL" &&
                              *mode != "FULL_DECODE_ONLY" && *mode != "FULL_AND_PIECEWISE")) {
        return invalid_argument("cudagraph_mode must be one of NONE, PIECEWISE, FULL, FULL_DECODE_ONLY, "
                                "FULL_AND_PIECEWISE");
      }
      if (*mode == "NONE") g.enforce_eager = true;  // ENFORCE_EAGER wins over any other mode, as in vLLM
    } else {
      ignored.emplace_back(key);
    }
  }
  *out = std::move(g);
  return ignored;
}

Result<uint64_t> parse_byte_count(std::string_view text) {
  double number = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  const std::string_view suffix = ec == std::errc() ? text.substr(static_cast<size_t>(ptr - text.data())) : "";
  double scale = 1;
  if (suffix.size() == 1) {
    const std::string_view units = "kmgtKMGT";
    const size_t u = units.find(suffix[0]);
    if (u == std::string_view::npos) return invalid_argument("unknown size suffix");
    scale = std::pow(u < 4 ? 1000.0 : 1024.0, static_cast<double>(u % 4 + 1));
  }
  const double bytes = number * scale;
  if (ec != std::errc() || suffix.size() > 1 || !(bytes >= 1) || bytes > 1e18 ||
      (suffix.empty() && bytes != std::floor(bytes))) {
    return invalid_argument("expected a byte count: an integer, or a number with a k/m/g/t (x1000) or K/M/G/T "
                            "(x1024) suffix, e.g. 8G");
  }
  return static_cast<uint64_t>(bytes);
}

const char* device_name(Device d) { return name_of(kDevices, d); }
const char* load_format_name(LoadFormat f) { return name_of(kLoadFormats, f); }
const char* kv_cache_dtype_name(KvCacheDType t) { return name_of(kKvCacheDTypes, t); }

int kv_cache_dtype_bytes(KvCacheDType t) {
  switch (t) {
    case KvCacheDType::kAuto: return 0;
    case KvCacheDType::kFloat16: case KvCacheDType::kBFloat16: return 2;
    case KvCacheDType::kFp8E4M3: case KvCacheDType::kFp8E5M2: return 1;
  }
  return 0;
}

Status check_cpu_kv_cache_dtype(KvCacheDType requested, bool model_kv_f32) {
  if (requested == KvCacheDType::kAuto) return ok_status();
  if (requested == KvCacheDType::kFloat16 && !model_kv_f32) return ok_status();
  const std::string supported = model_kv_f32 ? "auto (float32 K/V, as the model computes in float32)"
                                             : "auto or float16";
  return invalid_argument("KV_CACHE_DTYPE (--kv-cache-dtype) " + std::string(kv_cache_dtype_name(requested)) +
                          " is not supported on the CPU, which keeps K/V in float16, or in float32 for float32 "
                          "models; for this model the CPU supports " + supported);
}

}  // namespace podserve
