#include "serve/vllm_variables.h"

#include <boost/json/parse.hpp>
#include <cctype>
#include <charconv>
#include <cmath>

namespace podserve {
namespace {

using T = Treatment;
using V = ValueKind;

// Texts shared by several rows.
constexpr std::string_view kOneDevice = "podserve runs on one device, with no tensor/pipeline/data parallelism";
constexpr std::string_view kNoGpu = "a GPU setting podserve does not implement";
constexpr std::string_view kNoMultimodal = "podserve serves text-only models";
constexpr std::string_view kNoDisableByBatch =
    "vLLM's speculative_config has no disable_by_batch_size any more (G1 would fail to start with it)";
constexpr std::string_view kRemoved = "removed from vLLM; the vLLM worker ignores it too";
constexpr std::string_view kNoPython = "a Python-process setting; podserve is one native process";
constexpr std::string_view kProxy = "plumbing of the worker's proxy to `vllm serve`; podserve serves in-process";
constexpr std::string_view kNoLogging = "podserve does not log requests or outputs";
constexpr std::string_view kNoHttpOption = "an option of vLLM's HTTP server (uvicorn/FastAPI), which podserve is not";

// Grouped as in surface-and-scale.md §6. `flag` is true where `vllm serve` 0.32 has the flag. Families (`X_*`) are
// only for vLLM's own prefixes: SSL_*, ALLOWED_*, H11_* have their rows but no family (SSL_CERT_FILE is OpenSSL's).
constexpr VariableRule kRules[] = {
    // Model and outputs.
    {"TRUST_REMOTE_CODE", true, T::kWarn, V::kBool, "", "false",
     "podserve runs no model code from the Hub: it loads the architectures it implements (others fail to load)"},
    {"CODE_REVISION", true, T::kWarn, V::kText, "", "", "goes with TRUST_REMOTE_CODE; podserve runs no model code"},
    {"TOKENIZER_MODE", true, T::kRefuse, V::kChoice, "auto|hf|slow|mistral|custom|deepseek_v32", "auto|hf|slow",
     "podserve's tokenizer reproduces Hugging Face's; mistral and custom tokenizers are not implemented"},
    {"CONFIG_FORMAT", true, T::kRefuse, V::kChoice, "auto|hf|mistral", "auto|hf",
     "podserve reads Hugging Face config.json (or GGUF metadata)"},
    {"HF_OVERRIDES", true, T::kRefuse, V::kJson, "", "{}", "podserve uses the model's config as stored"},
    {"HF_CONFIG_PATH", true, T::kRefuse, V::kText, "", "", "podserve reads the config of the model itself"},
    {"DISABLE_SLIDING_WINDOW", true, T::kRefuse, V::kBool, "", "false",
     "podserve always applies the model's sliding window"},
    {"LOGITS_PROCESSORS", true, T::kRefuse, V::kText, "", "",
     "server-side logits processors are Python classes; podserve has none"},
    {"LOGPROBS_MODE", true, T::kRefuse, V::kChoice, "raw_logprobs|raw_logits|processed_logprobs|processed_logits",
     "raw_logprobs", "podserve returns logprobs of the raw logits (vLLM's default)"},
    {"MODEL_IMPL", true, T::kWarn, V::kChoice, "auto|vllm|transformers|terratorch", "auto",
     "podserve has one implementation of each architecture"},
    {"CHAT_TEMPLATE_CONTENT_FORMAT", true, T::kRefuse, V::kChoice, "auto|string|openai", "auto|string",
     "podserve hands message content to the template as a string (text parts joined)"},
    {"TRUST_REQUEST_CHAT_TEMPLATE", true, T::kWarn, V::kBool, "", "false",
     "a request's own chat_template is still refused (400)"},
    // ENABLE_AUTO_TOOL_CHOICE, TOOL_CALL_PARSER, REASONING_PARSER, EXCLUDE_TOOLS_WHEN_TOOL_CHOICE_NONE are options.
    {"TOOL_PARSER_PLUGIN", true, T::kWarn, V::kText, "", "", "tool parser plugins are Python files"},
    {"SKIP_TOKENIZER_INIT", true, T::kRefuse, V::kBool, "", "false",
     "podserve always loads the tokenizer (text in, text out)"},
    {"LIMIT_MM_PER_PROMPT", true, T::kWarn, V::kText, "", "", kNoMultimodal},
    {"MM_PROCESSOR_KWARGS", true, T::kWarn, V::kJson, "", "", kNoMultimodal},
    {"MM_PROCESSOR_CACHE_GB", true, T::kWarn, V::kNumber, "", "", kNoMultimodal},
    {"MM_PROCESSOR_CACHE_TYPE", true, T::kWarn, V::kText, "", "", kNoMultimodal},
    {"MM_PROCESSOR_CACHE_*", false, T::kWarn, V::kText, "", "", kNoMultimodal},
    {"MM_SHM_CACHE_MAX_OBJECT_SIZE_MB", true, T::kWarn, V::kNumber, "", "", kNoMultimodal},
    {"MM_ENCODER_TP_MODE", true, T::kWarn, V::kText, "", "", kNoMultimodal},
    {"MEDIA_IO_KWARGS", true, T::kWarn, V::kJson, "", "", kNoMultimodal},
    {"VIDEO_PRUNING_RATE", true, T::kWarn, V::kNumber, "", "", kNoMultimodal},
    {"INTERLEAVE_MM_STRINGS", true, T::kWarn, V::kBool, "", "false", kNoMultimodal},
    {"DISABLE_CHUNKED_MM_INPUT", true, T::kWarn, V::kBool, "", "false", kNoMultimodal},
    {"SKIP_MM_PROFILING", true, T::kWarn, V::kBool, "", "false", kNoMultimodal},
    {"ALLOWED_LOCAL_MEDIA_PATH", true, T::kWarn, V::kText, "", "", kNoMultimodal},
    {"ALLOWED_MEDIA_DOMAINS", true, T::kWarn, V::kText, "", "", kNoMultimodal},
    {"ENABLE_MULTIMODAL_ENCODER_DATA_PARALLEL", false, T::kWarn, V::kBool, "", "false", kRemoved},
    {"DISABLE_MM_PREPROCESSOR_CACHE", false, T::kWarn, V::kBool, "", "false", kRemoved},
    {"ENABLE_PROMPT_EMBEDS", true, T::kWarn, V::kBool, "", "false",
     "prompt_embeds requests still answer 400 (not supported yet)"},
    {"RUNNER", true, T::kRefuse, V::kChoice, "auto|generate|pooling|draft", "auto|generate",
     "podserve runs text generation only"},
    {"CONVERT", true, T::kRefuse, V::kChoice, "auto|none|embed|classify|reward", "auto|none",
     "podserve runs text generation only"},
    {"POOLER_CONFIG", true, T::kWarn, V::kJson, "", "", "podserve runs no pooling models"},
    {"OVERRIDE_POOLER_CONFIG", false, T::kWarn, V::kJson, "", "", kRemoved},
    {"TASK", false, T::kWarn, V::kText, "", "auto|generate", "removed from vLLM (now RUNNER/CONVERT); ignored"},
    {"MAMBA_CACHE_DTYPE", true, T::kWarn, V::kText, "", "auto", "podserve serves no Mamba models"},
    {"MAMBA_SSM_CACHE_DTYPE", true, T::kWarn, V::kText, "", "auto", "podserve serves no Mamba models"},
    {"ROPE_SCALING", false, T::kWarn, V::kJson, "", "",
     "removed from vLLM (now HF_OVERRIDES); the vLLM worker ignores it too, so answers stay the worker's"},
    {"ROPE_THETA", false, T::kWarn, V::kNumber, "", "",
     "removed from vLLM (now HF_OVERRIDES); the vLLM worker ignores it too, so answers stay the worker's"},
    {"ROPE_*", false, T::kWarn, V::kText, "", "", kRemoved},
    {"QUANTIZATION_PARAM_PATH", false, T::kWarn, V::kText, "", "", kRemoved},
    {"LOGITS_PROCESSOR_PATTERN", false, T::kWarn, V::kText, "", "", kRemoved},

    // LoRA: ENABLE_LORA, LORA_MODULES, MAX_LORAS, MAX_LORA_RANK, MAX_CPU_LORAS and LORA_DTYPE are options (option_table.cpp).
    {"FULLY_SHARDED_LORAS", true, T::kWarn, V::kBool, "", "false", "tensor-parallel sharding: podserve runs on one device"},
    {"DEFAULT_MM_LORAS", true, T::kWarn, V::kJson, "", "", "podserve serves no multimodal models"},
    {"ENABLE_LORA_BIAS", false, T::kWarn, V::kBool, "", "false", kRemoved},
    {"LORA_EXTRA_VOCAB_SIZE", false, T::kWarn, V::kInt, "", "", kRemoved},
    {"LONG_LORA_SCALING_FACTORS", false, T::kWarn, V::kText, "", "", kRemoved},

    // Speculative decoding: the options of config.cpp take the others over; this one G1 would pass on to vLLM,
    // whose speculative_config no longer has it.
    {"SPECULATIVE_DISABLE_BY_BATCH_SIZE", false, T::kWarn, V::kInt, "", "0", kNoDisableByBatch},
    {"SPEC_DECODING_ACCEPTANCE_METHOD", false, T::kWarn, V::kText, "", "", kRemoved},
    {"TYPICAL_ACCEPTANCE_SAMPLER_POSTERIOR_THRESHOLD", false, T::kWarn, V::kNumber, "", "", kRemoved},
    {"TYPICAL_ACCEPTANCE_SAMPLER_POSTERIOR_ALPHA", false, T::kWarn, V::kNumber, "", "", kRemoved},
    {"TYPICAL_ACCEPTANCE_SAMPLER_*", false, T::kWarn, V::kText, "", "", kRemoved},

    // Structured outputs' older variables (GUIDED_DECODING_BACKEND is an option: see config.cpp).
    {"GUIDED_DECODING_DISABLE_ADDITIONAL_PROPERTIES", false, T::kWarn, V::kBool, "", "", kRemoved},
    {"GUIDED_DECODING_DISABLE_ANY_WHITESPACE", false, T::kWarn, V::kBool, "", "", kRemoved},
    {"GUIDED_DECODING_DISABLE_FALLBACK", false, T::kWarn, V::kBool, "", "", kRemoved},
    {"GUIDED_DECODING_*", false, T::kWarn, V::kText, "", "", kRemoved},

    // Performance only.
    {"LONG_PREFILL_TOKEN_THRESHOLD", true, T::kWarn, V::kInt, "", "0",
     "podserve's chunked prefill splits by the step's token budget (MAX_NUM_BATCHED_TOKENS) only"},
    {"ASYNC_SCHEDULING", true, T::kWarn, V::kBool, "", "false", "podserve schedules each step after the last"},
    {"PREFIX_CACHING_HASH_ALGO", true, T::kWarn, V::kChoice, "sha256|sha256_cbor|xxhash|xxhash_cbor|builtin",
     "sha256", "podserve hashes KV blocks with XXH3-128 under a random per-process seed"},
    {"MAX_NUM_PARTIAL_PREFILLS", false, T::kWarn, V::kInt, "", "1", kRemoved},
    {"MAX_LONG_PARTIAL_PREFILLS", false, T::kWarn, V::kInt, "", "1", kRemoved},
    {"KV_OFFLOADING_BACKEND", true, T::kWarn, V::kText, "", "", "podserve keeps the KV cache in one pool"},
    {"KV_OFFLOADING_SIZE", true, T::kWarn, V::kNumber, "", "", "podserve keeps the KV cache in one pool"},
    {"KV_OFFLOADING_*", false, T::kWarn, V::kText, "", "", "podserve keeps the KV cache in one pool"},
    {"SAFETENSORS_LOAD_STRATEGY", true, T::kWarn, V::kText, "", "", "podserve memory-maps the weights"},
    {"MAX_PARALLEL_LOADING_WORKERS", true, T::kWarn, V::kInt, "", "1", "podserve memory-maps the weights"},
    {"IGNORE_PATTERNS", true, T::kWarn, V::kText, "", "",
     "podserve downloads only the files the model needs (config, tokenizer, safetensors or one .gguf)"},
    {"MODEL_LOADER_EXTRA_CONFIG", true, T::kWarn, V::kJson, "", "", "podserve memory-maps the weights"},
    {"PT_LOAD_MAP_LOCATION", true, T::kWarn, V::kText, "", "", "podserve reads no PyTorch checkpoints"},
    {"ATTENTION_BACKEND", true, T::kWarn, V::kText, "", "", "podserve has one attention kernel per device"},
    {"VLLM_ATTENTION_BACKEND", false, T::kWarn, V::kText, "", "", "podserve has one attention kernel per device"},
    {"DISABLE_CASCADE_ATTN", true, T::kWarn, V::kBool, "", "false", "podserve has no cascade attention"},
    {"STREAM_INTERVAL", false, T::kWarn, V::kInt, "", "1", "podserve streams every token as it comes"},
    {"SWAP_SPACE", false, T::kWarn, V::kNumber, "", "", kRemoved},
    {"NUM_LOOKAHEAD_SLOTS", false, T::kWarn, V::kInt, "", "0", kRemoved},
    {"SCHEDULER_DELAY_FACTOR", false, T::kWarn, V::kNumber, "", "0", kRemoved},
    {"USE_V2_BLOCK_MANAGER", false, T::kWarn, V::kBool, "", "", kRemoved},
    {"PREEMPTION_MODE", false, T::kWarn, V::kText, "", "", kRemoved},
    {"PREEMPTION_CHECK_PERIOD", false, T::kWarn, V::kNumber, "", "", kRemoved},
    {"PREEMPTION_CPU_CAPACITY", false, T::kWarn, V::kNumber, "", "", kRemoved},
    {"PREEMPTION_*", false, T::kWarn, V::kText, "", "", kRemoved},
    {"TOKENIZER_POOL_SIZE", false, T::kWarn, V::kInt, "", "0", kRemoved},
    {"TOKENIZER_POOL_TYPE", false, T::kWarn, V::kText, "", "ray", kRemoved},
    {"TOKENIZER_POOL_EXTRA_CONFIG", false, T::kWarn, V::kJson, "", "", kRemoved},
    {"TOKENIZER_POOL_*", false, T::kWarn, V::kText, "", "", kRemoved},
    {"DISABLE_FRONTEND_MULTIPROCESSING", false, T::kWarn, V::kBool, "", "false", kRemoved},

    // The device settings (DEVICE, LOAD_FORMAT, KV_CACHE_DTYPE, GPU_MEMORY_UTILIZATION, KV_CACHE_MEMORY_BYTES,
    // NUM_GPU_BLOCKS_OVERRIDE, ENFORCE_EAGER, CUDA_GRAPH_SIZES, COMPILATION_CONFIG, MAX_SEQ_LEN_TO_CAPTURE) are
    // options: see config.cpp.
    {"CPU_OFFLOAD_GB", true, T::kWarn, V::kNumber, "", "0", kNoGpu},
    {"ENABLE_SLEEP_MODE", true, T::kRefuse, V::kBool, "", "false", "Sleep mode is not supported on current platform."},
    {"CALCULATE_KV_SCALES", true, T::kWarn, V::kBool, "", "false", kNoGpu},
    {"OVERRIDE_ATTENTION_DTYPE", true, T::kWarn, V::kText, "", "", kNoGpu},
    {"VLLM_USE_DEEP_GEMM", false, T::kWarn, V::kText, "", "0", kNoGpu},
    {"PYTORCH_ALLOC_CONF", false, T::kWarn, V::kText, "", "expandable_segments:True", kNoPython},
    {"PYTORCH_*", false, T::kWarn, V::kText, "", "", kNoPython},

    // One device.
    {"TENSOR_PARALLEL_SIZE", true, T::kRefuse, V::kInt, "", "1", kOneDevice},
    {"PIPELINE_PARALLEL_SIZE", true, T::kRefuse, V::kInt, "", "1", kOneDevice},
    {"DATA_PARALLEL_SIZE", true, T::kRefuse, V::kInt, "", "1", kOneDevice},
    {"DATA_PARALLEL_SIZE_LOCAL", true, T::kRefuse, V::kInt, "", "1", kOneDevice},
    {"DECODE_CONTEXT_PARALLEL_SIZE", true, T::kRefuse, V::kInt, "", "1", kOneDevice},
    {"DATA_PARALLEL_RANK", true, T::kWarn, V::kInt, "", "0", kOneDevice},
    {"DATA_PARALLEL_START_RANK", true, T::kWarn, V::kInt, "", "0", kOneDevice},
    {"DATA_PARALLEL_ADDRESS", true, T::kWarn, V::kText, "", "", kOneDevice},
    {"DATA_PARALLEL_RPC_PORT", true, T::kWarn, V::kInt, "", "", kOneDevice},
    {"DATA_PARALLEL_BACKEND", true, T::kWarn, V::kText, "", "mp", kOneDevice},
    {"DATA_PARALLEL_HYBRID_LB", true, T::kWarn, V::kBool, "", "false", kOneDevice},
    {"DATA_PARALLEL_*", false, T::kWarn, V::kText, "", "", kOneDevice},
    {"DISTRIBUTED_EXECUTOR_BACKEND", true, T::kWarn, V::kChoice, "ray|mp|uni|external_launcher", "mp|uni",
     kOneDevice},
    {"DISABLE_CUSTOM_ALL_REDUCE", true, T::kWarn, V::kBool, "", "false", kOneDevice},
    {"ENABLE_EXPERT_PARALLEL", true, T::kWarn, V::kBool, "", "false", kOneDevice},
    {"EXPERT_PLACEMENT_STRATEGY", true, T::kWarn, V::kText, "", "linear", kOneDevice},
    {"ENABLE_EPLB", true, T::kWarn, V::kBool, "", "false", kOneDevice},
    {"EPLB_CONFIG", true, T::kWarn, V::kJson, "", "", kOneDevice},
    {"EPLB_LOG_BALANCEDNESS", false, T::kWarn, V::kBool, "", "false", kRemoved},
    {"EPLB_STEP_INTERVAL", false, T::kWarn, V::kInt, "", "", kRemoved},
    {"EPLB_WINDOW_SIZE", false, T::kWarn, V::kInt, "", "", kRemoved},
    {"NUM_REDUNDANT_EXPERTS", false, T::kWarn, V::kInt, "", "0", kRemoved},
    {"ENABLE_DBO", true, T::kWarn, V::kBool, "", "false", kOneDevice},
    {"DBO_DECODE_TOKEN_THRESHOLD", true, T::kWarn, V::kInt, "", "", kOneDevice},
    {"DBO_PREFILL_TOKEN_THRESHOLD", true, T::kWarn, V::kInt, "", "", kOneDevice},
    {"DBO_*", false, T::kWarn, V::kText, "", "", kOneDevice},
    {"KV_TRANSFER_CONFIG", true, T::kWarn, V::kJson, "", "",
     "podserve does no disaggregated prefill: it computes every prompt itself"},
    {"KV_EVENTS_CONFIG", true, T::kWarn, V::kJson, "", "", "podserve publishes no KV-cache events"},
    {"KV_SHARING_FAST_PREFILL", true, T::kWarn, V::kBool, "", "false", kNoGpu},
    {"DISABLE_HYBRID_KV_CACHE_MANAGER", true, T::kWarn, V::kBool, "", "false", "podserve has one KV cache manager"},
    {"RAY_WORKERS_USE_NSIGHT", true, T::kWarn, V::kBool, "", "false", kOneDevice},
    {"WORKER_USE_RAY", false, T::kWarn, V::kBool, "", "false", kRemoved},

    // The HTTP server, the proxy and the Python process.
    {"VLLM_PORT", false, T::kWarn, V::kInt, "", "8000", kProxy},
    {"VLLM_BASE_URL", false, T::kWarn, V::kText, "", "", kProxy},
    {"VLLM_STARTUP_TIMEOUT", false, T::kWarn, V::kNumber, "", "1200", kProxy},
    {"REQUEST_TIMEOUT", false, T::kWarn, V::kNumber, "", "3600",
     "the worker proxy's per-request timeout; podserve bounds a request by its max_tokens"},
    {"API_SERVER_COUNT", true, T::kWarn, V::kInt, "", "1", "podserve's HTTP threads are --io-threads"},
    {"UVICORN_LOG_LEVEL", true, T::kWarn, V::kText, "", "info", "podserve's log level is VLLM_LOGGING_LEVEL"},
    {"DISABLE_UVICORN_ACCESS_LOG", true, T::kWarn, V::kBool, "", "true", "podserve writes no access log"},
    {"DISABLE_FASTAPI_DOCS", true, T::kWarn, V::kBool, "", "true", "podserve serves no /docs"},
    {"ROOT_PATH", true, T::kWarn, V::kText, "", "", kNoHttpOption},
    {"SSL_KEYFILE", true, T::kRefuse, V::kText, "", "", "podserve serves plain HTTP: terminate TLS in front of it"},
    {"SSL_CERTFILE", true, T::kRefuse, V::kText, "", "", "podserve serves plain HTTP: terminate TLS in front of it"},
    {"SSL_CA_CERTS", true, T::kRefuse, V::kText, "", "", "podserve serves plain HTTP: terminate TLS in front of it"},
    {"SSL_CERT_REQS", true, T::kWarn, V::kInt, "", "0", "podserve serves plain HTTP"},
    {"ENABLE_SSL_REFRESH", true, T::kWarn, V::kBool, "", "false", "podserve serves plain HTTP"},
    {"ALLOWED_ORIGINS", true, T::kWarn, V::kJson, "", "", "podserve sends no CORS headers"},
    {"ALLOWED_METHODS", true, T::kWarn, V::kJson, "", "", "podserve sends no CORS headers"},
    {"ALLOWED_HEADERS", true, T::kWarn, V::kJson, "", "", "podserve sends no CORS headers"},
    {"ALLOW_CREDENTIALS", true, T::kWarn, V::kBool, "", "false", "podserve sends no CORS headers"},
    {"MIDDLEWARE", true, T::kWarn, V::kText, "", "", kNoHttpOption},
    {"UDS", true, T::kRefuse, V::kText, "", "", "podserve listens on TCP (HOST, PORT) only"},
    {"H11_MAX_HEADER_COUNT", true, T::kWarn, V::kInt, "", "", "podserve's header limit is --max-header-bytes"},
    {"H11_MAX_INCOMPLETE_EVENT_SIZE", true, T::kWarn, V::kInt, "", "",
     "podserve's header limit is --max-header-bytes"},
    {"ENABLE_SERVER_LOAD_TRACKING", true, T::kWarn, V::kBool, "", "false", "podserve has no /load route"},
    {"ENABLE_TOKENIZER_INFO_ENDPOINT", true, T::kWarn, V::kBool, "", "false", "podserve has no /tokenizer_info route"},
    {"WORKER_CLS", true, T::kWarn, V::kText, "", "auto", kNoPython},
    {"WORKER_EXTENSION_CLS", true, T::kWarn, V::kText, "", "", kNoPython},
    {"SCHEDULER_CLS", true, T::kWarn, V::kText, "", "", kNoPython},
    {"IO_PROCESSOR_PLUGIN", true, T::kWarn, V::kText, "", "", kNoPython},
    {"TOOL_SERVER", true, T::kWarn, V::kText, "", "", "podserve has no /v1/responses tool server"},
    {"USE_TQDM_ON_LOAD", true, T::kWarn, V::kBool, "", "true", kNoPython},
    {"TRANSFORMERS_VERSION", false, T::kWarn, V::kText, "", "", kNoPython},
    {"TOKENIZERS_PARALLELISM", false, T::kWarn, V::kText, "", "false", kNoPython},
    {"RAYON_NUM_THREADS", false, T::kWarn, V::kText, "", "4", kNoPython},
    {"RAY_METRICS_EXPORT_ENABLED", false, T::kWarn, V::kText, "", "0", kNoPython},
    {"RAY_DISABLE_USAGE_STATS", false, T::kWarn, V::kText, "", "1", kNoPython},
    {"RAY_*", false, T::kWarn, V::kText, "", "", kNoPython},
    {"PYTHONPATH", false, T::kWarn, V::kText, "", "/:/vllm-workspace", kNoPython},
    {"HF_HUB_ENABLE_HF_TRANSFER", false, T::kWarn, V::kText, "", "0",
     "podserve's downloader fetches in parallel by itself"},
    {"HF_DATASETS_CACHE", false, T::kWarn, V::kText, "", "", "podserve reads no datasets"},
    {"TESTING_DOWNLOAD", false, T::kWarn, V::kText, "", "", "a test switch of the worker's image build"},
    {"CONFIG", false, T::kWarn, V::kText, "", "", "reserved by the vLLM worker; a config file is VLLM_CONFIG_FILE"},
    {"HELP", false, T::kWarn, V::kText, "", "", "reserved by the vLLM worker"},
    {"VLLM_*", false, T::kWarn, V::kText, "", "",
     "a vLLM environment variable podserve does not read (the ones it reads are listed here)"},

    // Logging only.
    {"ENABLE_LOG_REQUESTS", true, T::kWarn, V::kBool, "", "false", kNoLogging},
    {"ENABLE_LOG_OUTPUTS", true, T::kWarn, V::kBool, "", "false", kNoLogging},
    {"DISABLE_LOG_REQUESTS", false, T::kWarn, V::kBool, "", "true", kNoLogging},
    {"DISABLE_LOGGING_REQUEST", false, T::kWarn, V::kBool, "", "true", kNoLogging},
    {"MAX_LOG_LEN", true, T::kWarn, V::kInt, "", "", kNoLogging},
    {"LOG_ERROR_STACK", true, T::kWarn, V::kBool, "", "false", "podserve has no Python stack to log"},
    {"LOG_CONFIG_FILE", true, T::kWarn, V::kText, "", "", "podserve's log level is VLLM_LOGGING_LEVEL"},
    {"OTLP_TRACES_ENDPOINT", true, T::kWarn, V::kText, "", "", "podserve exports no OpenTelemetry traces"},
    {"COLLECT_DETAILED_TRACES", true, T::kWarn, V::kText, "", "", "podserve exports no OpenTelemetry traces"},
    {"SHOW_HIDDEN_METRICS_FOR_VERSION", true, T::kWarn, V::kText, "", "", "podserve has no hidden metrics"},
    {"ADDITIONAL_CONFIG", true, T::kWarn, V::kJson, "", "{}", "platform plugins' settings; podserve has none"},

    // Read elsewhere in podserve.
    {"MAX_CONCURRENCY", false, T::kWorker, V::kInt, "", "", "jobs held at once (default 30)"},
    {"DEFAULT_BATCH_SIZE", false, T::kWorker, V::kNumber, "", "", "largest stream batch (default 50)"},
    {"MIN_BATCH_SIZE", false, T::kWorker, V::kNumber, "", "", "first stream batch (default 1)"},
    {"DEFAULT_MIN_BATCH_SIZE", false, T::kWorker, V::kNumber, "", "", "as MIN_BATCH_SIZE (the documented name)"},
    {"BATCH_SIZE_GROWTH_FACTOR", false, T::kWorker, V::kNumber, "", "", "stream batch growth (default 3)"},
    {"DEFAULT_BATCH_SIZE_GROWTH_FACTOR", false, T::kWorker, V::kNumber, "", "",
     "as BATCH_SIZE_GROWTH_FACTOR (the documented name)"},
    {"RAW_OPENAI_OUTPUT", false, T::kWorker, V::kText, "", "", "OpenAI streams as raw SSE text (default 1)"},
    {"HF_TOKEN", false, T::kHub, V::kText, "", "", "token for gated models (sent to the Hub only)"},
    {"HF_HOME", false, T::kHub, V::kText, "", "", "Hugging Face cache root (hub/ below it)"},
    {"HUGGINGFACE_HUB_CACHE", false, T::kHub, V::kText, "", "", "the Hub cache (older name of HF_HUB_CACHE)"},
    {"HF_HUB_OFFLINE", false, T::kHub, V::kText, "", "", "1: the cache only, no network"},
    {"TRANSFORMERS_OFFLINE", false, T::kHub, V::kText, "", "", "as HF_HUB_OFFLINE"},
    {"BASE_PATH", false, T::kHub, V::kText, "", "", "$BASE_PATH/huggingface-cache/hub is the cache (RunPod volume)"},
};

bool is_one_of(std::string_view value, std::string_view list) {
  if (list.empty()) return false;
  size_t start = 0;
  while (true) {
    const size_t bar = list.find('|', start);
    const std::string_view item = list.substr(start, bar == std::string_view::npos ? bar : bar - start);
    if (item.size() == value.size()) {
      bool same = true;
      for (size_t i = 0; i < item.size() && same; ++i) {
        same = std::tolower(static_cast<unsigned char>(item[i])) == std::tolower(static_cast<unsigned char>(value[i]));
      }
      if (same) return true;
    }
    if (bar == std::string_view::npos) return false;
    start = bar + 1;
  }
}

/// The G1/G2 workers' booleans: true/1/yes/on and false/0/no/off, any case.
bool bool_value(std::string_view v, bool* out) {
  if (is_one_of(v, "true|1|yes|on")) {
    *out = true;
    return true;
  }
  if (is_one_of(v, "false|0|no|off")) {
    *out = false;
    return true;
  }
  return false;
}

/// "" when `value` is a valid value of `kind`, else the allowed values.
std::string check_kind(const VariableRule& rule, const std::string& value) {
  switch (rule.kind) {
    case V::kText: return "";
    case V::kBool: {
      bool b = false;
      return bool_value(value, &b) ? "" : "true, false, 1, 0, yes, no, on or off";
    }
    case V::kInt: {
      long long v = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      return ec == std::errc() && p == value.data() + value.size() ? "" : "an integer";
    }
    case V::kNumber: {
      double v = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      return ec == std::errc() && p == value.data() + value.size() && std::isfinite(v) ? "" : "a number";
    }
    case V::kJson: {
      boost::system::error_code ec;
      boost::json::parse(value, ec);
      return ec ? "a JSON value" : "";
    }
    case V::kChoice: {
      if (is_one_of(value, rule.choices)) return "";
      std::string allowed(rule.choices);
      for (char& c : allowed) c = c == '|' ? ',' : c;
      return "one of " + allowed;
    }
  }
  return "";
}

/// Neutral values compare as values: "False" and "0" are the same bool, "1.0" and "1" the same number.
bool is_neutral(const VariableRule& rule, const std::string& value) {
  if (rule.kind == V::kBool) {
    bool v = false, n = false;
    return bool_value(value, &v) && bool_value(rule.neutral, &n) && v == n;
  }
  if (rule.kind == V::kInt || rule.kind == V::kNumber) {
    double v = 0;
    std::from_chars(value.data(), value.data() + value.size(), v);
    size_t start = 0;
    while (start <= rule.neutral.size() && !rule.neutral.empty()) {
      const size_t bar = rule.neutral.find('|', start);
      const std::string_view item = rule.neutral.substr(start, bar == std::string_view::npos ? bar : bar - start);
      double n = 0;
      auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
      if (ec == std::errc() && n == v) return true;
      if (bar == std::string_view::npos) break;
      start = bar + 1;
    }
    return false;
  }
  if (rule.kind == V::kJson) {
    boost::system::error_code ec1, ec2;
    const boost::json::value v = boost::json::parse(value, ec1);
    const boost::json::value n = boost::json::parse(rule.neutral, ec2);
    return !ec1 && !ec2 && !rule.neutral.empty() && v == n;
  }
  return is_one_of(value, rule.neutral);
}

}  // namespace

std::span<const VariableRule> vllm_variable_rules() { return kRules; }

std::string rule_flag(const VariableRule& rule) {
  if (!rule.flag) return "";
  std::string flag = "--";
  for (char c : rule.env) flag += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return flag;
}

Status apply_rule(const VariableRule& rule, const std::string& value, const std::string& source,
                  std::vector<std::string>* warnings) {
  if (rule.treatment == T::kWorker || rule.treatment == T::kHub) return ok_status();
  if (std::string allowed = check_kind(rule, value); !allowed.empty()) {
    return invalid_argument("Invalid value '" + value + "' for " + source + ": expected " + allowed);
  }
  if (is_neutral(rule, value)) return ok_status();
  if (rule.treatment == T::kRefuse) {
    std::string allowed(rule.neutral);
    for (char& c : allowed) c = c == '|' ? ',' : c;
    return invalid_argument(source + "=" + value + " is not supported by podserve: " + std::string(rule.why) +
                            (allowed.empty() ? std::string(" (leave it unset)")
                                             : " (allowed: " + allowed + ", or leave it unset)"));
  }
  warnings->push_back(source + "=" + value + " has no effect in podserve: " + std::string(rule.why));
  return ok_status();
}

std::string family_warning(const VariableRule& family, const std::string& name) {
  return name + " has no effect in podserve: " + std::string(family.why);
}

}  // namespace podserve
