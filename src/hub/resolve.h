// MODEL_NAME → a local path the loader can open: an existing file or directory as is; else a Hub repo id, found
// in the cache (HF_HUB_CACHE / HF_HOME / BASE_PATH-derived, as the RunPod worker sets them) or downloaded there
// unless HF_HUB_OFFLINE=1. The result is a .gguf file or a snapshot directory (config + tokenizer + weights).
#pragma once

#include <string>

#include "base/status.h"
#include "hub/select_files.h"
#include "hub/settings.h"

namespace podserve::hub {

struct ResolveRequest {
  std::string spec;        // MODEL_NAME / --model: a path, `org/name` or `org/name:file.gguf`
  std::string revision;    // "" = main
  std::string gguf_file;   // --gguf-file; wins over a `:file.gguf` in the spec
  SelectMode mode = SelectMode::kModel;
  bool check_hub = false;  // ask the Hub even when the cache has the model (podserve download)
};

struct ResolvedModel {
  std::string local_path;  // the .gguf file or the snapshot directory
  bool from_hub = false;   // false: `spec` was a local path
  std::string repo_id;
  std::string commit;
};

/// True when `spec` names something on disk, or is written as a path (absolute, ./, ../, ~, or a .gguf name
/// without a repo part), so a typo in a path is reported as a missing file rather than looked up on the Hub.
bool is_local_spec(const std::string& spec);

/// Resolves as described above. Errors name the model, the cache directories searched and, for Hub failures,
/// the URL (never the token).
Result<ResolvedModel> resolve_model(const ResolveRequest& request, const HubSettings& settings);

}  // namespace podserve::hub
