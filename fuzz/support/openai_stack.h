// The OpenAI routes as `podserve serve` builds them for the default model (the SmolLM2 GGUF's vocabulary and chat
// template), over a CaptureEngine instead of the model, built once per fuzzer process; and the check every
// request target applies to what a route answered.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "serve/http/router.h"
#include "serve/openai/service.h"
#include "support/capture_engine.h"
#include "tokenizer/tokenizer.h"
#include "worker/route_call.h"

namespace podserve::fuzz {

struct OpenAiStack {
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<CaptureEngine> engine;
  std::unique_ptr<openai::OpenAiService> service;  // served as "SmolLM2", no API key
  /// A route table with the service's routes.
  http::Router router() const;
};

/// The process's stack (built on first use).
const OpenAiStack& openai_stack();

/// In-process calls into the process's stack (as `podserve worker` makes them), built on first use.
worker::InProcessRoutes& openai_routes();

/// The served model name requests may name.
inline constexpr std::string_view kServedModel = "SmolLM2";

/// Fails unless a route's answer is well-formed: one response or one stream; never a 5xx; a JSON body (an error
/// in OpenAI's shape for 4xx); every SSE event `data: <JSON>` or `data: [DONE]`, the stream ending with [DONE].
void check_answer(const std::vector<worker::RouteEvent>& events);

}  // namespace podserve::fuzz
