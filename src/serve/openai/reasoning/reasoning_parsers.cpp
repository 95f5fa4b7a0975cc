#include <algorithm>

#include "serve/openai/reasoning/reasoning_parser.h"

namespace podserve::openai {

Result<std::unique_ptr<ReasoningParser>> make_deepseek_r1_reasoning_parser(const ReasoningParserContext& ctx);
Result<std::unique_ptr<ReasoningParser>> make_deepseek_v3_reasoning_parser(const ReasoningParserContext& ctx);

namespace {

struct Entry {
  std::string_view name;
  ReasoningParserFactory factory;
};

constexpr Entry kEntries[] = {
    {"deepseek_r1", make_deepseek_r1_reasoning_parser},
    {"deepseek_v3", make_deepseek_v3_reasoning_parser},
};

}  // namespace

ReasoningParserFactory find_reasoning_parser(std::string_view name) {
  for (const Entry& e : kEntries) {
    if (e.name == name) return e.factory;
  }
  return nullptr;
}

std::vector<std::string> reasoning_parser_names() {
  std::vector<std::string> names;
  for (const Entry& e : kEntries) names.emplace_back(e.name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace podserve::openai
