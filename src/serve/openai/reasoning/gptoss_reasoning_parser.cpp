// openai_gptoss (vLLM's GptOssReasoningParser): gpt-oss's harmony analysis channel. Like vLLM's it only tells
// that reasoning never holds back structured outputs; OutputParser hands the output, by token ids, to
// HarmonyOutput (serve/openai/harmony_output.h), which splits reasoning from content.
#include "serve/openai/harmony_output.h"
#include "serve/openai/reasoning/reasoning_parser.h"

namespace podserve::openai {
namespace {

class GptOssReasoningParser final : public ReasoningParser {
 public:
  explicit GptOssReasoningParser(const ParserVocab* vocab) : vocab_(vocab) {}

  // Not reached through OutputParser (harmony is parsed by tokens there).
  ReasoningSplit extract(std::string_view output) const override { return {std::nullopt, std::string(output)}; }
  std::optional<DeltaMessage> extract_streaming(const StreamStep&) override { return std::nullopt; }

  bool is_reasoning_end(std::span<const int32_t>) const override { return true; }
  bool is_reasoning_end_streaming(std::span<const int32_t>, std::span<const int32_t>) const override { return true; }
  std::vector<int32_t> extract_content_ids(std::span<const int32_t> ids) const override {
    return {ids.begin(), ids.end()};
  }
  int count_reasoning_tokens(std::span<const int32_t>) const override { return 0; }
  const ParserVocab* harmony_vocab() const override { return vocab_; }

 private:
  const ParserVocab* vocab_;
};

}  // namespace

Result<std::unique_ptr<ReasoningParser>> make_gptoss_reasoning_parser(const ReasoningParserContext& ctx) {
  if (ctx.vocab == nullptr || !HarmonyTokens::from(*ctx.vocab)) {
    return invalid_argument(
        "the harmony tokens <|start|>, <|end|>, <|message|>, <|channel|>, <|call|> and <|return|> are not all single "
        "tokens of the vocabulary");
  }
  return std::unique_ptr<ReasoningParser>(std::make_unique<GptOssReasoningParser>(ctx.vocab));
}

}  // namespace podserve::openai
