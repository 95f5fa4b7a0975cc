// What a generation request asks for and what the engine reports back. Plain C++ types only: the serve
// layer parses JSON into these, the engine never sees JSON or HTTP.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/status.h"

namespace podserve {

/// Sampling and stopping parameters of one request (vLLM's SamplingParams subset implemented so far).
struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  float top_p = 1.0f;        // (0, 1]
  int top_k = 0;             // 0 or -1 = off
  std::optional<uint64_t> seed;
  int max_tokens = 16;       // >= 1 (already clamped to the context by the caller)
  int min_tokens = 0;
  std::vector<std::string> stop;          // stop strings, matched across token boundaries
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  bool include_stop_str_in_output = false;
  bool skip_special_tokens = true;
};

enum class FinishReason { kNone, kStop, kLength, kAbort, kError };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "abort", "error"; nullptr for kNone

struct GenerationRequest {
  std::string request_id;
  std::vector<int32_t> prompt_tokens;
  SamplingParams params;
};

/// One update for a request, delivered in order. The last update has finished == true.
struct GenerationOutput {
  std::string text_delta;              // new detokenized text (valid UTF-8, stop strings removed)
  std::vector<int32_t> token_ids;      // tokens produced since the previous update
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;
  /// What stopped it: the matched stop string or stop token id; monostate for EOS / length.
  std::variant<std::monostate, std::string, int32_t> stop_reason;
  int prompt_tokens = 0;
  int completion_tokens = 0;           // total so far
  Status error;                        // non-ok only with finish_reason == kError
};

/// Called on the engine thread; must be fast and must not call back into the engine synchronously.
using OutputCallback = std::function<void(GenerationOutput)>;

}  // namespace podserve
