#include "support/openai_stack.h"

#include <boost/json/parse.hpp>

#include "io/gguf.h"
#include "model/gguf_vocab.h"
#include "serve/openai/prompt_renderer.h"
#include "support/fuzz_common.h"

namespace podserve::fuzz {
namespace {

/// The model's context length is 8192; serving it with 2048 keeps prompts that overflow it cheap to find.
constexpr int kMaxModelLen = 2048;

std::unique_ptr<OpenAiStack> build() {
  auto stack = std::make_unique<OpenAiStack>();
  auto file = GgufFile::open(model_path());
  if (!file.ok()) fail("set-up: cannot open the SmolLM2 GGUF", file.status().to_string());
  auto vocab = vocab_from_gguf(*file);
  if (!vocab.ok()) fail("set-up: SmolLM2 vocabulary", vocab.status().to_string());
  auto tok = Tokenizer::create(*vocab);
  if (!tok.ok()) fail("set-up: SmolLM2 tokenizer", tok.status().to_string());
  stack->tokenizer = std::make_unique<Tokenizer>(std::move(tok).value());
  auto template_text = file->get_string("tokenizer.chat_template");
  const std::string chat_template = template_text.ok() ? *template_text : "";
  const Tokenizer& t = *stack->tokenizer;
  auto renderer = openai::PromptRenderer::create(chat_template, t.token_text(t.bos_id()), t.token_text(t.eos_id()));
  if (!renderer.ok()) fail("set-up: SmolLM2 chat template", renderer.status().to_string());
  stack->engine = std::make_unique<CaptureEngine>(t, chat_template, kMaxModelLen);
  openai::ServiceOptions options;
  options.served_model_name = std::string(kServedModel);
  options.model_root = model_path();
  stack->service = std::make_unique<openai::OpenAiService>(*stack->engine, options, std::move(renderer).value());
  return stack;
}

bool is_json(std::string_view text, boost::json::value* out = nullptr) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (out != nullptr) *out = std::move(v);
  return !ec;
}

}  // namespace

http::Router OpenAiStack::router() const {
  http::Router r;
  service->register_routes(r);
  return r;
}

const OpenAiStack& openai_stack() {
  static const std::unique_ptr<OpenAiStack> stack = build();
  return *stack;
}

worker::InProcessRoutes& openai_routes() {
  static worker::InProcessRoutes routes(openai_stack().router(), 1);
  return routes;
}

void check_answer(const std::vector<worker::RouteEvent>& events) {
  using worker::RouteEvent;
  if (events.empty()) fail("a route answered nothing");
  const RouteEvent& first = events.front();
  if (first.status >= 500) fail("a route answered " + std::to_string(first.status), first.body);
  if (first.kind == RouteEvent::kResponse) {
    if (events.size() != 1) fail("a route wrote after its response");
    boost::json::value body;
    if (!first.body.empty() && !is_json(first.body, &body)) fail("a response body is not JSON", first.body);
    if (first.status >= 400) {
      const boost::json::object* o = body.if_object();
      const boost::json::value* e = o ? o->if_contains("error") : nullptr;
      if (!e || !e->is_object() || !e->as_object().contains("message")) {
        fail("an error body is not OpenAI's {\"error\": {\"message\", ...}}", first.body);
      }
    }
    return;
  }
  if (first.kind != RouteEvent::kStreamBegin) fail("a route's answer does not start with a response or a stream");
  std::string sse;
  for (size_t i = 1; i < events.size(); ++i) {
    if (events[i].kind == RouteEvent::kData) sse += events[i].body;
    else if (events[i].kind != RouteEvent::kStreamEnd || i + 1 != events.size()) fail("a stream is not data then its end");
  }
  if (events.back().kind != RouteEvent::kStreamEnd) fail("a stream was not ended");
  bool done = false;
  for (size_t at = 0; at < sse.size();) {
    const size_t end = sse.find("\n\n", at);
    if (end == std::string::npos) fail("an SSE event is not terminated by a blank line", sse.substr(at));
    std::string_view event(sse.data() + at, end - at);
    at = end + 2;
    if (done) fail("an SSE event after [DONE]", event);
    if (!event.starts_with("data: ")) fail("an SSE event is not `data: ...`", event);
    event.remove_prefix(6);
    if (event == "[DONE]") done = true;
    else if (!is_json(event)) fail("an SSE event is not JSON", event);
  }
  if (!done) fail("a stream did not end with data: [DONE]", sse);
}

}  // namespace podserve::fuzz
