#include "serve/option_table.h"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include "model/lora.h"
#include "serve/config_file.h"
#include "serve/speculative_config.h"
#include "serve/vllm_variables.h"

namespace podserve::option_table {
namespace {

Status bad_value(const std::string& source, const std::string& value, std::string_view expected) {
  return invalid_argument("Invalid value '" + value + "' for " + source + ": expected " + std::string(expected));
}

/// Parses a whole string as an integer in [lo, hi]; false on anything else (sign, junk, overflow).
template <typename T>
bool parse_int(const std::string& text, T lo, T hi, T* out) {
  T v{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

/// true/false/1/0/yes/no/on/off, case-insensitive (the vLLM worker's booleans).
bool parse_bool(const std::string& text, bool* out) {
  std::string lower;
  for (char ch : text) lower += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") {
    *out = true;
  } else if (lower == "false" || lower == "0" || lower == "no" || lower == "off") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

Status set_model(ServerConfig& c, const std::string& v, const std::string&) {
  c.model = v;
  return ok_status();
}
template <std::string ServerConfig::*Field>
Status set_string(ServerConfig& c, const std::string& v, const std::string&) {
  c.*Field = v;
  return ok_status();
}
Status set_served_name(ServerConfig& c, const std::string& v, const std::string&) {
  // The flag takes several names (vLLM: nargs='+'), joined with '\n' by the parser; the first is reported.
  c.served_model_aliases.clear();
  size_t start = 0;
  size_t nl = v.find('\n');
  c.served_model_name = v.substr(0, nl);
  while (nl != std::string::npos) {
    start = nl + 1;
    nl = v.find('\n', start);
    c.served_model_aliases.push_back(v.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
  }
  return ok_status();
}
Status set_lora_modules(ServerConfig& c, const std::string& v, const std::string& src) {
  // Repeatable, and nargs='+' on the command line (items joined with '\n' by the parser).
  PODSERVE_ASSIGN_OR_RETURN(std::vector<LoraModuleSpec> specs, parse_lora_modules(v, src));
  c.lora_modules.insert(c.lora_modules.end(), specs.begin(), specs.end());
  return ok_status();
}
Status set_max_loras(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 1024, &c.max_loras)) return bad_value(src, v, "an integer in 1..1024");
  return ok_status();
}
Status set_max_cpu_loras(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 1 << 16, &c.max_cpu_loras)) return bad_value(src, v, "an integer in 1..65536");
  return ok_status();
}
Status set_max_lora_rank(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 512, &c.max_lora_rank) || !is_allowed_max_lora_rank(c.max_lora_rank)) {
    return bad_value(src, v, "one of 1, 8, 16, 32, 64, 128, 256, 320, 512 (vLLM's choices)");
  }
  return ok_status();
}
Status set_runtime_lora_updating(ServerConfig& c, const std::string& v, const std::string&) {
  // vLLM's reading: "1" or "true" (stripped, any case) is on; any other value is off, without an error.
  std::string t;
  for (char ch : v) {
    if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') t += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  c.allow_runtime_lora_updating = t == "1" || t == "true";
  return ok_status();
}
Status set_vllm_plugins(ServerConfig& c, const std::string& v, const std::string&) {
  c.vllm_plugins = v;
  return ok_status();
}
Status set_lora_dtype(ServerConfig& c, const std::string& v, const std::string& src) {
  if (v != "auto" && v != "float16" && v != "bfloat16") return bad_value(src, v, "auto, float16 or bfloat16");
  c.lora_dtype = v;
  return ok_status();
}
Status set_host(ServerConfig& c, const std::string& v, const std::string&) {
  c.host = v;
  return ok_status();
}
Status set_port(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 65535, &c.port)) return bad_value(src, v, "an integer in 1..65535");
  return ok_status();
}
Status set_max_model_len(ServerConfig& c, const std::string& v, const std::string& src) {
  // The worker hub passes "auto"; the G1 worker treats 0 as unset. Both mean "the model's context length".
  if (v == "auto") {
    c.max_model_len = 0;
    return ok_status();
  }
  if (!parse_int(v, 0, std::numeric_limits<int>::max(), &c.max_model_len)) {
    return bad_value(src, v, "a positive integer, 0 or 'auto' (the model's context length)");
  }
  return ok_status();
}
Status set_max_num_seqs(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 1 << 20, &c.max_num_seqs)) return bad_value(src, v, "an integer in 1..1048576");
  return ok_status();
}
Status set_seed(ServerConfig& c, const std::string& v, const std::string& src) {
  int64_t seed = 0;
  if (!parse_int(v, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), &seed)) {
    return bad_value(src, v, "an integer");
  }
  c.seed = static_cast<uint64_t>(seed);
  return ok_status();
}
Status add_api_key(ServerConfig& c, const std::string& v, const std::string& src) {
  if (v.empty()) return bad_value(src, v, "a non-empty key");
  c.api_keys.push_back(v);
  return ok_status();
}
Status set_response_role(ServerConfig& c, const std::string& v, const std::string& src) {
  if (v.empty()) return bad_value(src, v, "a role name such as 'assistant'");
  c.response_role = v;
  return ok_status();
}
Status set_chat_template(ServerConfig& c, const std::string& v, const std::string& src) {
  Result<std::string> source = resolve_chat_template(v);
  if (!source.ok()) return invalid_argument(src + ": " + source.status().message());
  c.chat_template = std::move(source).value();
  return ok_status();
}
Status set_log_level(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_log_level(v, &c.log_level)) return bad_value(src, v, "one of DEBUG, INFO, WARNING, ERROR");
  return ok_status();
}
Status set_io_threads(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 0, 256, &c.io_threads)) return bad_value(src, v, "an integer in 0..256 (0 = automatic)");
  return ok_status();
}
Status set_compute_threads(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 0, 1024, &c.compute_threads)) return bad_value(src, v, "an integer in 0..1024 (0 = all cores)");
  return ok_status();
}
template <size_t ServerConfig::*Field>
Status set_bytes(ServerConfig& c, const std::string& v, const std::string& src) {
  uint64_t bytes = 0;
  if (!parse_int<uint64_t>(v, 1024, uint64_t{1} << 32, &bytes)) {
    return bad_value(src, v, "a byte count in 1024..4294967296");
  }
  c.*Field = static_cast<size_t>(bytes);
  return ok_status();
}
template <int64_t ServerConfig::*Field>
Status set_count(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int<int64_t>(v, 1, int64_t{1} << 40, &(c.*Field))) return bad_value(src, v, "an integer in 1..2^40");
  return ok_status();
}
Status set_max_header(ServerConfig& c, const std::string& v, const std::string& src) {
  uint64_t bytes = 0;
  if (!parse_int<uint64_t>(v, 1024, uint64_t{16} << 20, &bytes)) {
    return bad_value(src, v, "a byte count in 1024..16777216");
  }
  c.max_header_bytes = static_cast<size_t>(bytes);
  return ok_status();
}
Status set_max_queued(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 1 << 24, &c.max_queued_requests)) return bad_value(src, v, "an integer in 1..16777216");
  return ok_status();
}
template <int ServerConfig::*Field>
Status set_seconds(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 86400, &(c.*Field))) return bad_value(src, v, "a number of seconds in 1..86400");
  return ok_status();
}

