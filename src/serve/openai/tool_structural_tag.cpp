#include "serve/openai/tool_structural_tag.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <algorithm>
#include <cstring>

namespace podserve::openai {
namespace {

namespace json = boost::json;

/// vLLM's _tool_is_strict: the tool's function says `strict: true`.
bool is_strict(const ToolSpec& tool) {
  const json::value* function = tool.raw.if_contains("function");
  const json::value* strict = function != nullptr && function->is_object() ? function->get_object().if_contains("strict")
                                                                            : nullptr;
  return strict != nullptr && strict->is_bool() && strict->get_bool();
}

/// vLLM's get_function_parameters after resolve_tool_strictness: the schema of a strict tool, else `true`.
json::value argument_schema(const ToolSpec& tool) {
  if (!is_strict(tool) || tool.parameters.is_null()) return true;
  return tool.parameters;
}

json::object tag(const std::string& begin, json::value schema, const std::string& end) {
  return json::object{{"type", "tag"},
                      {"begin", begin},
                      {"content", json::object{{"type", "json_schema"}, {"json_schema", std::move(schema)}}},
                      {"end", end}};
}

json::object hermes(const std::vector<const ToolSpec*>& tools, bool forced, bool automatic) {
  // _hermes_tool_tags: each tool with and without the newlines around its JSON.
  json::array tags;
  for (const ToolSpec* t : tools) {
    for (const auto& [begin, end] : {std::pair<const char*, const char*>{"<tool_call>\n{\"name\": \"", "}\n</tool_call>"},
                                     std::pair<const char*, const char*>{"<tool_call>{\"name\": \"", "}</tool_call>"}}) {
      tags.push_back(tag(begin + t->name + "\", \"arguments\": ", argument_schema(*t), end));
    }
  }
  if (automatic) {  // _hermes_style_structural_tag: free text, each <tool_call> starts a call
    return json::object{{"type", "triggered_tags"}, {"triggers", json::array{"<tool_call>"}}, {"tags", std::move(tags)}};
  }
  return json::object{{"type", "tags_with_separator"}, {"tags", std::move(tags)}, {"separator", ""},
                      {"at_least_one", true}, {"stop_after_first", forced}};
}

json::object llama(const std::vector<const ToolSpec*>& tools, bool forced, bool automatic) {
  // xgrammar's get_llama_structural_tag (reasoning disabled, special tokens excluded from free text).
  if (forced) return tag("{\"name\": \"" + tools[0]->name + "\", \"parameters\": ", argument_schema(*tools[0]), "}");
  json::array tags;
  for (const ToolSpec* t : tools) {
    tags.push_back(tag("{\"name\": \"" + t->name + "\", \"parameters\": ", argument_schema(*t), "}"));
  }
  return json::object{{"type", "triggered_tags"}, {"triggers", json::array{"{\"name\": "}}, {"tags", std::move(tags)},
                      {"excludes", json::array{"<think>", "</think>"}}, {"at_least_one", !automatic},
                      {"stop_after_first", false}};
}

json::object deepseek_r1(const std::vector<const ToolSpec*>& tools, bool forced, bool automatic) {
  // xgrammar's get_deepseek_r1_structural_tag (reasoning disabled).
  static const std::string calls_begin = "<｜tool▁calls▁begin｜>", calls_end = "<｜tool▁calls▁end｜>",
                           call_begin = "<｜tool▁call▁begin｜>", call_end = "<｜tool▁call▁end｜>",
                           sep = "<｜tool▁sep｜>", json_begin = "\n```json\n", json_end = "\n```";
  if (forced) {
    return tag(calls_begin + call_begin + "function" + sep + tools[0]->name + json_begin, argument_schema(*tools[0]),
               json_end + call_end + calls_end);
  }
  json::array tags;
  for (const ToolSpec* t : tools) {
    tags.push_back(tag(call_begin + "function" + sep + t->name + json_begin, argument_schema(*t), json_end + call_end));
  }
  json::object calls{{"type", "tag"},
                     {"begin", calls_begin},
                     {"content", json::object{{"type", "tags_with_separator"}, {"tags", std::move(tags)},
                                              {"separator", "\n"}, {"at_least_one", true}, {"stop_after_first", false}}},
                     {"end", calls_end}};
  if (!automatic) return calls;
  // auto: free text (no think tags), the call block triggered by its begin marker.
  return json::object{{"type", "triggered_tags"}, {"triggers", json::array{json::string(calls_begin)}},
                      {"tags", json::array{std::move(calls)}}, {"excludes", json::array{"<think>", "</think>"}}};
}

/// vLLM's limit_to_single_tool_call: every call list stops after its first call.
void stop_after_first(json::value& v) {
  if (json::object* o = v.if_object()) {
    const json::value* type = o->if_contains("type");
    if (type != nullptr && (*type == "triggered_tags" || *type == "tags_with_separator")) (*o)["stop_after_first"] = true;
    for (auto& kv : *o) {
      if (kv.key() != "json_schema") stop_after_first(kv.value());
    }
  } else if (json::array* a = v.if_array()) {
    for (json::value& x : *a) stop_after_first(x);
  }
}

}  // namespace

const char* structural_tag_model(const std::string& parser) {
  if (parser == "hermes") return "hermes";
  if (parser == "llama3_json" || parser == "llama4_json") return "llama";
  if (parser == "deepseek_v3") return "deepseek_r1";
  return nullptr;
}

std::optional<std::string> tool_choice_structural_tag(const char* model, const std::optional<std::vector<ToolSpec>>& tools,
                                                      const ToolChoice& choice, bool parallel_tool_calls) {
  if (model == nullptr || !tools || tools->empty()) return std::nullopt;
  const bool automatic = choice.kind == ToolChoice::kAuto;
  if (automatic) {
    // vLLM's resolve_tool_strictness at the default level: auto gets a tag only when a tool is strict, or when
    // parallel_tool_calls false raises the level to `function` (limiting the calls needs the call envelope).
    const bool any_strict = std::any_of(tools->begin(), tools->end(), [](const ToolSpec& t) { return is_strict(t); });
    if (!any_strict && parallel_tool_calls) return std::nullopt;
  } else if (choice.kind != ToolChoice::kRequired && choice.kind != ToolChoice::kNamed) {
    return std::nullopt;
  }
  const bool forced = choice.kind == ToolChoice::kNamed;
  std::vector<const ToolSpec*> allowed;
  for (const ToolSpec& t : *tools) {
    if (!forced || t.name == choice.name) allowed.push_back(&t);
  }
  if (allowed.empty()) return std::nullopt;  // protocol validation already refused an unknown name
  if (forced) allowed.erase(allowed.begin(), allowed.end() - 1);  // xgrammar: exactly one tool (the last of a name)
  json::value format = std::strcmp(model, "hermes") == 0  ? hermes(allowed, forced, automatic)
                       : std::strcmp(model, "llama") == 0 ? llama(allowed, forced, automatic)
                                                          : deepseek_r1(allowed, forced, automatic);
  if (!parallel_tool_calls) stop_after_first(format);
  return json::serialize(json::object{{"type", "structural_tag"}, {"format", std::move(format)}});
}

}  // namespace podserve::openai
