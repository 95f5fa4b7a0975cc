// The Jinja interpreter on a stranger's template and request: the input is a template source and, after
// kPartSeparator, a JSON object — its "messages" (if a list) are the conversation, the whole object is the
// request's chat_template_kwargs. The template is parsed (lexer, parser, name checks) and rendered the way a chat
// request renders it (apply_chat_template: the context transformers builds, the kwargs merged, the product's
// default render budget of steps, output size and call depth). Every error is a pass, budget errors included; a
// crash, a sanitizer report or a render slower than libFuzzer's -timeout is not.
#include <boost/json/parse.hpp>

#include "chat/chat_template.h"
#include "chat/json_value.h"
#include "support/fuzz_common.h"

namespace {

/// The conversation used when the JSON part has no "messages" list: system, user, an assistant tool call, its
/// result, and a final user turn (the shapes real templates branch on).
const boost::json::value& default_messages() {
  static const boost::json::value v = boost::json::parse(R"([
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
      "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
    {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]}])");
  return v;
}

const boost::json::value& default_tools() {
  static const boost::json::value v = boost::json::parse(R"([{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  podserve::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podserve;
  const auto parts = fuzz::split_input(data, size, fuzz::kPartSeparator, 2);
  Result<ChatTemplate> tmpl = ChatTemplate::parse(parts[0]);
  if (!tmpl.ok()) return 0;

  ChatTemplateInputs inputs;
  inputs.bos_token = "<s>";
  inputs.eos_token = "</s>";
  inputs.add_generation_prompt = size % 2 == 0;
  inputs.tools = value_from_json(default_tools()).value();
  const boost::json::value* messages = &default_messages();
  boost::json::value request;
  if (parts.size() > 1) {
    boost::system::error_code ec;
    request = boost::json::parse(parts[1], ec);
    if (ec) request = nullptr;
  }
  boost::json::value request_messages;  // moved out of the request before "messages" is erased from it
  if (request.is_object()) {
    if (boost::json::value* m = request.as_object().if_contains("messages"); m && m->is_array()) {
      request_messages = std::move(*m);
      messages = &request_messages;
      request.as_object().erase("messages");
    }
    Result<jinja::Value> kwargs = value_from_json(request);
    if (!kwargs.ok()) return 0;
    inputs.extra_kwargs = std::move(kwargs).value();
  }
  Result<jinja::Value> msgs = value_from_json(*messages);
  if (!msgs.ok()) return 0;
  inputs.messages = std::move(msgs).value();
  (void)apply_chat_template(*tmpl, inputs);
  return 0;
}
