// Chat messages -> prompt text, through the model's (or the configured) Jinja chat template. Parsed once at
// startup; render() is const and called concurrently from the HTTP threads.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "chat/evaluator.h"
#include "serve/openai/protocol.h"

namespace podserve {
class ChatTemplate;
}

namespace podserve::openai {

/// continue_final_message: cuts a prompt rendered without a generation prompt right after the final message's
/// content, so the model continues that message (transformers' apply_chat_template rule, whitespace included).
/// InvalidArgument when the content does not appear in the rendered text.
Result<std::string> cut_after_final_message(const std::string& rendered, const std::string& final_content);

class PromptRenderer {
 public:
  /// Parses `source`. A syntax error is InvalidArgument with the template's own location message. Every
  /// render runs under `budget` (steps, output bytes = the largest prompt, time).
  static Result<std::unique_ptr<PromptRenderer>> create(const std::string& source, std::string bos_token,
                                                        std::string eos_token, jinja::RenderOptions budget = {});
  ~PromptRenderer();

  /// Renders the conversation. Template errors (raise_exception, undefined values) are InvalidArgument; a
  /// render over its budget is ResourceExhausted. `tools` (the request's tool dicts, vLLM's model_dump()) may be
  /// null: the template sees `tools` as None.
  Result<std::string> render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                             const boost::json::object& kwargs, const boost::json::array* tools = nullptr) const;

 private:
  PromptRenderer(std::unique_ptr<ChatTemplate> tmpl, std::string bos, std::string eos, jinja::RenderOptions budget);
  std::unique_ptr<ChatTemplate> template_;
  jinja::RenderOptions budget_;
  std::string bos_token_;
  std::string eos_token_;
};

}  // namespace podserve::openai
