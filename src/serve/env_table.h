// `podserve env-table`: every variable podserve answers, from the option table (option_table.cpp) and the rest of the
// vLLM worker's surface (vllm_variables.h), as the README's markdown tables or as JSON for the tests.
#pragma once

#include <string>

namespace podserve {

/// The README's tables (between its env-table markers): the options, then the worker's other variables.
std::string env_table_markdown();

/// One object per variable: {env, flag, status: implemented|warn|refuse|worker|hub, kind, choices, neutral, why}.
std::string env_table_json();

/// `podserve env-table [--json]`.
int run_env_table(int argc, char** argv);

}  // namespace podserve