Status set_template_ms(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 3'600'000, &c.max_template_ms)) return bad_value(src, v, "milliseconds in 1..3600000");
  return ok_status();
}

Status set_max_num_batched_tokens(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 0, 1 << 24, &c.max_num_batched_tokens)) {
    return bad_value(src, v, "an integer in 0..16777216 (0 = automatic)");
  }
  return ok_status();
}
Status set_block_size(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 1, 1024, &c.block_size)) return bad_value(src, v, "an integer in 1..1024");
  return ok_status();
}
Status set_kv_cache_memory(ServerConfig& c, const std::string& v, const std::string& src) {
  double gib = 0;
  const char* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(v.data(), end, gib);
  if (ec != std::errc() || ptr != end || !(gib > 0) || gib > 65536) {
    return bad_value(src, v, "a size in GiB, greater than 0 (e.g. 4 or 0.5)");
  }
  c.kv_cache_memory_gib = gib;
  c.device.kv_cache_memory_bytes = static_cast<uint64_t>(gib * (1ull << 30));  // an explicit KV size, also on a GPU
  return ok_status();
}
Status set_max_logprobs(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 0, 1 << 20, &c.max_logprobs)) return bad_value(src, v, "an integer in 0..1048576");
  return ok_status();
}
Status set_dtype(ServerConfig& c, const std::string& v, const std::string& src) {
  if (v != "auto" && v != "float32" && v != "float" && v != "bfloat16" && v != "float16" && v != "half") {
    return bad_value(src, v, "auto, float32, bfloat16 or float16");
  }
  c.dtype = v;
  return ok_status();
}
template <bool ServerConfig::*Field>
Status set_bool(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_bool(v, &(c.*Field))) return bad_value(src, v, "true, false, 1 or 0");
  return ok_status();
}

