#include "serve/model_source.h"

#include "hub/resolve.h"

namespace podserve {

Result<hub::HubSettings> hub_settings_for(const ServerConfig& config, const EnvLookup& env) {
  PODSERVE_ASSIGN_OR_RETURN(hub::HubSettings settings, hub::hub_settings_from_env(env));
  if (!config.download_dir.empty()) {
    // vLLM's --download-dir: the cache huggingface_hub downloads into (cache_dir=) and loads from.
    settings.cache_dir = config.download_dir;
    settings.lookup_dirs.insert(settings.lookup_dirs.begin(), config.download_dir);
  }
  return settings;
}

Result<ModelSource> resolve_model_source(const ServerConfig& config, const EnvLookup& env) {
  PODSERVE_ASSIGN_OR_RETURN(hub::HubSettings settings, hub_settings_for(config, env));
  ModelSource source;
  // LOAD_FORMAT=dummy needs only config.json and the tokenizer: no weights are fetched.
  const hub::SelectMode mode =
      config.load_format == LoadFormat::kDummy ? hub::SelectMode::kConfig : hub::SelectMode::kModel;
  hub::ResolveRequest model{config.model, config.revision, config.gguf_file, mode, false};
  PODSERVE_ASSIGN_OR_RETURN(hub::ResolvedModel resolved, hub::resolve_model(model, settings));
  source.model_path = resolved.local_path;
  if (!config.tokenizer.empty() && config.tokenizer != config.model) {
    hub::ResolveRequest tokenizer{config.tokenizer, config.tokenizer_revision, "", hub::SelectMode::kTokenizer,
                                  false};
    PODSERVE_ASSIGN_OR_RETURN(hub::ResolvedModel tok, hub::resolve_model(tokenizer, settings));
    source.tokenizer_path = tok.local_path;
  }
  return source;
}

}  // namespace podserve
