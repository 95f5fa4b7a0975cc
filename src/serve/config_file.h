// `vllm serve --config FILE` / the worker's VLLM_CONFIG_FILE: a YAML mapping of flag names to values, read as vLLM
// reads it (keys with hyphens or underscores, a list for a flag that takes several values). Only the flat form
// vLLM's files use: `key: value`, `key: [a, b]` or a block list of `- item`s, comments, quoted strings; a nested
// value is written as JSON (`compilation-config: {"level": 0}`), which YAML's flow style also is.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace podserve {

/// One setting of the file: `--flag-name` (underscores turned into hyphens) and its value as text.
struct ConfigFileEntry {
  std::string flag;
  std::string value;
};

/// Parses the text of a config file. A list value gives one entry per item, in order. Errors name the line.
Result<std::vector<ConfigFileEntry>> parse_config_file(std::string_view text);

/// Reads and parses `path`; errors name the file.
Result<std::vector<ConfigFileEntry>> read_config_file(const std::string& path);

}  // namespace podserve
