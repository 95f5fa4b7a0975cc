// pythonic (vLLM's PythonicToolParser; Llama 3.2 / 4, ToolACE): the whole output is a Python list of calls,
// `[get_weather(city='Paris'), get_time()]`. Whole output: vLLM's TOOL_CALL_REGEX must match at the start, then
// the text must parse as Python into a list of calls whose keyword values are literals; otherwise it is all
// content. Streaming: text not starting with `[` is content; otherwise each step closes the open brackets and
// quotes of the text so far (make_valid_python), parses it, and streams each call's arguments (json.dumps of
// the keywords) minus the withheld closing suffix; a call is sent whole (id, name, arguments) when first seen.
// Python is read through py_calls.h's slice of it (see there); beyond it podserve differs from vLLM only on
// positional arguments that are not literals or names (vLLM ignores them; podserve rejects the call), further
// statements after the list, identifiers vLLM's NFKC-normalizes, and ints beyond 64 bits.
#include <algorithm>

#include "serve/openai/tools/py_calls.h"
#include "serve/openai/tools/py_json.h"
#include "serve/openai/tools/tool_parsers.h"

namespace podserve::openai {
namespace {

bool ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
/// Python's `\w` and `\s` on str, for the ASCII range (other code points: word characters, as in identifiers).
bool word_char(unsigned char c) { return ascii_letter(static_cast<char>(c)) || (c >= '0' && c <= '9') || c == '_' || c >= 0x80; }
bool space_char(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

/// TOOL_CALL_REGEX.match(text): `\[ C1* C2+ \]` at the start, where (the `.*` of DOTALL swallowing the rest)
/// a call that a comma follows is `I\((|I=.*[,\s])\),\s*` and a last one `I\((|I=.*)\)\s*`. Run as an NFA over
/// the bytes, so it is linear where the backtracking engine is not.
bool matches_tool_call_regex(std::string_view text) {
  // States; `P1`: a comma-separated call may still come, `P2`: only calls closed by `)\s*`.
  enum : uint32_t {
    kStart = 1u << 0, kCallP1 = 1u << 1, kIdP1 = 1u << 2, kIdP2 = 1u << 3, kOpenP1 = 1u << 4, kOpenP2 = 1u << 5,
    kArgIdP1 = 1u << 6, kArgIdP2 = 1u << 7, kBodyP1 = 1u << 8, kBodyP2 = 1u << 9, kBodyCP1 = 1u << 10,
    kBodyCP2 = 1u << 11, kComma = 1u << 12, kSep = 1u << 13, kAfter = 1u << 14,
  };
  uint32_t states = kStart;
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    uint32_t next = 0;
    auto on_close = [&](bool p1, bool args_end_ok) {
      next |= kAfter;                       // closed as a last-kind call
      if (p1 && args_end_ok) next |= kComma;  // closed as a comma-kind call
    };
    if ((states & kStart) && c == '[') next |= kCallP1;
    if ((states & kCallP1) && ascii_letter(ch)) next |= kIdP1;
    if ((states & kSep) && space_char(c)) next |= kSep;
    if ((states & kSep) && ascii_letter(ch)) next |= kIdP1;
    if ((states & kAfter) && space_char(c)) next |= kAfter;
    if ((states & kAfter) && ascii_letter(ch)) next |= kIdP2;
    if ((states & kAfter) && c == ']') return true;
    if ((states & kComma) && c == ',') next |= kSep;
    for (int p = 0; p < 2; ++p) {
      const bool p1 = p == 0;
      const uint32_t id = p1 ? kIdP1 : kIdP2, open = p1 ? kOpenP1 : kOpenP2, arg = p1 ? kArgIdP1 : kArgIdP2;
      const uint32_t body = p1 ? kBodyP1 : kBodyP2, body_c = p1 ? kBodyCP1 : kBodyCP2;
      if ((states & id) && word_char(c)) next |= id;
      if ((states & id) && c == '(') next |= open;
      if ((states & open) && c == ')') on_close(p1, true);
      if ((states & open) && ascii_letter(ch)) next |= arg;
      if ((states & arg) && word_char(c)) next |= arg;
      if ((states & arg) && c == '=') next |= body;
      if (states & (body | body_c)) {
        next |= body;
        if (c == ',' || space_char(c)) next |= body_c;
        if (c == ')') on_close(p1, (states & body_c) != 0);
      }
    }
    states = next;
    if (states == 0) return false;
  }
  return false;
}

/// _is_escaped: an odd run of backslashes before `i`.
bool is_escaped(std::string_view text, size_t i) {
  size_t n = 0;
  while (i > n && text[i - n - 1] == '\\') ++n;
  return n % 2 == 1;
}

size_t count(std::string_view s, char c) { return static_cast<size_t>(std::count(s.begin(), s.end(), c)); }

struct Completed {
  std::string text;
  std::string added;
};

/// make_valid_python: nullopt for "too incomplete"; `mismatch` where vLLM raises.
std::optional<Completed> make_valid_python(std::string_view input, bool* mismatch) {
  std::string stack;
  for (size_t i = 0; i < input.size(); ++i) {
    const char c = input[i];
    if (!stack.empty() && (stack.back() == '\'' || stack.back() == '"')) {
      if (c == stack.back() && !is_escaped(input, i)) stack.pop_back();
      continue;
    }
    if (c == '[' || c == '(' || c == '{' || c == '\'' || c == '"') {
      stack += c;
    } else if (c == ']' || c == ')' || c == '}') {
      const char want = c == ']' ? '[' : c == ')' ? '(' : '{';
      if (stack.empty() || stack.back() != want) {
        *mismatch = true;
        return std::nullopt;
      }
      stack.pop_back();
    }
  }
  std::string text = py_rstrip(input);
  if (!text.empty() && (text.back() == '=' || text.back() == ':')) return std::nullopt;
  if (!stack.empty() && stack.back() == '{') {
    const std::string_view before = std::string_view(text).substr(0, text.rfind('{'));
    if (count(before, ':') <= count(before, ',')) return std::nullopt;
  }
  if (!stack.empty() && stack.back() == '(') {
    const std::string_view before = std::string_view(text).substr(0, text.rfind('('));
    if (count(before, '=') <= count(before, ',')) return std::nullopt;
  }
  if (!text.empty() && text.back() == ',') text.pop_back();
  if (!stack.empty() && stack.back() == '[' && !text.empty() && text.back() != '[' && text.back() != ')') {
    return std::nullopt;
  }
  std::string added;
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
    added += *it == '[' ? ']' : *it == '(' ? ')' : *it == '{' ? '}' : *it;
  }
  Completed out{text + added, added};
  const PyModule m = parse_py_calls(out.text);
  if (!m.syntax_ok) return std::nullopt;
  if (added.find('}') != std::string::npos && m.has_set) return std::nullopt;
  return out;
}

class PythonicToolParser final : public ToolParser {
 public:
  ExtractedToolCalls extract(std::string_view output) override {
    const ExtractedToolCalls as_content{false, {}, std::string(output)};
    if (!matches_tool_call_regex(output)) return as_content;
    const PyModule m = parse_py_calls(output);
    if (!m.syntax_ok || !m.is_call_list) return as_content;
    ExtractedToolCalls r;
    r.tools_called = true;
    for (const PyCall& c : m.calls) {
      if (!c.arguments_ok) return as_content;
      r.calls.push_back(ExtractedCall{make_tool_call_id(), c.name, c.arguments});
    }
    return r;
  }

