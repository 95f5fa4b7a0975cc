// Chat templates: a Hugging Face `chat_template` (Jinja) parsed once and rendered per request, the way
// transformers' apply_chat_template renders it (jinja2 ImmutableSandboxedEnvironment, trim_blocks,
// lstrip_blocks, loopcontrols, its own tojson, raise_exception, strftime_now).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "chat/evaluator.h"
#include "chat/value.h"

namespace podserve {

/// A parsed chat template. Immutable after parse; render() is const and safe to call concurrently.
class ChatTemplate {
 public:
  /// Parses a template. Syntax errors are InvalidArgument and name the line and column.
  static Result<ChatTemplate> parse(std::string_view source);

  /// Renders with `context` (a dict of variables) under the default budget.
  Result<std::string> render(const jinja::Value& context) const;
  /// Renders under explicit limits. Runtime errors name the line and column; `raise_exception(msg)` in the
  /// template yields InvalidArgument with exactly `msg`; exceeding a limit is ResourceExhausted.
  Result<std::string> render(const jinja::Value& context, const jinja::RenderOptions& options) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::shared_ptr<const jinja::Program> program_;  // shared so copies of a template are cheap
};

/// What apply_chat_template passes to a template.
struct ChatTemplateInputs {
  jinja::Value messages;            // list of {role, content, ...}
  bool add_generation_prompt = false;
  std::string bos_token, eos_token;
  jinja::Value tools;               // list of tool specs, or none/undefined for no tools
  jinja::Value documents;           // list of documents (RAG templates), or none/undefined
  jinja::Value extra_kwargs;        // dict (chat_template_kwargs) merged into the context, or undefined
};

/// Builds the context like transformers (`messages`, `tools` and `documents` as None when absent,
/// `add_generation_prompt`, the special tokens, then the extra kwargs) and renders it under `budget`. An extra
/// kwarg may override a special token but not messages / tools / documents / add_generation_prompt.
Result<std::string> apply_chat_template(const ChatTemplate& tmpl, const ChatTemplateInputs& inputs,
                                        const jinja::RenderOptions& budget = {});

}  // namespace podserve
