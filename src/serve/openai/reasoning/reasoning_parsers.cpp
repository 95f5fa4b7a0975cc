#include <algorithm>

#include "serve/openai/reasoning/reasoning_parser.h"

namespace podserve::openai {

Result<std::unique_ptr<ReasoningParser>> make_deepseek_r1_reasoning_parser(const ReasoningParserContext& ctx);
Result<std::unique_ptr<ReasoningParser>> make_deepseek_v3_reasoning_parser(const ReasoningParserContext& ctx);
Result<std::unique_ptr<ReasoningParser>> make_gptoss_reasoning_parser(const ReasoningParserContext& ctx);
Result<std::unique_ptr<ReasoningParser>> make_granite_reasoning_parser(const ReasoningParserContext& ctx);
Result<std::unique_ptr<ReasoningParser>> make_mistral_reasoning_parser(const ReasoningParserContext& ctx);
Result<std::unique_ptr<ReasoningParser>> make_qwen3_reasoning_parser(const ReasoningParserContext& ctx);

namespace {

struct ReasoningParserEntry {
  std::string_view name;
  ReasoningParserFactory factory;
};

constexpr ReasoningParserEntry kEntries[] = {
    {"deepseek_r1", make_deepseek_r1_reasoning_parser},
    {"deepseek_v3", make_deepseek_v3_reasoning_parser},
    {"granite", make_granite_reasoning_parser},
    {"mistral", make_mistral_reasoning_parser},
    {"openai_gptoss", make_gptoss_reasoning_parser},
    {"qwen3", make_qwen3_reasoning_parser},
};

class ParserReasoningEnd final : public ReasoningEndDetector {
 public:
  explicit ParserReasoningEnd(std::unique_ptr<ReasoningParser> parser) : parser_(std::move(parser)) {}
  bool is_reasoning_end(std::span<const int32_t> ids) const override { return parser_->is_reasoning_end(ids); }
  bool end_token_is_output(int32_t token) const override { return parser_->end_token_is_output(token); }

 private:
  std::unique_ptr<ReasoningParser> parser_;
};

}  // namespace

std::shared_ptr<const ReasoningEndDetector> reasoning_end_detector(std::unique_ptr<ReasoningParser> parser) {
  return std::make_shared<ParserReasoningEnd>(std::move(parser));
}

ReasoningParserFactory find_reasoning_parser(std::string_view name) {
  for (const ReasoningParserEntry& e : kEntries) {
    if (e.name == name) return e.factory;
  }
  return nullptr;
}

std::vector<std::string> reasoning_parser_names() {
  std::vector<std::string> names;
  for (const ReasoningParserEntry& e : kEntries) names.emplace_back(e.name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace podserve::openai
