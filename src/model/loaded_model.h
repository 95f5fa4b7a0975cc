// A model ready to run: weights, architecture, tokenizer and chat template, loaded from one file or folder.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "tokenizer/tokenizer.h"

namespace podserve {

class CausalLm;
class GgufFile;

struct LoadOptions {
  bool show_progress = true;  // log loading progress lines
  int num_threads = 0;        // compute threads; 0 = all cores
  std::string dtype = "auto";  // DTYPE / --dtype: auto, float32, bfloat16, float16 (Hugging Face directories)
  // TOKENIZER_NAME / --tokenizer: a Hugging Face tokenizer (directory or tokenizer.json) used instead of the
  // model's own, with its chat template and special tokens. "" = the model's own.
  std::string tokenizer_path{};  // (initialized so `LoadOptions{.x = ...}` does not warn under -Wextra)
};

/// Owns everything loaded from a model file. Move-only.
class LoadedModel {
 public:
  LoadedModel(std::unique_ptr<CausalLm> lm, Tokenizer tokenizer, std::string chat_template);
  ~LoadedModel();
  LoadedModel(const LoadedModel&) = delete;
  LoadedModel& operator=(const LoadedModel&) = delete;

  CausalLm& lm() { return *lm_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  const std::string& chat_template() const { return chat_template_; }
  /// The context length the model was trained for (config / GGUF context_length).
  int context_length() const;
  /// Swaps in a separately given tokenizer and its chat template (TOKENIZER_NAME).
  void replace_tokenizer(Tokenizer tokenizer, std::string chat_template);

 private:
  std::unique_ptr<CausalLm> lm_;
  Tokenizer tokenizer_;
  std::string chat_template_;
};

/// Builds the model of a parsed GGUF file (its vocabulary, chat template and architecture), the second half of
/// load_model for a `.gguf` path; the file may also come from memory (GgufFile::parse, as the fuzz targets do).
Result<std::unique_ptr<LoadedModel>> load_gguf_model(GgufFile file, const LoadOptions& options);

/// Loads a `.gguf` file, or a Hugging Face model directory (config.json, *.safetensors or a sharded index,
/// tokenizer.json and its config files); which one is decided by what `path` is.
/// Errors name the path and the problem: missing file, corrupt file, unsupported architecture or tensor type.
Result<std::unique_ptr<LoadedModel>> load_model(const std::string& path, const LoadOptions& options);

}  // namespace podserve
