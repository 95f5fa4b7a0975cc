#include "serve/serving_stack.h"

#include <string>
#include <utility>

#include "base/log.h"
#include "model/causal_lm.h"
#include "model/loaded_model.h"
#include "serve/generation_config.h"
#include "serve/model_source.h"
#include "tokenizer/tokenizer.h"

namespace podserve {
namespace {

/// The chat template renderer, or null when there is no template. A bad custom template is fatal (the operator
/// asked for it); a bad template inside the model file only disables chat, as vLLM does per request.
Result<std::unique_ptr<openai::PromptRenderer>> make_renderer(const ServerConfig& config, const LoadedModel& model) {
  const bool custom = !config.chat_template.empty();
  const std::string& source = custom ? config.chat_template : model.chat_template();
  if (source.empty()) {
    PODSERVE_LOG(kWarning) << "The model has no chat template: /v1/chat/completions will answer 400 "
                              "(give one with --chat-template or CUSTOM_CHAT_TEMPLATE)";
    return std::unique_ptr<openai::PromptRenderer>();
  }
  const Tokenizer& tok = model.tokenizer();
  std::string bos = tok.bos_id() >= 0 ? tok.token_text(tok.bos_id()) : "";
  std::string eos = tok.eos_id() >= 0 ? tok.token_text(tok.eos_id()) : "";
  jinja::RenderOptions budget;
  budget.max_steps = config.max_template_steps;
  budget.max_output_bytes = config.max_prompt_bytes;
  budget.max_milliseconds = config.max_template_ms;
  auto renderer = openai::PromptRenderer::create(source, std::move(bos), std::move(eos), budget);
  if (renderer.ok()) return renderer;
  if (custom) return invalid_argument("Invalid chat template: " + renderer.status().message());
  PODSERVE_LOG(kWarning) << "The model's chat template cannot be parsed (" << renderer.status().message()
                         << "): /v1/chat/completions will answer 400";
  return std::unique_ptr<openai::PromptRenderer>();
}

/// Loads a resolved model (or draft model) with the server's load settings.
Result<std::unique_ptr<LoadedModel>> load_resolved(const ServerConfig& config, const ModelSource& source,
                                                   const std::string& what) {
  Result<std::unique_ptr<LoadedModel>> model =
      load_model(source.model_path, LoadOptions{.num_threads = config.compute_threads, .dtype = config.dtype,
                                                .tokenizer_path = source.tokenizer_path,
                                                .load_format = config.load_format, .device = config.device});
  if (!model.ok()) {
    return Status(model.status().code(), "Cannot load " + what + " " + source.model_path + ": " + model.status().message());
  }
  return model;
}

}  // namespace

ServingStack::~ServingStack() {
  if (engine) engine->shutdown();
}

Result<ServingStack> build_serving_stack(const ServerConfig& config) {
  PODSERVE_LOG(kInfo) << "Loading model " << config.model << " (served as " << config.served_model_name << ")";
  // A Hub repo id becomes a path in the Hugging Face cache (downloaded there first when needed).
  PODSERVE_ASSIGN_OR_RETURN(ModelSource source, resolve_model_source(config, process_env()));
  if (config.quantization == "gguf" && !source.model_path.ends_with(".gguf")) {
    // vLLM: the quantization argument must match the model's own.
    return invalid_argument("QUANTIZATION=gguf, but the model " + source.model_path + " is not a GGUF file");
  }
  Result<std::unique_ptr<LoadedModel>> model = load_resolved(config, source, "model");
  if (!model.ok()) return model.status();
  auto renderer = make_renderer(config, *model.value());
  if (!renderer.ok()) return renderer.status();
  EngineConfig engine_config;
  engine_config.max_model_len = config.max_model_len;
  engine_config.max_num_seqs = config.max_num_seqs;
  engine_config.max_num_batched_tokens = config.max_num_batched_tokens;
  engine_config.enable_chunked_prefill = config.enable_chunked_prefill;
  engine_config.enable_prefix_caching = config.enable_prefix_caching;
  engine_config.block_size = config.block_size;
  engine_config.kv_cache_memory_gib = config.kv_cache_memory_gib;
  engine_config.num_kv_blocks = static_cast<int>(config.device.num_gpu_blocks_override);
  engine_config.max_logprobs = config.max_logprobs;
  engine_config.seed = config.seed;
  engine_config.log_stats = !config.disable_log_stats;
  engine_config.max_queued_requests = config.max_queued_requests;
  engine_config.priority_scheduling = config.priority_scheduling;
  engine_config.speculative = config.speculative;
  engine_config.max_loras = config.enable_lora ? config.max_loras : 0;
  engine_config.max_cpu_loras = config.max_cpu_loras;
  engine_config.max_lora_rank = config.max_lora_rank;
  std::unique_ptr<LoadedModel> draft;
  if (config.speculative.enabled() && config.speculative.method == SpeculativeMethod::kDraftModel) {
    // The draft is found as the model is (a file, a directory or a Hub repo id) and shares its tokenizer.
    ServerConfig draft_config = config;
    draft_config.model = config.speculative.draft_model;
    draft_config.revision.clear();
    draft_config.gguf_file.clear();
    draft_config.tokenizer.clear();
    PODSERVE_ASSIGN_OR_RETURN(ModelSource draft_source, resolve_model_source(draft_config, process_env()));
    PODSERVE_LOG(kInfo) << "Loading draft model " << draft_source.model_path;
    PODSERVE_ASSIGN_OR_RETURN(draft, load_resolved(config, draft_source, "the draft model"));
  }
  // LoRA adapters are read before the engine takes the model: each is checked against its shapes.
  std::vector<ServedLora> loras;
  LoraLoader load_lora;  // reads adapters for this model (paths or Hub repo ids): start-up and the load route
  if (config.enable_lora) {
    if (!model.value()->lm().supports_lora()) {
      return unimplemented("ENABLE_LORA: this model does not apply LoRA adapters (podserve runs them on GGUF and "
                           "safetensors models of llama, mistral, qwen2/3, gemma and phi3; not on Mixtral's expert "
                           "layers)");
    }
    PODSERVE_ASSIGN_OR_RETURN(hub::HubSettings hub_settings, hub_settings_for(config, process_env()));
    load_lora = make_lora_loader(model.value()->lm().config(), config.max_lora_rank, hub_settings);
    PODSERVE_ASSIGN_OR_RETURN(loras, load_lora_modules(config.lora_modules, model.value()->lm(), load_lora,
                                                       config.served_model_name));
    for (const ServedLora& l : loras) PODSERVE_LOG(kInfo) << "LoRA adapter " << l.name << " from " << l.root;
  }
  Result<std::unique_ptr<Engine>> engine = Engine::create(std::move(model).value(), engine_config, std::move(draft));
  if (!engine.ok()) {
    return Status(engine.status().code(), "Cannot start the engine: " + engine.status().message());
  }
  openai::ServiceOptions options;
  options.served_model_name = config.served_model_name;
  options.model_root = config.model;
  options.response_role = config.response_role;
  options.api_keys = config.api_keys;
  options.max_logprobs = config.max_logprobs;
  options.model_aliases = config.served_model_aliases;
  options.loras = std::move(loras);
  options.allow_runtime_lora_updating = config.allow_runtime_lora_updating;
  PODSERVE_ASSIGN_OR_RETURN(options.lora_resolver_dir,
                            lora_resolver_dir(config.vllm_plugins, config.lora_resolver_cache_dir,
                                              config.lora_resolver_hf_repos));
  if (config.enable_lora) {
    options.max_loras = config.max_loras;
    options.load_lora = std::move(load_lora);
  }
  options.enable_auto_tool_choice = config.enable_auto_tool_choice;
  options.tool_call_parser = config.tool_call_parser;
  options.reasoning_parser = config.reasoning_parser;
  options.exclude_tools_when_tool_choice_none = config.exclude_tools_when_tool_choice_none;
  options.structured = openai::StructuredOutputsOptions{config.structured_disable_any_whitespace,
                                                        config.structured_enable_in_reasoning};
  PODSERVE_RETURN_IF_ERROR(openai::check_parser_options(options, engine.value()->tokenizer()));
  ServingStack stack;
  stack.engine = std::move(engine).value();
  if (config.structured_backend != "auto" && config.structured_backend != "xgrammar") {
    PODSERVE_LOG(kWarning) << "structured outputs backend '" << config.structured_backend
                           << "': podserve has one structured-output engine, with xgrammar's semantics; it serves "
                              "this backend's requests";
  }
  options.max_prompt_bytes = config.max_prompt_bytes;
  options.max_tokens_per_request = config.max_tokens_per_request;
  options.max_stream_backlog_bytes = config.max_stream_backlog_bytes;
  options.return_tokens_as_token_ids = config.return_tokens_as_token_ids;
  options.enable_prompt_tokens_details = config.enable_prompt_tokens_details;
  options.enable_force_include_usage = config.enable_force_include_usage;
  PODSERVE_ASSIGN_OR_RETURN(options.generation_defaults,
                            load_generation_defaults(config.generation_config, config.override_generation_config,
                                                     source.model_path));
  // The generation config's EOS ids: the tokenizer's own is handled as EOS already; the others become stop ids.
  std::vector<int32_t>& eos_ids = options.generation_defaults.eos_token_ids;
  const Tokenizer& tokenizer = stack.engine->tokenizer();
  std::erase(eos_ids, tokenizer.eos_id());
  for (int32_t id : eos_ids) {
    if (id >= tokenizer.vocab_size()) {
      return invalid_argument("GENERATION_CONFIG: eos_token_id " + std::to_string(id) +
                              " is outside the model's vocabulary of " + std::to_string(tokenizer.vocab_size()));
    }
  }
  if (!options.generation_defaults.log_dict.empty() && config.generation_config != "vllm") {
    PODSERVE_LOG(kWarning) << "Default vLLM sampling parameters have been overridden by "
                           << (config.generation_config == "auto" ? std::string("the model's `generation_config.json`")
                                                                  : config.generation_config)
                           << ": `" << options.generation_defaults.log_dict
                           << "`. If this is not intended, please relaunch vLLM instance with `--generation-config "
                              "vllm`.";
  }
  stack.service = std::make_unique<openai::OpenAiService>(*stack.engine, std::move(options),
                                                          std::move(renderer).value());
  return stack;
}

}  // namespace podserve
