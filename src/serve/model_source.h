// Where the model comes from: `--model` / MODEL_NAME as a local path, or a Hugging Face repo id resolved through
// the shared Hub cache (downloaded there unless HF_HUB_OFFLINE=1). See hub/resolve.h.
#pragma once

#include <string>

#include "base/status.h"
#include "hub/settings.h"
#include "serve/config.h"

namespace podserve {

struct ModelSource {
  std::string model_path;      // a .gguf file or a model directory
  std::string tokenizer_path;  // "" = the model's own tokenizer
};

/// The Hub settings from the environment, with --download-dir as the cache (vLLM's).
Result<hub::HubSettings> hub_settings_for(const ServerConfig& config, const EnvLookup& env);

/// Resolves config.model (with revision / gguf_file) and config.tokenizer. Errors name the model and what failed
/// (not in the cache while offline, 401/404 from the Hub, a network failure naming the URL).
Result<ModelSource> resolve_model_source(const ServerConfig& config, const EnvLookup& env);

}  // namespace podserve
