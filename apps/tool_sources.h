// Where the tools find a tokenizer / chat template: a model directory (tokenizer.json + configs), a
// tokenizer.json or tokenizer_config.json, a .gguf file, or (templates only) a Jinja file.
#pragma once

#include <optional>
#include <string>

#include "base/status.h"
#include "tokenizer/tokenizer.h"

namespace podserve {

/// A tokenizer from a model directory, a tokenizer.json or a .gguf file.
Result<Tokenizer> load_tool_tokenizer(const std::string& path);

struct ToolTemplate {
  std::string source;
  std::string bos_token, eos_token, unk_token, pad_token;  // the model's, when the path names one
};

/// The chat template at `path`; `name` picks one of several named templates ("" = the default).
Result<ToolTemplate> load_tool_template(const std::string& path, const std::string& name);

}  // namespace podserve
