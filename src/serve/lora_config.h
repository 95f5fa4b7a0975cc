// LoRA settings as the vLLM worker and `vllm serve` take them: LORA_MODULES / --lora-modules in every form users
// deploy (a JSON list of {name, path, base_model_name}, one JSON object, `name=path`, several items), and the
// start-up load of those adapters for the OpenAI routes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace podserve {

class CausalLm;
struct LoraAdapter;
struct ModelConfig;
namespace hub {
struct HubSettings;
}

/// One adapter to serve: its model name, its directory (or Hub repo id) and the base name its card names as parent
/// ("" = the first served name).
struct LoraModuleSpec {
  std::string name, path, base_model_name;
};

/// Parses one value of LORA_MODULES / --lora-modules (`source` names it in messages): a JSON array of objects, a
/// JSON object, or whitespace-separated items each `name=path` or a JSON object. Unknown keys and missing
/// name/path are errors (vLLM: "Invalid fields for --lora-modules: ...").
Result<std::vector<LoraModuleSpec>> parse_lora_modules(std::string_view value, const std::string& source);

/// An adapter as the OpenAI routes serve it: `root` as given (a directory or a Hub repo id), `dir` where its
/// files are; `id` keys the engine's adapter table (engine/lora_table.h), which holds the weights once `adapter`
/// is handed over.
struct ServedLora {
  std::string name, root, parent;
  std::shared_ptr<const LoraAdapter> adapter;
  int64_t id = 0;
  std::string dir;
};

/// Reads one adapter for the served model from a local directory or, as vLLM's get_adapter_absolute_path, a Hub
/// repo id resolved through the Hub cache (downloaded there unless HF_HUB_OFFLINE=1). NotFound when neither
/// has it.
using LoraLoader = std::function<Result<std::shared_ptr<const LoraAdapter>>(const std::string& path)>;
LoraLoader make_lora_loader(const ModelConfig& config, int max_lora_rank, const hub::HubSettings& settings);

/// Loads every adapter of `specs` with `load` for `lm`, whose served name is `served_name`. Errors name the
/// adapter ("Loading lora NAME failed: ..."): a model that cannot apply adapters, a duplicate name, the
/// adapter's own problems (model/lora.h).
Result<std::vector<ServedLora>> load_lora_modules(const std::vector<LoraModuleSpec>& specs, const CausalLm& lm,
                                                  const LoraLoader& load, const std::string& served_name);

/// vLLM's LoRA resolver plugins at start-up (vllm/plugins/lora_resolvers): the filesystem resolver's directory when
/// VLLM_PLUGINS (`plugins`, nullopt = every plugin) loads lora_filesystem_resolver and VLLM_LORA_RESOLVER_CACHE_DIR
/// (`cache_dir`) is set, else "". A cache_dir that is not a directory stops start-up with vLLM's message. The Hub
/// resolver (VLLM_LORA_RESOLVER_HF_REPO_LIST, `hf_repos`) is not implemented: a warning says so.
Result<std::string> lora_resolver_dir(const std::optional<std::string>& plugins, const std::string& cache_dir,
                                      const std::string& hf_repos);

/// What vLLM's FilesystemResolver accepts: `dir` holds an adapter_config.json with peft_type "LORA" whose
/// base_model_name_or_path is `base_model` (the --model value as given). False for anything else, including names
/// that would leave the resolver's directory (`..`, absolute paths; vLLM joins them as they are).
bool resolver_accepts(const std::string& cache_dir, const std::string& name, const std::string& base_model,
                      std::string* dir);

}  // namespace podserve
