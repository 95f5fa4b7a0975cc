#include "serve/openai/prompt_renderer.h"

#include <boost/json/array.hpp>

#include "chat/chat_template.h"
#include "chat/json_value.h"

namespace podserve::openai {

PromptRenderer::PromptRenderer(std::unique_ptr<ChatTemplate> tmpl, std::string bos, std::string eos,
                               jinja::RenderOptions budget)
    : template_(std::move(tmpl)), budget_(budget), bos_token_(std::move(bos)), eos_token_(std::move(eos)) {}

PromptRenderer::~PromptRenderer() = default;

Result<std::unique_ptr<PromptRenderer>> PromptRenderer::create(const std::string& source, std::string bos_token,
                                                               std::string eos_token, jinja::RenderOptions budget) {
  Result<ChatTemplate> parsed = ChatTemplate::parse(source);
  if (!parsed.ok()) return parsed.status();
  auto tmpl = std::make_unique<ChatTemplate>(std::move(parsed).value());
  return std::unique_ptr<PromptRenderer>(
      new PromptRenderer(std::move(tmpl), std::move(bos_token), std::move(eos_token), budget));
}

Result<std::string> PromptRenderer::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                           const boost::json::object& kwargs, const boost::json::array* tools) const {
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
  if (tools != nullptr) {
    PODSERVE_ASSIGN_OR_RETURN(inputs.tools, value_from_json(*tools));
  }
  return apply_chat_template(*template_, inputs, budget_);
}

Result<std::string> cut_after_final_message(const std::string& rendered, const std::string& final_content) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  size_t b = 0;
  size_t e = final_content.size();
  while (b < e && is_space(final_content[b])) ++b;
  while (e > b && is_space(final_content[e - 1])) --e;
  const std::string stripped = final_content.substr(b, e - b);
  const size_t loc = rendered.rfind(stripped);
  if (loc == std::string::npos) {
    return invalid_argument(
        "continue_final_message is set but the final message does not appear in the chat after applying the chat "
        "template! This can happen if the chat template deletes portions of the final message. Please verify the "
        "chat template and final message in your chat to ensure they are compatible.");
  }
  const size_t lstripped_len = final_content.size() - b;
  if (rendered.substr(loc, lstripped_len) == final_content) {
    return rendered.substr(0, loc + lstripped_len);  // the template kept the trailing whitespace
  }
  return rendered.substr(0, loc + stripped.size());
}

}  // namespace podserve::openai
