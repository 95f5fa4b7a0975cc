// vLLM's LoRA resolvers in front of the model check (vllm/entrypoints/serve/engine/serving.py _check_model,
// openai/models/serving.py resolve_lora): with VLLM_ALLOW_RUNTIME_LORA_UPDATING, a request whose `model` is not
// served is looked up by the filesystem resolver (VLLM_LORA_RESOLVER_CACHE_DIR/<name>, a LoRA of this --model);
// an adapter found there is loaded as /v1/load_lora_adapter loads one and served under that name from then on.
// Found but unloadable: vLLM's 400; not found: the usual 404.
#include "base/log.h"
#include "model/lora.h"
#include "serve/lora_config.h"
#include "serve/openai/errors.h"
#include "serve/openai/service.h"

namespace podserve::openai {

http::awaitable<std::optional<ApiError>> OpenAiService::resolve_model(const std::optional<std::string>& model,
                                                                      http::ResponseWriter& writer) {
  std::optional<ApiError> unknown = check_model(model);
  if (!unknown || !options_.allow_runtime_lora_updating || options_.lora_resolver_dir.empty() || !model ||
      model->empty()) {
    co_return unknown;
  }
  const std::string& name = *model;
  std::string dir;
  if (!resolver_accepts(options_.lora_resolver_dir, name, options_.model_root, &dir)) co_return unknown;
  const std::string failed = "LoRA adapter '" + name + "' was found but could not be loaded.";
  if (!options_.load_lora) {  // vLLM's engine refuses LoRA requests when LoRA is off
    PODSERVE_LOG(kWarning) << "Failed to load LoRA '" << name << "' resolved by FilesystemResolver: LoRA is not "
                              "enabled (--enable-lora)";
    co_return bad_request(failed);
  }
  Result<std::shared_ptr<const LoraAdapter>> loaded = co_await load_adapter_off_thread(dir, writer);
  if (!loaded.ok()) {
    PODSERVE_LOG(kWarning) << "Failed to load LoRA '" << name << "' resolved by FilesystemResolver: "
                           << loaded.status().message();
    co_return bad_request(failed);
  }
  const ServedLora entry{name, dir, options_.served_model_name, nullptr, loras_.id_for(name), loaded.value()->path};
  if (loras_.put(entry, /*replace=*/false)) {  // false: a concurrent request resolved the same name first
    engine_.add_lora(LoraRef{entry.id, name, entry.dir}, std::move(loaded).value());
    PODSERVE_LOG(kInfo) << "Resolved and loaded LoRA adapter '" << name << "' using FilesystemResolver";
  }
  co_return std::nullopt;
}

}  // namespace podserve::openai
