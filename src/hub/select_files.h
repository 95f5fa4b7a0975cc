// Which files of a repo a model needs: for a transformers-style repo the config, generation config, tokenizer
// files, chat template and the weights in the preferred format (safetensors, with its index and shards, over
// PyTorch .bin); for a GGUF repo the one .gguf asked for (with its split parts). The same rules pick files from a
// Hub listing before a download and from a cached snapshot when offline.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace podserve::hub {

struct Selection {
  std::vector<std::string> files;  // repo paths to fetch (optional ones only if the repo has them)
  std::string weights_index;       // "" or the *.index.json whose shards must be fetched too, once it is local
  std::string gguf_file;           // "" = the model is the snapshot directory; else this file in it
};

/// kModel: config, tokenizer and weights (or the .gguf). kTokenizer: tokenizer files only. kConfig: config and
/// tokenizer files without weights (LOAD_FORMAT=dummy builds the model from config.json). kLoraAdapter: a PEFT
/// adapter's adapter_config.json and adapter_model.safetensors.
enum class SelectMode { kModel, kTokenizer, kConfig, kLoraAdapter };

/// Picks from `repo_files` (every path in the repo). `gguf_file` non-empty: that file (and its split parts).
/// Errors name the repo and, for ambiguous or missing GGUF files, the candidates.
Result<Selection> select_files(const std::string& repo_id, const std::vector<std::string>& repo_files,
                               const std::string& gguf_file, SelectMode mode);

/// The shard file names of a local *.index.json (its "weight_map" values), validated as repo paths.
Result<std::vector<std::string>> shards_from_index(const std::string& index_file, const std::string& index_repo_path);

}  // namespace podserve::hub
