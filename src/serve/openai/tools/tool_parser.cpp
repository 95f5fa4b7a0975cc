#include "serve/openai/tools/tool_parser.h"

namespace podserve::openai {

std::string ToolParser::remaining_unstreamed_args() const {
  if (prev_calls_.empty()) return {};
  const size_t index = prev_calls_.size() - 1;
  const std::string expected = prev_calls_[index].arguments.value_or("{}");
  const std::string actual = index < streamed_args_.size() ? streamed_args_[index] : std::string();
  if (expected.compare(0, actual.size(), actual) == 0) return expected.substr(actual.size());
  return {};
}

}  // namespace podserve::openai