// Device and load settings: values parsed by model/device_options.h, errors prefixed with the variable or flag.
Status named(const Status& st, const std::string& src) {
  return st.ok() ? st : invalid_argument(src + ": " + st.message());
}
Status set_device(ServerConfig& c, const std::string& v, const std::string& src) {
  Result<Device> d = parse_device(v);
  if (d.ok()) c.device.device = d.value();
  return named(d.status(), src);
}
Status set_load_format(ServerConfig& c, const std::string& v, const std::string& src) {
  Result<LoadFormat> f = parse_load_format(v);
  if (f.ok()) c.load_format = f.value();
  return named(f.status(), src);
}
Status set_kv_cache_dtype(ServerConfig& c, const std::string& v, const std::string& src) {
  Result<KvCacheDType> t = parse_kv_cache_dtype(v);
  if (t.ok()) c.device.kv_cache_dtype = t.value();
  return named(t.status(), src);
}
Status set_gpu_memory_utilization(ServerConfig& c, const std::string& v, const std::string& src) {
  double u = 0;
  const char* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(v.data(), end, u);
  if (ec != std::errc() || ptr != end || !(u > 0.0 && u <= 1.0)) {
    return bad_value(src, v, "a fraction of the GPU's memory in (0, 1], e.g. 0.9");
  }
  c.device.gpu_memory_utilization = u;
  return ok_status();
}
Status set_kv_cache_memory_bytes(ServerConfig& c, const std::string& v, const std::string& src) {
  Result<uint64_t> bytes = parse_byte_count(v);
  if (!bytes.ok()) return invalid_argument("Invalid value '" + v + "' for " + src + ": " + bytes.status().message());
  c.device.kv_cache_memory_bytes = bytes.value();
  c.kv_cache_memory_gib = static_cast<double>(bytes.value()) / (1ull << 30);
  return ok_status();
}
Status set_num_gpu_blocks_override(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int<int64_t>(v, 0, int64_t{1} << 30, &c.device.num_gpu_blocks_override)) {
    return bad_value(src, v, "a number of KV blocks, 0 (unset) or more");
  }
  return ok_status();
}
Status set_enforce_eager(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_bool(v, &c.device.cuda_graphs.enforce_eager)) return bad_value(src, v, "true, false, 1 or 0");
  return ok_status();
}
Status set_cuda_graph_sizes(ServerConfig& c, const std::string& v, const std::string& src) {
  return named(parse_cuda_graph_sizes(v, &c.device.cuda_graphs), src);
}
Status set_compilation_config(ServerConfig& c, const std::string& v, const std::string& src) {
  Result<std::vector<std::string>> ignored = parse_compilation_config(v, &c.device.cuda_graphs);
  if (!ignored.ok()) return named(ignored.status(), src);
  for (const std::string& key : ignored.value()) {
    PODSERVE_LOG(kWarning) << src << ": '" << key << "' configures torch.compile, which podserve does not have; "
                           << "ignored (podserve reads cudagraph_capture_sizes, max_cudagraph_capture_size, "
                           << "cudagraph_mode)";
  }
  return ok_status();
}
Status set_max_seq_len_to_capture(ServerConfig& c, const std::string& v, const std::string& src) {
  if (!parse_int(v, 0, 1 << 24, &c.device.cuda_graphs.max_seq_len_to_capture)) {
    return bad_value(src, v, "a context length in 0..16777216 (0 = no limit)");
  }
  return ok_status();
}
// vLLM's request-shaping settings.
Status set_quantization(ServerConfig& c, const std::string& v, const std::string& src) {
  if (v == "None" || v == "none") {
    c.quantization.clear();
  } else if (v == "gguf") {
    c.quantization = v;
  } else {
    return invalid_argument(src + "=" + v + " is not supported by podserve: it serves GGUF files (their own "
                            "quantization, QUANTIZATION=gguf or unset) and unquantized safetensors models; another "
                            "method would change the weights and the answers");
  }
  return ok_status();
}
Status set_generation_config(ServerConfig& c, const std::string& v, const std::string& src) {
  std::error_code ec;
  if (v != "auto" && v != "vllm" && !std::filesystem::is_directory(v, ec)) {
    return bad_value(src, v, "auto, vllm or a folder holding generation_config.json");
  }
  c.generation_config = v;
  return ok_status();
}
Status set_override_generation_config(ServerConfig& c, const std::string& v, const std::string& src) {
  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(v, ec);
  if (ec || !parsed.is_object()) return bad_value(src, v, "a JSON object, e.g. {\"temperature\": 0.5}");
  c.override_generation_config = v;
  return ok_status();
}
Status set_scheduling_policy(ServerConfig& c, const std::string& v, const std::string& src) {
  if (v != "fcfs" && v != "priority") return bad_value(src, v, "fcfs or priority");
  c.priority_scheduling = v == "priority";
  return ok_status();
}
Status set_nothing(ServerConfig&, const std::string&, const std::string&) { return ok_status(); }
Status set_structured_backend(ServerConfig& c, const std::string& v, const std::string& src) {
  static const std::vector<std::string> kBackends = {"auto", "xgrammar", "guidance", "outlines", "lm-format-enforcer"};
  if (std::find(kBackends.begin(), kBackends.end(), v) == kBackends.end()) {
    return bad_value(src, v, "auto, xgrammar, guidance, outlines or lm-format-enforcer");
  }
  c.structured_backend = v;
  return ok_status();
}
/// vLLM's StructuredOutputsConfig as JSON: backend, disable_any_whitespace, disable_additional_properties,
/// reasoning_parser, enable_in_reasoning.
Status set_structured_config(ServerConfig& c, const std::string& v, const std::string& src) {
  boost::system::error_code ec;
  const boost::json::value json = boost::json::parse(v, ec);
  if (ec || !json.is_object()) return bad_value(src, v, "a JSON object such as {\"backend\": \"xgrammar\"}");
  for (const auto& kv : json.get_object()) {
    const std::string key(kv.key());
    const boost::json::value& x = kv.value();
    if (key == "backend") {
      if (!x.is_string()) return bad_value(src, v, "a string \"backend\"");
      PODSERVE_RETURN_IF_ERROR(set_structured_backend(c, std::string(x.get_string()), src + " backend"));
    } else if (key == "disable_any_whitespace" || key == "disable_additional_properties" ||
               key == "enable_in_reasoning") {
      if (!x.is_bool()) return bad_value(src, v, "true or false for \"" + key + "\"");
      if (key == "disable_any_whitespace") c.structured_disable_any_whitespace = x.get_bool();
      if (key == "enable_in_reasoning") c.structured_enable_in_reasoning = x.get_bool();
    } else if (key == "reasoning_parser") {
      if (!x.is_string()) return bad_value(src, v, "a string \"reasoning_parser\"");
    } else {
      return bad_value(src, v,
                       "keys backend, disable_any_whitespace, disable_additional_properties, reasoning_parser, "
                       "enable_in_reasoning (unknown key \"" + key + "\")");
    }
  }
  return ok_status();
}

