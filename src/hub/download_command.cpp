#include "hub/download_command.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/log.h"
#include "hub/resolve.h"

namespace podserve {
namespace {

constexpr const char* kHelp =
    "Usage: podserve download MODEL [--revision REV] [--gguf-file FILE.gguf] [--tokenizer REPO]\n"
    "                         [--tokenizer-revision REV]\n\n"
    "Downloads a model from the Hugging Face Hub into the cache shared with huggingface_hub and prints its local\n"
    "path. MODEL is `org/name` or `org/name:FILE.gguf`. Only the files a model needs are fetched: config,\n"
    "tokenizer, chat template and the weights (safetensors over .bin; one .gguf for GGUF repos). Files already in\n"
    "the cache are not fetched again; an interrupted download resumes.\n\n"
    "Environment: MODEL_NAME, MODEL_REVISION, TOKENIZER_NAME, TOKENIZER_REVISION (defaults for the arguments),\n"
    "HF_TOKEN (gated/private models), HF_ENDPOINT, HF_HUB_CACHE / HF_HOME / BASE_PATH (where the cache is),\n"
    "HF_HUB_OFFLINE=1 (only check that the cache has the model), PODSERVE_HUB_MAX_RETRIES (default 5).\n";

std::string env_or(const char* name, std::string fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

}  // namespace

int run_download(int argc, char** argv) {
  hub::ResolveRequest model{env_or("MODEL_NAME"), env_or("MODEL_REVISION"), "", hub::SelectMode::kModel, true};
  hub::ResolveRequest tokenizer{env_or("TOKENIZER_NAME"), env_or("TOKENIZER_REVISION"), "",
                                hub::SelectMode::kTokenizer, true};
  bool have_positional = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    bool ok = true;
    if (arg == "-h" || arg == "--help") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (arg == "--revision") {
      ok = value(&model.revision);
    } else if (arg == "--gguf-file") {
      ok = value(&model.gguf_file);
    } else if (arg == "--tokenizer") {
      ok = value(&tokenizer.spec);
    } else if (arg == "--tokenizer-revision") {
      ok = value(&tokenizer.revision);
    } else if (!arg.starts_with("-") && !have_positional) {
      model.spec = arg;
      have_positional = true;
    } else {
      std::fprintf(stderr, "podserve download: unexpected argument '%s'\n\n%s", arg.c_str(), kHelp);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "podserve download: %s needs a value\n", arg.c_str());
      return 2;
    }
  }
  if (model.spec.empty()) {
    std::fprintf(stderr, "podserve download: no model given (argument or MODEL_NAME)\n\n%s", kHelp);
    return 2;
  }
  auto settings = hub::hub_settings_from_env([](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  });
  if (!settings.ok()) {
    std::fprintf(stderr, "podserve download: %s\n", settings.status().message().c_str());
    return 2;
  }
  for (hub::ResolveRequest* request : {&model, &tokenizer}) {
    if (request->spec.empty()) continue;
    if (hub::is_local_spec(request->spec)) {
      std::fprintf(stderr, "podserve download: '%s' is a local path, not a Hub repo id\n", request->spec.c_str());
      return 2;
    }
    Result<hub::ResolvedModel> resolved = hub::resolve_model(*request, *settings);
    if (!resolved.ok()) {
      PODSERVE_LOG(kError) << "Cannot download " << request->spec << ": " << resolved.status().message();
      return 1;
    }
    std::printf("%s\n", resolved->local_path.c_str());
  }
  return 0;
}

}  // namespace podserve
