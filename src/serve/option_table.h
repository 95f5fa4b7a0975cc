// The option table of `podserve serve`: each flag, the env vars that feed it and the setter that applies a value
// to ServerConfig. config.cpp collects flags, env vars and config files and applies them through this table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "serve/config.h"

namespace podserve::option_table {

using Setter = Status (*)(ServerConfig& config, const std::string& value, const std::string& source);

/// One setting: its flag, the env vars that feed it (first set one wins), and how to apply a value.
struct Option {
  std::string_view flag;
  std::vector<std::string_view> env;
  std::string_view value_name;
  std::string_view help;
  Setter apply;
  bool repeatable = false;
  bool is_switch = false;  // a boolean flag: `--flag` alone means true, `--flag=false` is also accepted
  bool negatable = false;  // `--no-flag` means false (argparse's BooleanOptionalAction)
};

/// Every option, in `--help` order.
const std::vector<Option>& options();
/// The option whose flag is `flag`; null if none.
const Option* find_option(std::string_view flag);
/// vLLM's speculative_config from SPECULATIVE_CONFIG, else assembled from the per-field variables as the G1 worker
/// does.
Status resolve_speculative(ServerConfig& c);

}  // namespace podserve::option_table