Status set_speculative_config(ServerConfig& c, const std::string& v, const std::string& src) {
  c.speculative_config_json = v;
  c.speculative_config_source = src;
  return ok_status();
}
/// A G1 per-field speculative variable (the source is its name: these options have no flag).
Status set_speculative_field(ServerConfig& c, const std::string& v, const std::string& src) {
  c.speculative_fields[src] = v;
  return ok_status();
}

}  // namespace

Status resolve_speculative(ServerConfig& c) {
  std::string json = c.speculative_config_json, source = c.speculative_config_source;
  if (json.empty()) {
    PODSERVE_ASSIGN_OR_RETURN(json, assemble_g1_speculative_config(c.speculative_fields));
    source = "the SPECULATIVE_* variables";
  }
  if (json.empty()) return ok_status();
  PODSERVE_ASSIGN_OR_RETURN(c.speculative, parse_speculative_config(json, source, &c.warnings));
  return ok_status();
}

const std::vector<Option>& options() {
  static const std::vector<Option> kOptions = {
      {"--model", {"MODEL_NAME", "MODEL"}, "PATH|REPO",
       "model file (.gguf), model directory, or Hugging Face repo id `org/name[:file.gguf]` (looked up in the "
       "cache, downloaded unless HF_HUB_OFFLINE=1); also the first positional argument",
       set_model},
      {"--revision", {"MODEL_REVISION", "REVISION"}, "REV", "Hub branch, tag or commit of the model (default main)",
       set_string<&ServerConfig::revision>},
      {"--gguf-file", {"GGUF_FILE"}, "FILE", "the .gguf to use from a Hub repo that has several",
       set_string<&ServerConfig::gguf_file>},
      {"--tokenizer", {"TOKENIZER_NAME", "TOKENIZER"}, "PATH|REPO", "a separate Hugging Face tokenizer; its chat template replaces the model's (default: the model's)",
       set_string<&ServerConfig::tokenizer>},
      {"--tokenizer-revision", {"TOKENIZER_REVISION"}, "REV", "Hub revision of --tokenizer (default main)",
       set_string<&ServerConfig::tokenizer_revision>},
      {"--served-model-name", {"OPENAI_SERVED_MODEL_NAME_OVERRIDE", "SERVED_MODEL_NAME"}, "NAME [NAME ...]",
       "names clients may send as `model`, all listed by /v1/models; the first is reported (default: the --model "
       "argument; HuggingFaceTB/SmolLM2-135M-Instruct for the default model)", set_served_name},
      {"--host", {"HOST"}, "HOST", "address to listen on (default 0.0.0.0)", set_host},
      {"--port", {"PORT"}, "PORT", "port to listen on (default 8000)", set_port},
      {"--max-model-len", {"MAX_MODEL_LEN"}, "N", "context length (default / 'auto': the model's)",
       set_max_model_len},
      {"--max-num-seqs", {"MAX_NUM_SEQS"}, "N", "most requests admitted at once (default 256)", set_max_num_seqs},
      {"--max-num-batched-tokens", {"MAX_NUM_BATCHED_TOKENS"}, "N",
       "tokens per engine step (default 0 = 2048, or max(2048, max-model-len) without chunked prefill)",
       set_max_num_batched_tokens},
      {"--enable-chunked-prefill", {"ENABLE_CHUNKED_PREFILL"}, "",
       "split long prompts across steps, mixed with decodes (default on)",
       set_bool<&ServerConfig::enable_chunked_prefill>, false, true, true},
      {"--enable-prefix-caching", {"ENABLE_PREFIX_CACHING"}, "",
       "reuse the KV cache of shared prompt prefixes (default on)", set_bool<&ServerConfig::enable_prefix_caching>,
       false, true, true},
      {"--block-size", {"BLOCK_SIZE"}, "N", "tokens per KV-cache block (default 16)", set_block_size},
      {"--kv-cache-memory", {"KV_CACHE_MEMORY", "VLLM_CPU_KVCACHE_SPACE"}, "GIB",
       "KV-cache pool size in GiB (default 4 on the CPU; on a GPU: planned from --gpu-memory-utilization)",
       set_kv_cache_memory},
      {"--kv-cache-memory-bytes", {"KV_CACHE_MEMORY_BYTES"}, "BYTES",
       "KV-cache size in bytes, vLLM's flag (e.g. 8G); wins over --kv-cache-memory", set_kv_cache_memory_bytes},
      {"--device", {"DEVICE"}, "DEVICE", "auto, cpu or cuda (default auto: the GPU when one is usable)", set_device},
      {"--load-format", {"LOAD_FORMAT"}, "FORMAT",
       "auto (.gguf or Hugging Face directory, by path), safetensors, gguf, or dummy (random weights from "
       "config.json, vLLM's) (default auto)", set_load_format},
      {"--kv-cache-dtype", {"KV_CACHE_DTYPE"}, "DTYPE",
       "auto (the model's), float16/fp16, bfloat16/bf16, fp8/fp8_e4m3, fp8_e5m2; the CPU keeps auto or float16 "
       "(default auto)", set_kv_cache_dtype},
      {"--gpu-memory-utilization", {"GPU_MEMORY_UTILIZATION"}, "FRACTION",
       "fraction of the GPU's memory podserve may use; the rest of it after the weights holds the KV cache "
       "(default 0.9, vLLM's; RunPod's worker passes 0.95)", set_gpu_memory_utilization},
      {"--num-gpu-blocks-override", {"NUM_GPU_BLOCKS_OVERRIDE"}, "N",
       "exactly N KV blocks instead of the planned number (default 0 = planned)", set_num_gpu_blocks_override},
      {"--enforce-eager", {"ENFORCE_EAGER"}, "", "no CUDA graphs: every step runs eagerly (default off)",
       set_enforce_eager, false, true, true},
      {"--cuda-graph-sizes", {"CUDA_GRAPH_SIZES"}, "N[,N...]",
       "decode batch sizes to capture as CUDA graphs; one N = the largest size (default: vLLM's list up to "
       "min(2 x max-num-seqs, 512))", set_cuda_graph_sizes},
      {"--compilation-config", {"COMPILATION_CONFIG"}, "JSON",
       "vLLM's; podserve reads cudagraph_capture_sizes, max_cudagraph_capture_size, cudagraph_mode (NONE = eager)",
       set_compilation_config},
      {"--max-seq-len-to-capture", {"MAX_SEQ_LEN_TO_CAPTURE", "MAX_CONTEXT_LEN_TO_CAPTURE"}, "N",
       "a decode step holding a longer sequence runs eagerly (default 0 = no limit)", set_max_seq_len_to_capture},
      {"--max-logprobs", {"MAX_LOGPROBS"}, "N", "most logprobs a request may ask for (default 20)",
       set_max_logprobs},
      {"--disable-log-stats", {"DISABLE_LOG_STATS"}, "", "turn off the engine's stats line (throughput, running/waiting requests, KV usage; every 5 s while "
       "busy)",
       set_bool<&ServerConfig::disable_log_stats>, false, true, false},
      {"--enable-request-id-headers", {"ENABLE_REQUEST_ID_HEADERS"}, "",
       "answer with an X-Request-Id header: the request's, or a new one (default off)",
       set_bool<&ServerConfig::enable_request_id_headers>, false, true, true},
      {"--seed", {"SEED"}, "N", "default sampling seed (default 0)", set_seed},
      {"--structured-outputs-config", {"STRUCTURED_OUTPUTS_CONFIG"}, "JSON",
       "structured outputs: {\"backend\": auto|xgrammar|..., \"disable_any_whitespace\": bool, "
       "\"enable_in_reasoning\": bool} (one engine, xgrammar's semantics, serves every backend name)",
       set_structured_config},
      {"--guided-decoding-backend", {"GUIDED_DECODING_BACKEND"}, "NAME",
       "older name of the structured-outputs backend (default auto)", set_structured_backend},
      {"--dtype", {"DTYPE"}, "TYPE",
       "weights and compute of Hugging Face models: auto (as stored), float32 (also float32 K/V), bfloat16 or "
       "float16 (default auto)", set_dtype},
      {"--api-key", {"API_KEY", "VLLM_API_KEY"}, "KEY", "require `Authorization: Bearer KEY` on /v1 (repeatable; default: none, no auth)",
       add_api_key, true},
      {"--response-role", {"OPENAI_RESPONSE_ROLE", "RESPONSE_ROLE"}, "ROLE",
       "role of chat responses (default assistant)", set_response_role},
      {"--chat-template", {"CUSTOM_CHAT_TEMPLATE", "CHAT_TEMPLATE"}, "PATH|TEMPLATE",
       "Jinja chat template file or inline text (default: the model's)", set_chat_template},
      {"--enable-auto-tool-choice", {"ENABLE_AUTO_TOOL_CHOICE"}, "",
       "let the model call tools (tool_choice auto); needs --tool-call-parser (default off)",
       set_bool<&ServerConfig::enable_auto_tool_choice>, false, true, false},
      {"--tool-call-parser", {"TOOL_CALL_PARSER"}, "NAME",
       "how tool calls are read from the output: hermes, qwen3_json, qwen3_xml, qwen3_coder, llama3_json, "
       "llama4_json, deepseek_v3, phi4_mini_json, pythonic, granite, mistral, openai",
       set_string<&ServerConfig::tool_call_parser>},
      {"--reasoning-parser", {"REASONING_PARSER"}, "NAME",
       "split reasoning from content: deepseek_r1, deepseek_v3, granite, mistral, qwen3, openai_gptoss",
       set_string<&ServerConfig::reasoning_parser>},
      {"--exclude-tools-when-tool-choice-none", {"EXCLUDE_TOOLS_WHEN_TOOL_CHOICE_NONE"}, "",
       "with tool_choice none, render the prompt without the tools (default off)",
       set_bool<&ServerConfig::exclude_tools_when_tool_choice_none>, false, true, false},
      {"--log-level", {"VLLM_LOGGING_LEVEL"}, "LEVEL", "DEBUG, INFO, WARNING or ERROR (default INFO)",
       set_log_level},
      {"--io-threads", {"PODSERVE_IO_THREADS"}, "N", "HTTP threads (default 0 = automatic)", set_io_threads},
      {"--threads", {"PODSERVE_THREADS", "OMP_NUM_THREADS"}, "N", "model compute threads (default 0 = all cores)",
       set_compute_threads},
      {"--max-request-bytes", {"PODSERVE_MAX_REQUEST_BYTES"}, "N", "largest request body; more answers 413 (default 33554432 = 32 MiB)",
       set_bytes<&ServerConfig::max_body_bytes>},
      {"--max-header-bytes", {"PODSERVE_MAX_HEADER_BYTES"}, "N",
       "largest request line + headers; more answers 431 (default 65536)", set_max_header},
      {"--max-queued-requests", {"PODSERVE_MAX_QUEUED_REQUESTS"}, "N",
       "most unfinished requests (running + waiting); more answer 429 (default 4096)", set_max_queued},
      {"--keepalive-timeout", {"PODSERVE_KEEPALIVE_TIMEOUT"}, "SECONDS",
       "close a keep-alive connection idle this long (default 60)", set_seconds<&ServerConfig::keepalive_timeout_s>},
      {"--request-timeout", {"PODSERVE_REQUEST_TIMEOUT"}, "SECONDS",
       "drop a client that takes longer to send its request (headers + body) (default 30)",
       set_seconds<&ServerConfig::request_timeout_s>},
      {"--shutdown-timeout", {"PODSERVE_SHUTDOWN_TIMEOUT"}, "SECONDS",
       "on SIGTERM, how long in-flight requests may finish before they are aborted: a stream ends with an "
       "error event and `data: [DONE]`, a plain request gets a 503; exit 0 (default 30)",
       set_seconds<&ServerConfig::shutdown_timeout_s>},
      {"--max-prompt-bytes", {"PODSERVE_MAX_PROMPT_BYTES"}, "N",
       "largest prompt text (a rendered chat template, a completions or /tokenize prompt); more answers 400 "
       "(default 8388608)", set_bytes<&ServerConfig::max_prompt_bytes>},
      {"--max-template-steps", {"PODSERVE_MAX_TEMPLATE_STEPS"}, "N",
       "chat template budget per request: statements, loop iterations and calls; more answers 400 (default "
       "1000000)", set_count<&ServerConfig::max_template_steps>},
      {"--max-template-ms", {"PODSERVE_MAX_TEMPLATE_MS"}, "MS",
       "chat template budget per request: render time; more answers 400 (default 2000)", set_template_ms},
      {"--max-tokens-per-request", {"PODSERVE_MAX_TOKENS_PER_REQUEST"}, "N",
       "most tokens one request may ask to generate: max(n, best_of) x max_tokens, summed over a batch's "
       "prompts; more answers 400 (default 262144)", set_count<&ServerConfig::max_tokens_per_request>},
      {"--max-stream-backlog-bytes", {"PODSERVE_MAX_STREAM_BACKLOG_BYTES"}, "N",
       "output held for a streaming client that stops reading; past it the client is dropped and its request "
       "aborted (default 1048576)", set_bytes<&ServerConfig::max_stream_backlog_bytes>},
      {"--quantization", {"QUANTIZATION"}, "METHOD",
       "the model's quantization: unset or gguf (a GGUF file's own); other methods are refused", set_quantization},
      {"--generation-config", {"GENERATION_CONFIG"}, "auto|vllm|FOLDER",
       "sampling defaults: auto (the model's generation_config.json), vllm (none), or a folder's (default auto)",
       set_generation_config},
      {"--override-generation-config", {"OVERRIDE_GENERATION_CONFIG"}, "JSON",
       "sampling defaults merged over --generation-config's, e.g. {\"temperature\": 0.5}",
       set_override_generation_config},
      {"--return-tokens-as-token-ids", {"RETURN_TOKENS_AS_TOKEN_IDS"}, "",
       "logprobs name tokens as token_id:N (a request's return_tokens_as_token_ids wins) (default off)",
       set_bool<&ServerConfig::return_tokens_as_token_ids>, false, true, true},
      {"--enable-prompt-tokens-details", {"ENABLE_PROMPT_TOKENS_DETAILS"}, "",
       "usage.prompt_tokens_details.cached_tokens: prompt tokens from the prefix cache (default off)",
       set_bool<&ServerConfig::enable_prompt_tokens_details>, false, true, true},
      {"--enable-force-include-usage", {"ENABLE_FORCE_INCLUDE_USAGE"}, "",
       "every stream ends with a usage chunk, as if stream_options.include_usage were set (default off)",
       set_bool<&ServerConfig::enable_force_include_usage>, false, true, true},
      {"--scheduling-policy", {"SCHEDULING_POLICY"}, "fcfs|priority",
       "priority: requests' `priority` (lower first) orders admission and preemption (default fcfs)",
       set_scheduling_policy},
      {"--download-dir", {"DOWNLOAD_DIR"}, "DIR",
       "Hugging Face Hub cache to download models into and load them from (default: HF_HUB_CACHE's)",
       set_string<&ServerConfig::download_dir>},
      {"--config", {"VLLM_CONFIG_FILE"}, "FILE",
       "a `vllm serve` YAML config file (flag: value); the environment and flags win over it", set_nothing},
      {"", {"VLLM_EXTRA_ARGS"}, "ARGS", "more flags, as one shell-quoted string; the command line wins over them",
       set_nothing},
      {"--speculative-config", {"SPECULATIVE_CONFIG"}, "JSON",
       "speculative decoding, vLLM's speculative_config: {\"method\": \"ngram\", \"num_speculative_tokens\": K, "
       "\"prompt_lookup_max\": 5, \"prompt_lookup_min\": 5} or a draft model of the same tokenizer {\"model\": "
       "PATH|REPO, \"num_speculative_tokens\": K}; unknown keys and other methods fail start-up (default: off)",
       set_speculative_config},
      {"", {"SPECULATIVE_METHOD"}, "METHOD",
       "G1 worker: with the variables below, assembled into a speculative config when SPECULATIVE_CONFIG is unset",
       set_speculative_field},
      {"", {"SPECULATIVE_MODEL"}, "MODEL", "G1 worker: the draft model (`ngram` for the n-gram method)",
       set_speculative_field},
      {"", {"NUM_SPECULATIVE_TOKENS"}, "N", "G1 worker: num_speculative_tokens (0 = unset)", set_speculative_field},
      {"", {"NGRAM_PROMPT_LOOKUP_MAX"}, "N", "G1 worker: prompt_lookup_max; alone it selects the ngram method (0 = unset)",
       set_speculative_field},
      {"", {"NGRAM_PROMPT_LOOKUP_MIN"}, "N", "G1 worker: prompt_lookup_min (0 = unset)", set_speculative_field},
      {"", {"SPECULATIVE_DRAFT_TENSOR_PARALLEL_SIZE"}, "N", "G1 worker: draft_tensor_parallel_size (1 only)",
       set_speculative_field},
      {"", {"SPECULATIVE_MAX_MODEL_LEN"}, "N", "G1 worker: the draft's max_model_len", set_speculative_field},
      {"", {"SPECULATIVE_QUANTIZATION"}, "METHOD", "G1 worker: the draft's quantization", set_speculative_field},
      {"", {"SPECULATIVE_MODEL_REVISION"}, "REV", "G1 worker: the draft's revision", set_speculative_field},
      {"", {"SPECULATIVE_ENFORCE_EAGER"}, "BOOL", "G1 worker: the draft's enforce_eager", set_speculative_field},
      {"--enable-lora", {"ENABLE_LORA"}, "",
       "serve LoRA adapters (--lora-modules); a request picks one by its `model` (default off)",
       set_bool<&ServerConfig::enable_lora>, false, true, true},
      {"--lora-modules", {"LORA_MODULES"}, "SPEC [SPEC ...]",
       "PEFT adapters to serve, each a model name: name=path, a JSON object {\"name\", \"path\", "
       "\"base_model_name\"} or a JSON list of them (the worker's form); paths are directories or Hub repo ids",
       set_lora_modules, true},
      {"--max-loras", {"MAX_LORAS"}, "N",
       "distinct LoRA adapters per engine step; a request of one more adapter waits for a later step (default 1)",
       set_max_loras},
      {"--max-lora-rank", {"MAX_LORA_RANK"}, "N",
       "largest adapter rank: 1, 8, 16, 32, 64, 128, 256, 320 or 512 (default 16)", set_max_lora_rank},
      {"--max-cpu-loras", {"MAX_CPU_LORAS"}, "N",
       "LoRA adapters kept loaded (an LRU, >= --max-loras); one dropped is reloaded from its path when a request "
       "needs it (default --max-loras)",
       set_max_cpu_loras},
      {"", {"VLLM_ALLOW_RUNTIME_LORA_UPDATING"}, "BOOL",
       "1 or true: serve POST /v1/load_lora_adapter and /v1/unload_lora_adapter (vLLM: local development only; "
       "default off)",
       set_runtime_lora_updating},
      {"", {"VLLM_LORA_RESOLVER_CACHE_DIR"}, "DIR",
       "vLLM's filesystem LoRA resolver: with VLLM_ALLOW_RUNTIME_LORA_UPDATING, a request naming an unknown model "
       "loads DIR/<name> when its adapter_config.json is a LoRA of this --model (must be a directory)",
       set_string<&ServerConfig::lora_resolver_cache_dir>},
      {"", {"VLLM_PLUGINS"}, "NAMES",
       "comma-separated vLLM plugins to load (unset: all); podserve has lora_filesystem_resolver",
       set_vllm_plugins},
      {"", {"VLLM_LORA_RESOLVER_HF_REPO_LIST"}, "REPOS",
       "vLLM's Hub LoRA resolver: not implemented (a start-up warning; unknown names stay 404s)",
       set_string<&ServerConfig::lora_resolver_hf_repos>},
      {"--lora-dtype", {"LORA_DTYPE"}, "DTYPE",
       "auto, float16 or bfloat16; podserve computes adapters in float32 whatever it says (default auto)",
       set_lora_dtype},
      {"--disable-playground", {"DISABLE_PLAYGROUND"}, "",
       "do not serve the chat playground page at / (default: served)", set_bool<&ServerConfig::disable_playground>,
       false, true, false},
  };
  return kOptions;
}

const Option* find_option(std::string_view flag) {
  for (const Option& o : options()) {
    if (!o.flag.empty() && o.flag == flag) return &o;
  }
  return nullptr;
}

}  // namespace podserve::option_table
