// OpenAI request bodies through the routes of `podserve serve`, up to the engine: JSON parsing, every field's type
// and range checks, the model name, chat_template_kwargs and the chat template render, tokenization, the context
// length and logprob limits, the engine's own admission checks (CaptureEngine runs validate_request), and the
// answer for the one token the engine "generates" (JSON, or SSE when streaming; n choices, echo, logprobs,
// usage). The first input byte picks the route — /v1/chat/completions, /v1/completions, /tokenize, /detokenize —
// and the rest is the body. The answer must be well-formed and never a 5xx (check_answer).
#include "support/fuzz_common.h"
#include "support/openai_stack.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  podserve::fuzz::quiet_logs();
  (void)podserve::fuzz::openai_routes();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* kPaths[] = {"/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize"};
  const char* path = kPaths[data[0] % 4];
  podserve::worker::RouteCall call = podserve::fuzz::openai_routes().start(
      "POST", path, std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  std::vector<podserve::worker::RouteEvent> events;
  while (call.next(&events)) {
  }
  podserve::fuzz::check_answer(events);
  return 0;
}
