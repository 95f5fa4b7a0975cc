// `podserve download MODEL [--revision R] [--gguf-file F] [--tokenizer T [--tokenizer-revision R]]`: fetches a
// model from the Hub into the shared cache (used to bake a model into an image) and prints its local path.
#pragma once

namespace podserve {

/// argv[0] is "download". Exit codes: 0 done, 1 the download failed, 2 bad usage.
int run_download(int argc, char** argv);

}  // namespace podserve
