#include "serve/openai/prompt_renderer.h"

#include <boost/json/array.hpp>

#include "chat/chat_template.h"
#include "chat/json_value.h"

namespace podserve::openai {

PromptRenderer::PromptRenderer(std::unique_ptr<ChatTemplate> tmpl, std::string bos, std::string eos)
    : template_(std::move(tmpl)), bos_token_(std::move(bos)), eos_token_(std::move(eos)) {}

PromptRenderer::~PromptRenderer() = default;

Result<std::unique_ptr<PromptRenderer>> PromptRenderer::create(const std::string& source, std::string bos_token,
                                                               std::string eos_token) {
  Result<ChatTemplate> parsed = ChatTemplate::parse(source);
  if (!parsed.ok()) return parsed.status();
  auto tmpl = std::make_unique<ChatTemplate>(std::move(parsed).value());
  return std::unique_ptr<PromptRenderer>(
      new PromptRenderer(std::move(tmpl), std::move(bos_token), std::move(eos_token)));
}

Result<std::string> PromptRenderer::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                           const boost::json::object& kwargs) const {
  // Messages go to the template as the dicts transformers would see: role, content, then any other keys.
  boost::json::array list;
  list.reserve(messages.size());
  for (const ChatMessage& m : messages) {
    boost::json::object obj;
    obj["role"] = m.role;
    if (m.content) {
      obj["content"] = *m.content;
    } else {
      obj["content"] = nullptr;
    }
    for (const auto& kv : m.extra) obj[kv.key()] = kv.value();
    list.emplace_back(std::move(obj));
  }
  PODSERVE_ASSIGN_OR_RETURN(jinja::Value message_values, value_from_json(list));
  PODSERVE_ASSIGN_OR_RETURN(jinja::Value kwarg_values, value_from_json(kwargs));
  ChatTemplateInputs inputs;
  inputs.messages = std::move(message_values);
  inputs.add_generation_prompt = add_generation_prompt;
  inputs.bos_token = bos_token_;
  inputs.eos_token = eos_token_;
  inputs.extra_kwargs = std::move(kwarg_values);
  return apply_chat_template(*template_, inputs);
}

}  // namespace podserve::openai
