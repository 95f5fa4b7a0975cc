// Where the Hub is, who we are on it and where its files are cached: read from the same environment variables
// as huggingface_hub (and as the RunPod vLLM worker sets them), so podserve and Python tools share one cache.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace podserve::hub {

/// Looks up an environment variable (nullopt when unset); injected so tests need not touch the real environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

inline constexpr std::string_view kDefaultEndpoint = "https://huggingface.co";

struct HubSettings {
  std::string endpoint = std::string(kDefaultEndpoint);  // HF_ENDPOINT, no trailing '/'
  std::string token;             // HF_TOKEN / HUGGING_FACE_HUB_TOKEN / token file; "" = anonymous; never logged
  std::string cache_dir;         // where downloads go (huggingface_hub's HF_HUB_CACHE)
  std::vector<std::string> lookup_dirs;  // cache_dir first, then other caches to search (BASE_PATH-derived)
  bool offline = false;          // HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE: no network at all
  double metadata_timeout_s = 10;  // HF_HUB_ETAG_TIMEOUT: HEAD and API calls
  double stall_timeout_s = 10;     // HF_HUB_DOWNLOAD_TIMEOUT: a download with no byte for this long is retried
  int max_workers = 8;             // parallel file downloads (snapshot_download's default)
  int max_retries = 5;             // PODSERVE_HUB_MAX_RETRIES: per request, on connection errors, 429 and 5xx
  double retry_base_s = 1;         // back-off: base * 2^attempt, capped at 8 s
};

/// huggingface_hub's truthy values: 1/ON/YES/TRUE, any case.
bool env_true(const std::optional<std::string>& value);

/// Reads the settings. The cache is, first match: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, $HF_HOME/hub,
/// $BASE_PATH/huggingface-cache/hub (the RunPod worker's network-volume layout), $XDG_CACHE_HOME/huggingface/hub,
/// ~/.cache/huggingface/hub. Errors name the variable (e.g. an HF_ENDPOINT that is not http(s)://).
Result<HubSettings> hub_settings_from_env(const EnvLookup& env);

}  // namespace podserve::hub
