// qwen3_xml / qwen3_coder (vLLM's Qwen3Parser tool adapter over its declarative ParserEngine):
//   <tool_call>\n<function=NAME>\n<parameter=P>\nVALUE\n</parameter>\n</function>\n</tool_call>
// `<function=` also opens a call without `<tool_call>`; consecutive calls need no `</tool_call>` between them.
// Parameter values are text (one wrapping newline trimmed each side), converted by the tool's schema as vLLM's
// coerce_to_schema_type does (integer, number, boolean, null, object/array as JSON, else JSON if it parses).
// Streamed arguments are the converted JSON's stable prefix (engine_tool_parser.h).
#include <boost/json/object.hpp>

#include "serve/openai/tools/engine_tool_parser.h"
#include "serve/openai/tools/ascii_space.h"
#include "serve/openai/tools/py_json.h"
#include "serve/openai/tools/qwen3_markup.h"
#include "serve/openai/tools/tool_parsers.h"

namespace podserve::openai {
namespace {

namespace json = boost::json;


enum class Qwen3XmlState { kContent, kPreamble, kName, kArgs, kBetween };
// The config's transitions from the content state on (the tool phase starts there): (state, terminal) -> state,
// with the event it emits. A terminal without one is text of the state it meets.
enum class Effect { kNone, kStart, kEnd, kArg };
struct Transition {
  Qwen3XmlState from;
  int terminal;
  Qwen3XmlState to;
  Effect effect;
};
constexpr Transition kTransitions[] = {
    {Qwen3XmlState::kContent, qwen3::kThinkEnd, Qwen3XmlState::kContent, Effect::kNone},
    {Qwen3XmlState::kContent, qwen3::kToolStart, Qwen3XmlState::kPreamble, Effect::kStart},
    {Qwen3XmlState::kContent, qwen3::kFuncPrefix, Qwen3XmlState::kName, Effect::kStart},
    {Qwen3XmlState::kPreamble, qwen3::kToolEnd, Qwen3XmlState::kContent, Effect::kEnd},
    {Qwen3XmlState::kPreamble, qwen3::kFuncPrefix, Qwen3XmlState::kName, Effect::kNone},
    {Qwen3XmlState::kName, qwen3::kClose, Qwen3XmlState::kArgs, Effect::kNone},
    {Qwen3XmlState::kName, qwen3::kFuncEnd, Qwen3XmlState::kBetween, Effect::kEnd},
    {Qwen3XmlState::kArgs, qwen3::kFuncEnd, Qwen3XmlState::kBetween, Effect::kEnd},
    {Qwen3XmlState::kArgs, qwen3::kParamStart, Qwen3XmlState::kArgs, Effect::kArg},
    {Qwen3XmlState::kArgs, qwen3::kParamEnd, Qwen3XmlState::kArgs, Effect::kArg},
    {Qwen3XmlState::kBetween, qwen3::kToolEnd, Qwen3XmlState::kContent, Effect::kNone},
    {Qwen3XmlState::kBetween, qwen3::kToolStart, Qwen3XmlState::kPreamble, Effect::kStart},
    {Qwen3XmlState::kBetween, qwen3::kFuncPrefix, Qwen3XmlState::kName, Effect::kStart},
};

/// `<\s*parameter\s*=` at p: the offset after it, or npos.
size_t open_tag(std::string_view s, size_t p) {
  if (p >= s.size() || s[p] != '<') return std::string_view::npos;
  p = skip_ascii_space(s, p + 1);
  if (s.substr(p, 9) != "parameter") return std::string_view::npos;
  p = skip_ascii_space(s, p + 9);
  if (p >= s.size() || s[p] != '=') return std::string_view::npos;
  return p + 1;
}
/// `<\s*/\s*parameter\s*>` at p.
size_t close_tag(std::string_view s, size_t p) {
  if (p >= s.size() || s[p] != '<') return std::string_view::npos;
  p = skip_ascii_space(s, p + 1);
  if (p >= s.size() || s[p] != '/') return std::string_view::npos;
  p = skip_ascii_space(s, p + 1);
  if (s.substr(p, 9) != "parameter") return std::string_view::npos;
  p = skip_ascii_space(s, p + 9);
  if (p >= s.size() || s[p] != '>') return std::string_view::npos;
  return p + 1;
}

struct ParamMatch {
  size_t begin, end;
  std::string_view name, value;
};
/// vLLM's _PARAM_RE at `p`: <parameter=NAME>VALUE up to </parameter> (consumed) or the next <parameter=.
std::optional<ParamMatch> param_at(std::string_view s, size_t p) {
  size_t o = open_tag(s, p);
  if (o == std::string_view::npos) return std::nullopt;
  o = skip_ascii_space(s, o);
  const size_t gt = s.find('>', o);
  if (gt == std::string_view::npos) return std::nullopt;
  for (size_t q = gt + 1; q <= s.size(); ++q) {
    const size_t c = close_tag(s, q);
    if (c != std::string_view::npos) return ParamMatch{p, c, s.substr(o, gt - o), s.substr(gt + 1, q - gt - 1)};
    if (open_tag(s, q) != std::string_view::npos) return ParamMatch{p, q, s.substr(o, gt - o), s.substr(gt + 1, q - gt - 1)};
  }
  return std::nullopt;
}

std::string_view trim_wrapping_newlines(std::string_view v) {
  if (v.starts_with('\n')) v.remove_prefix(1);
  if (v.ends_with('\n')) v.remove_suffix(1);
  return v;
}

/// vLLM's _qwen3_arg_converter: the parameters as a JSON object of strings.
std::string convert_param_args(std::string_view raw, bool partial) {
  json::object params;
  std::string remaining;
  size_t last = 0;
  for (size_t p = 0; p < raw.size();) {
    if (std::optional<ParamMatch> m = param_at(raw, p)) {
      params[m->name] = trim_wrapping_newlines(m->value);
      remaining.append(raw.substr(last, m->begin - last));
      last = p = m->end;
    } else {
      ++p;
    }
  }
  remaining.append(raw.substr(last));
  if (partial) {
    for (size_t p = 0; p < remaining.size(); ++p) {
      size_t o = open_tag(remaining, p);
      if (o == std::string_view::npos) continue;
      o = skip_ascii_space(remaining, o);
      const size_t gt = remaining.find('>', o);
      if (gt == std::string::npos || gt == o) continue;
      params[std::string_view(remaining).substr(o, gt - o)] =
          trim_wrapping_newlines(std::string_view(remaining).substr(gt + 1));
      break;
    }
  }
  return json_dumps(params, false);
}

class Qwen3XmlToolParser final : public EngineToolParser {
 public:
  explicit Qwen3XmlToolParser(const ToolParserContext& ctx)
      : EngineToolParser(ctx), stream_(qwen3::literals(), qwen3::marker_tokens(ctx.vocab)) {}

