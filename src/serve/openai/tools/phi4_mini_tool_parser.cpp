// phi4_mini_json: `functools[{...}, ...]`, cut at the first `]` (vLLM's Phi4MiniJsonToolParser). Elements need
// `name` and `arguments` (else `parameters`); undecodable JSON still counts as "tools called", with no calls
// and null content. The streaming side sends nothing at all, as in vLLM.
#include "serve/openai/tools/py_json.h"
#include "serve/openai/tools/tool_parsers.h"

namespace podserve::openai {
namespace {

class Phi4MiniToolParser final : public ToolParser {
 public:
  ExtractedToolCalls extract(std::string_view output) override {
    constexpr std::string_view kOpen = "functools[";
    const size_t open = output.find(kOpen);
    const size_t close = open == std::string_view::npos ? open : output.find(']', open + kOpen.size());
    if (close == std::string_view::npos) return ExtractedToolCalls{false, {}, std::string(output)};
    const std::string_view inner = output.substr(open + kOpen.size(), close - open - kOpen.size());
    ExtractedToolCalls r;
    r.tools_called = true;
    std::optional<boost::json::value> arr = json_loads("[" + std::string(inner) + "]");
    if (!arr) return r;  // vLLM logs the decode error and reports zero calls
    for (const boost::json::value& item : arr->get_array()) {
      const boost::json::object* obj = item.if_object();
      const boost::json::value* name = obj ? obj->if_contains("name") : nullptr;
      const boost::json::value* args = obj ? obj->if_contains("arguments") : nullptr;
      if (obj != nullptr && args == nullptr) args = obj->if_contains("parameters");
      if (name == nullptr || !name->is_string() || args == nullptr) {
        return ExtractedToolCalls{false, {}, std::string(output)};
      }
      r.calls.push_back(ExtractedCall{make_tool_call_id(), std::string(name->get_string()), json_dumps(*args, false)});
    }
    return r;
  }

  std::optional<DeltaMessage> extract_streaming(const StreamStep&) override { return std::nullopt; }
};

}  // namespace

std::unique_ptr<ToolParser> make_phi4_mini_tool_parser(const ToolParserContext&) {
  return std::make_unique<Phi4MiniToolParser>();
}

}  // namespace podserve::openai