  std::optional<DeltaMessage> extract_streaming(const StreamStep& step) override {
    if (step.current_text.substr(0, 1) != "[") {
      DeltaMessage m;
      m.content = Field::of(std::string(step.delta_text));
      return m;
    }
    bool mismatch = false;
    const std::optional<Completed> valid = make_valid_python(step.current_text, &mismatch);
    if (!valid) return std::nullopt;  // too incomplete, or vLLM's logged error
    const PyModule m = parse_py_calls(valid->text);
    if (!m.is_call_list) return std::nullopt;
    for (const PyCall& c : m.calls) {
      if (!c.arguments_ok) return std::nullopt;
    }
    const std::string& added = valid->added;
    std::vector<DeltaToolCall> deltas;
    for (size_t index = 0; index < m.calls.size(); ++index) {
      if (static_cast<int>(index) < current_index_) continue;
      current_index_ = static_cast<int>(index);
      if (streamed_args_.size() == index) streamed_args_.emplace_back();
      const bool complete = index + 1 < m.calls.size() || added.find(")]") == std::string::npos;
      if (complete) ++current_index_;
      std::string withheld = complete ? std::string() : added.substr(0, added.size() - 2);
      if (!complete && added[added.size() - 2] == ')') withheld += '}';
      for (char& ch : withheld) {
        if (ch == '\'') ch = '"';
      }
      std::string args = m.calls[index].arguments;
      if (!withheld.empty()) {
        if (args.size() < withheld.size() || args.compare(args.size() - withheld.size(), withheld.size(), withheld) != 0) {
          return std::nullopt;  // vLLM raises ValueError: the step sends nothing (earlier updates stay)
        }
        args.resize(args.size() - withheld.size());
      }
      DeltaToolCall d;
      d.index = static_cast<int>(index);
      d.has_function = true;
      if (streamed_args_[index].empty()) {
        d.id = Field::of(make_tool_call_id());
        d.type = Field::of("function");
        d.name = Field::of(m.calls[index].name);
        d.arguments = Field::of(args);
      } else {
        if (args.size() <= streamed_args_[index].size()) continue;
        d.id = Field::null();
        d.arguments = Field::of(args.substr(streamed_args_[index].size()));
      }
      streamed_args_[index] += *d.arguments.value;
      deltas.push_back(std::move(d));
    }
    // vLLM's "HACK": one placeholder entry so the stream finishes with "tool_calls".
    if (!deltas.empty() && prev_calls_.empty()) prev_calls_.push_back(SentCall{std::nullopt, "{}"});
    DeltaMessage out;
    if (!deltas.empty()) {
      out.tool_calls = std::move(deltas);
      return out;
    }
    if (added.empty() && current_index_ > 0) {
      out.content = Field::of("");
      return out;
    }
    return std::nullopt;
  }

 private:
  int current_index_ = 0;
};

}  // namespace

std::unique_ptr<ToolParser> make_pythonic_tool_parser(const ToolParserContext&) {
  return std::make_unique<PythonicToolParser>();
}

}  // namespace podserve::openai
