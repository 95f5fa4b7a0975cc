// `openai` (vLLM's GptOssToolParser): gpt-oss's harmony tool calls. As in vLLM the parser only declares the
// capability: OutputParser hands harmony output, by token ids, to HarmonyOutput (serve/openai/harmony_output.h).
#include "serve/openai/tools/tool_parsers.h"

namespace podserve::openai {
namespace {

class OpenAiToolParser final : public ToolParser {
 public:
  explicit OpenAiToolParser(const ParserVocab* vocab) : vocab_(vocab) {}

  // Not reached: OutputParser parses harmony itself. Text is left as it is.
  ExtractedToolCalls extract(std::string_view output) override {
    return ExtractedToolCalls{false, {}, std::string(output)};
  }
  std::optional<DeltaMessage> extract_streaming(const StreamStep&) override { return std::nullopt; }

  bool supports_required_and_named() const override { return false; }  // structural tag "harmony" in vLLM
  const ParserVocab* harmony_vocab() const override { return vocab_; }

 private:
  const ParserVocab* vocab_;
};

}  // namespace

std::unique_ptr<ToolParser> make_openai_tool_parser(const ToolParserContext& ctx) {
  return std::make_unique<OpenAiToolParser>(ctx.vocab);
}

}  // namespace podserve::openai
