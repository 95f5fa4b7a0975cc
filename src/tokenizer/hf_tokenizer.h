// A Hugging Face model directory's tokenizer: tokenizer.json, tokenizer_config.json (special tokens,
// add_bos_token/add_eos_token, chat templates), chat_template.jinja and generation_config.json (bos/eos ids,
// default sampling), read the way transformers reads them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "tokenizer/tokenizer.h"

namespace podserve {

/// generation_config.json's sampling defaults; unset fields were absent.
struct GenerationDefaults {
  std::optional<bool> do_sample;
  std::optional<double> temperature, top_p, min_p, repetition_penalty;
  std::optional<int64_t> top_k, max_new_tokens;
};

struct NamedChatTemplate {
  std::string name;    // "default", "tool_use", ...
  std::string source;  // Jinja text
};

struct HfTokenizerConfig {
  std::string bos_token, eos_token, pad_token, unk_token;  // "" when null or absent
  std::optional<bool> add_bos_token, add_eos_token;
  std::string tokenizer_class;  // "" when absent
  std::vector<NamedChatTemplate> chat_templates;  // chat_template.jinja, else tokenizer_config's string or list
  std::vector<int32_t> eos_token_ids;  // stop ids: generation_config's eos_token_id(s), then the tokenizer's eos
  int32_t bos_token_id = -1;           // generation_config's, else the tokenizer's
  GenerationDefaults generation;

  /// The template used by default: the one named "default", else the only one; "" if none.
  std::string default_chat_template() const;
  /// The template named `name`, or nullptr.
  const NamedChatTemplate* chat_template(std::string_view name) const;
};

struct HfTokenizer {
  Tokenizer tokenizer;
  HfTokenizerConfig config;
};

/// Loads from a model directory (its tokenizer.json plus the optional config files) or from a path to a
/// tokenizer.json (config files are looked up beside it). Every problem is an error naming the file.
Result<HfTokenizer> load_hf_tokenizer(const std::string& path);

/// Reads just a tokenizer_config.json + generation_config.json pair in `dir` (missing files are fine).
Result<HfTokenizerConfig> load_hf_tokenizer_config(const std::string& dir);

}  // namespace podserve
