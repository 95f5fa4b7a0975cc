// The rest of the vLLM worker's surface: every variable of the RunPod vLLM worker (and flag of `vllm serve`) that
// podserve's option table (option_table.cpp) does not implement, each with what podserve does with it. Together with
// the option table this is the one list of variables podserve answers; `podserve env-table` prints both as the
// README's table, and a test checks it against the reference's tables.
//
// A row here is superseded by an option of option_table.cpp naming the same variable: when a feature lands (LoRA,
// speculative decoding, the CUDA device settings, ...) its option takes over and the row here stops applying.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace podserve {

/// What podserve does with a variable that has no option of its own.
enum class Treatment {
  kWarn,      // accepted; a value other than a neutral one logs one start-up warning naming it and why
  kRefuse,    // a value other than a neutral one stops start-up: ignoring it would change answers
  kWorker,    // read by `podserve worker` (worker_config.cpp)
  kHub,       // read by the model downloader (hub/settings.cpp)
};

/// How a value is checked before it is looked at (a bad value stops start-up, as vLLM's parser would).
enum class ValueKind { kText, kBool, kInt, kNumber, kJson, kChoice };

struct VariableRule {
  std::string_view env;      // the worker's variable; a trailing '*' names a family (VLLM_*: any other VLLM_ name)
  bool flag;                 // `vllm serve` has the flag --<env lower-cased, '_' -> '-'> (bools also --no-...)
  Treatment treatment;
  ValueKind kind;
  std::string_view choices;  // kChoice: the allowed values, '|'-separated
  std::string_view neutral;  // '|'-separated values that change nothing (vLLM's default); accepted silently
  std::string_view why;      // what podserve does instead; in the warning, the error and the README
};

/// Every row, in the README's order.
std::span<const VariableRule> vllm_variable_rules();

/// `--trust-remote-code` for TRUST_REMOTE_CODE ("" when the row has no flag).
std::string rule_flag(const VariableRule& rule);

/// Checks `value` (set through `source`: the variable, the flag or the config file key) against `rule`: an
/// invalid value or a refused one is InvalidArgument naming `source`; a value to warn about appends the warning.
Status apply_rule(const VariableRule& rule, const std::string& value, const std::string& source,
                  std::vector<std::string>* warnings);

/// The warning for a set variable that matches a family row (`VLLM_*`) but nothing podserve reads.
std::string family_warning(const VariableRule& family, const std::string& name);

}  // namespace podserve
