#include "serve/openai/tools/tool_parsers.h"

#include <algorithm>
#include <random>

#include <boost/json/array.hpp>

namespace podserve::openai {
namespace {

struct ToolParserEntry {
  std::string_view name;
  ToolParserFactory factory;
  std::vector<std::string_view> required_tokens;
};

const std::vector<ToolParserEntry>& entries() {
  static const std::vector<ToolParserEntry> kEntries = {
      {"hermes", make_hermes_tool_parser, {}},
      {"qwen3_json", make_hermes_tool_parser, {}},
      {"deepseek_v3", make_deepseek_v3_tool_parser, {"<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"}},
      {"phi4_mini_json", make_phi4_mini_tool_parser, {}},
      {"llama3_json", make_llama_json_tool_parser, {"<|python_tag|>"}},
      {"llama4_json", make_llama_json_tool_parser, {"<|python_tag|>"}},
      {"pythonic", make_pythonic_tool_parser, {}},
      {"qwen3_xml", make_qwen3_xml_tool_parser, {}},
      {"qwen3_coder", make_qwen3_xml_tool_parser, {}},
      {"granite", make_granite_tool_parser, {}},
      {"openai", make_openai_tool_parser,
       {"<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|call|>", "<|return|>"}},
      {"mistral", make_mistral_tool_parser, {"[TOOL_CALLS]"}},
  };
  return kEntries;
}

std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen;
}

void put_field(boost::json::object& o, std::string_view key, const Field& f) {
  if (!f.set) return;
  if (f.value) {
    o[key] = *f.value;
  } else {
    o[key] = nullptr;
  }
}

}  // namespace

ToolParserFactory find_tool_parser(std::string_view name) {
  for (const ToolParserEntry& e : entries()) {
    if (e.name == name) return e.factory;
  }
  return nullptr;
}

std::vector<std::string> tool_parser_names() {
  std::vector<std::string> names;
  for (const ToolParserEntry& e : entries()) names.emplace_back(e.name);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string_view> tool_parser_required_tokens(std::string_view name) {
  for (const ToolParserEntry& e : entries()) {
    if (e.name == name) return e.required_tokens;
  }
  return {};
}

std::string make_tool_call_id() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "chatcmpl-tool-";
  uint64_t bits = rng()();
  for (int i = 0; i < 16; ++i, bits >>= 4) id += kHex[bits & 0xf];
  return id;
}

std::string make_mistral_tool_call_id() {
  static constexpr char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::uniform_int_distribution<int> pick(0, 61);
  std::string id;
  for (int i = 0; i < 9; ++i) id += kAlnum[pick(rng())];
  return id;
}

boost::json::object delta_json(const DeltaMessage& delta, bool with_reasoning_content) {
  boost::json::object o;
  put_field(o, "content", delta.content);
  put_field(o, "reasoning", delta.reasoning);
  if (with_reasoning_content) put_field(o, "reasoning_content", delta.reasoning);
  if (!delta.tool_calls.empty()) {
    boost::json::array calls;
    for (const DeltaToolCall& tc : delta.tool_calls) {
      boost::json::object c;
      put_field(c, "id", tc.id);
      put_field(c, "type", tc.type);
      c["index"] = tc.index;
      if (tc.has_function) {
        boost::json::object f;
        put_field(f, "name", tc.name);
        put_field(f, "arguments", tc.arguments);
        c["function"] = std::move(f);
      }
      calls.emplace_back(std::move(c));
    }
    o["tool_calls"] = std::move(calls);
  }
  return o;
}

}  // namespace podserve::openai
