// SPECULATIVE_CONFIG / --speculative-config, read as vLLM 0.32.0's SpeculativeConfig (pydantic, extra="forbid"),
// and the G1 worker's per-field variables (SPECULATIVE_METHOD, NUM_SPECULATIVE_TOKENS, ...) assembled into the
// same dict when SPECULATIVE_CONFIG is unset.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/spec_decode/speculative_config.h"

namespace podserve {

/// Parses the JSON object `json` (named `source` in messages). Unknown keys, wrong types, out-of-range values and
/// methods podserve does not run fail with vLLM's message where it has one. Known keys podserve does not use add
/// to `warnings`.
Result<SpeculativeConfig> parse_speculative_config(const std::string& json, const std::string& source,
                                                   std::vector<std::string>* warnings);

/// The G1 worker's get_speculative_config(): the dict (as JSON text) built from the per-field variables `fields`
/// (variable name -> value, set ones only), or "" when none of SPECULATIVE_METHOD, SPECULATIVE_MODEL and
/// NGRAM_PROMPT_LOOKUP_MAX is set. Numbers of 0 count as unset, as there.
Result<std::string> assemble_g1_speculative_config(const std::map<std::string, std::string>& fields);

}  // namespace podserve
