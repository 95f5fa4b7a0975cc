#include "chat/chat_template.h"

#include "chat/parser.h"

namespace podserve {

Result<ChatTemplate> ChatTemplate::parse(std::string_view source) {
  PODSERVE_ASSIGN_OR_RETURN(std::unique_ptr<jinja::Program> program, jinja::parse_template(source));
  ChatTemplate t;
  t.source_ = std::string(source);
  t.program_ = std::move(program);
  return t;
}

Result<std::string> ChatTemplate::render(const jinja::Value& context) const {
  return render(context, jinja::RenderOptions{});
}

Result<std::string> ChatTemplate::render(const jinja::Value& context, const jinja::RenderOptions& options) const {
  if (!program_) return internal_error("ChatTemplate used before parse()");
  jinja::Evaluator evaluator(options);
  return evaluator.render(*program_, context);
}

Result<std::string> apply_chat_template(const ChatTemplate& tmpl, const ChatTemplateInputs& inputs,
                                        const jinja::RenderOptions& budget) {
  auto ctx = std::make_shared<jinja::Object>();
  ctx->set("messages", inputs.messages);
  ctx->set("tools", inputs.tools.is_undefined() ? jinja::Value::none() : inputs.tools);
  ctx->set("documents", inputs.documents.is_undefined() ? jinja::Value::none() : inputs.documents);
  ctx->set("add_generation_prompt", jinja::Value(inputs.add_generation_prompt));
  ctx->set("bos_token", jinja::Value(inputs.bos_token));
  ctx->set("eos_token", jinja::Value(inputs.eos_token));
  if (inputs.extra_kwargs.is_dict()) {
    for (const auto& [key, value] : inputs.extra_kwargs.as_object().entries) {
      if (key == "messages" || key == "tools" || key == "documents" || key == "add_generation_prompt") {
        return invalid_argument("chat_template_kwargs may not set '" + key + "'");
      }
      ctx->set(key, value);
    }
  } else if (!inputs.extra_kwargs.is_undefined() && !inputs.extra_kwargs.is_none()) {
    return invalid_argument("chat_template_kwargs must be an object");
  }
  return tmpl.render(jinja::Value::object(std::move(ctx)), budget);
}

}  // namespace podserve