  bool supports_required_and_named() const override { return false; }  // a structural-tag model in vLLM
  void set_skip_reasoning_markup(bool skip) override { skip_reasoning_ = skip; }

 private:
  void reset_front() override {
    state_ = Qwen3XmlState::kContent;
    index_ = -1;
    stream_.reset();
  }

  std::optional<std::string> convert_args(std::string_view raw, bool partial) const override {
    return convert_param_args(raw, partial);
  }

  void emit_text(std::string_view text, std::vector<Event>& out) {
    if (text.empty()) return;
    switch (state_) {
      case Qwen3XmlState::kContent: out.push_back({Ev::kText, std::string(text), index_}); break;
      case Qwen3XmlState::kName: out.push_back({Ev::kName, std::string(text), index_}); break;
      case Qwen3XmlState::kArgs: out.push_back({Ev::kArg, std::string(text), index_}); break;
      default: break;  // between the markup: dropped
    }
  }

  void start_call(std::vector<Event>& out) {
    ++index_;
    out.push_back({Ev::kCallStart, {}, index_});
  }

  void on_terminal(int t, std::string_view spelling, std::vector<Event>& out) {
    if ((t == qwen3::kThinkStart || t == qwen3::kThinkEnd) && skip_reasoning_) return emit_text(spelling, out);
    for (const Transition& tr : kTransitions) {
      if (tr.from != state_ || tr.terminal != t) continue;
      state_ = tr.to;
      if (tr.effect == Effect::kStart) start_call(out);
      if (tr.effect == Effect::kEnd) out.push_back({Ev::kCallEnd, {}, index_});
      if (tr.effect == Effect::kArg) out.push_back({Ev::kArg, std::string(spelling), index_});
      return;
    }
    emit_text(spelling, out);  // no transition: the spelling is text of the state
  }

  TerminalStream::Sink sink(std::vector<Event>& out) {
    return [this, &out](int t, std::string_view s) { t == LexPiece::kContent ? emit_text(s, out) : on_terminal(t, s, out); };
  }

  void feed_front(std::string_view delta, std::span<const int32_t> ids, std::vector<Event>& out) override {
    stream_.feed(delta, ids, sink(out));
  }

  void finish_front(std::vector<Event>& out) override {
    stream_.flush(sink(out));
    if (state_ != Qwen3XmlState::kContent) {
      if (index_ >= 0) out.push_back({Ev::kCallEnd, {}, index_});
      state_ = Qwen3XmlState::kContent;
    }
  }

  TerminalStream stream_;
  Qwen3XmlState state_ = Qwen3XmlState::kContent;
  int index_ = -1;
  bool skip_reasoning_ = false;
};

}  // namespace

std::unique_ptr<ToolParser> make_qwen3_xml_tool_parser(const ToolParserContext& ctx) {
  return std::make_unique<Qwen3XmlToolParser>(ctx);
}

}  // namespace podserve::openai
