#include "serve/openai/harmony_output.h"

#include <algorithm>

#include "base/utf8.h"
#include "serve/openai/tools/py_json.h"

namespace podserve::openai {
namespace {

constexpr std::string_view kChannelMarker = "<|channel|>";
constexpr std::string_view kConstrainMarker = "<|constrain|>";

/// Rust's Utf8Error: the valid prefix's length, and the length of the invalid sequence after it (Unicode's maximal
/// subpart; 0 when the bytes are valid, or end inside a sequence that may still be completed).
struct Utf8Scan {
  size_t valid_up_to;
  size_t error_len;
};

Utf8Scan scan_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
      return {i, 1};
    }
    for (size_t k = 1; k <= need; ++k) {
      if (i + k >= s.size()) return {i, 0};
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (cc < lo || cc > hi) : (cc < 0x80 || cc > 0xBF)) return {i, k};
    }
    i += need + 1;
  }
  return {s.size(), 0};
}

bool valid_utf8(std::string_view s) { return scan_utf8(s).valid_up_to == s.size(); }

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

/// Rust's String::from_utf8_lossy: each invalid sequence (maximal subpart) becomes one U+FFFD.
std::string utf8_lossy(std::string_view s) {
  std::string out;
  while (!s.empty()) {
    const Utf8Scan u = scan_utf8(s);
    out += s.substr(0, u.valid_up_to);
    if (u.valid_up_to == s.size()) break;
    out += kReplacement;
    if (u.error_len == 0) break;  // cut off at the end
    s.remove_prefix(u.valid_up_to + u.error_len);
  }
  return out;
}

/// Rust's char::is_whitespace (Unicode White_Space).
bool unicode_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

/// Rust's str::trim.
std::string rust_trim(std::string_view s) {
  size_t begin = s.size(), end = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t at = i;
    if (!unicode_space(utf8_decode_next(s, &i))) {
      begin = std::min(begin, at);
      end = i;
    }
  }
  return begin < end ? std::string(s.substr(begin, end - begin)) : std::string();
}

/// Rust's split_ascii_whitespace (space, \t, \n, \f, \r).
std::vector<std::string> split_ascii_ws(std::string_view s) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r') {
      if (!cur.empty()) parts.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(std::move(cur));
  return parts;
}

bool known_role(std::string_view r) {
  return r == "user" || r == "assistant" || r == "system" || r == "developer" || r == "tool";
}

/// HarmonyParser._normalize_recipient: a constrain marker misread into the recipient is cut off.
std::optional<std::string> normalize_recipient(const std::optional<std::string>& r) {
  if (!r) return std::nullopt;
  const size_t at = r->find(kConstrainMarker);
  if (at == std::string::npos) return r;
  std::string cut = py_rstrip(std::string_view(*r).substr(0, at));
  if (cut.empty()) return std::nullopt;
  return cut;
}

/// vLLM's is_function_recipient (chat completions: any recipient but a builtin tool's is a function).
bool function_recipient(const std::string& r) {
  if (r.empty() || r.starts_with("<|")) return false;
  if (r.starts_with("functions.")) return r.size() > std::string_view("functions.").size();
  if (r == "assistant") return false;
  const std::string first = r.substr(0, r.find('.'));
  for (std::string_view builtin : {"python", "browser", "container"}) {
    if (r == builtin || first == builtin) return false;
  }
  return true;
}

enum class Kind { kTool, kReasoning, kContent, kIgnore };

Kind kind_of(const std::optional<std::string>& channel, const std::optional<std::string>& recipient) {
  if (recipient && function_recipient(*recipient)) return Kind::kTool;
  if (channel == "analysis") return Kind::kReasoning;
  if (channel == "final" || (channel == "commentary" && !recipient)) return Kind::kContent;
  return Kind::kIgnore;
}

std::string function_name(const std::string& recipient) {
  return recipient.starts_with("functions.") ? recipient.substr(std::string_view("functions.").size()) : recipient;
}

std::string join_lines(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "\n" : "") + parts[i];
  return out;
}

}  // namespace

std::optional<HarmonyTokens> HarmonyTokens::from(const ParserVocab& vocab) {
  HarmonyTokens t;
  for (auto [text, slot] : {std::pair{"<|start|>", &t.start}, std::pair{"<|end|>", &t.end},
                            std::pair{"<|message|>", &t.message}, std::pair{"<|channel|>", &t.channel},
                            std::pair{"<|call|>", &t.call}, std::pair{"<|return|>", &t.ret}}) {
    std::optional<int32_t> id = vocab.token_id(text);
    if (!id) return std::nullopt;
    *slot = *id;
  }
  return t;
}

const std::optional<std::string>& HarmonyStream::current_channel() const {
  static const std::optional<std::string> kNone;
  return state_ == State::kContent ? current_.channel : kNone;
}

const std::optional<std::string>& HarmonyStream::current_recipient() const {
  static const std::optional<std::string> kNone;
  return state_ == State::kContent ? current_.recipient : kNone;
}

bool HarmonyStream::process(int32_t token) {
  switch (state_) {
    case State::kExpectStart:
      if (token != tok_.start) return false;
      state_ = State::kHeader;
      header_bytes_.clear();
      return true;
    case State::kHeader:
      if (token != tok_.message) {
        header_bytes_ += vocab_->token_bytes(token);
        return true;
      }
      state_ = State::kExpectStart;  // stays so when the header cannot be read
      if (!parse_header()) return false;
      role_given_ = false;
      state_ = State::kContent;
      return true;
    case State::kContent:
      if (token == tok_.end || token == tok_.call || token == tok_.ret) {
        complete_message();
        return true;
      }
      const std::string bytes = vocab_->token_bytes(token);
      content_bytes_ += bytes;
      decode_delta(bytes);
      return true;
  }
  return false;
}

bool HarmonyStream::process_eos() {
  if (state_ == State::kHeader) return false;
  if (state_ == State::kContent) complete_message();
  return true;
}

/// openai_harmony 0.0.11's content delta: the bytes decoded so far as far as they are valid UTF-8; a sequence
/// still incomplete waits for the next token, an invalid one becomes U+FFFD (the bytes after it wait).
void HarmonyStream::decode_delta(std::string_view bytes) {
  undecoded_ += bytes;
  const Utf8Scan u = scan_utf8(undecoded_);
  if (u.valid_up_to == undecoded_.size()) {
    last_delta_ = std::move(undecoded_);
    undecoded_.clear();
  } else if (u.error_len == 0) {
    if (u.valid_up_to == 0) {
      last_delta_.reset();
    } else {
      last_delta_ = undecoded_.substr(0, u.valid_up_to);
      undecoded_.erase(0, u.valid_up_to);
    }
  } else {
    last_delta_ = undecoded_.substr(0, u.valid_up_to) + std::string(kReplacement);
    undecoded_.erase(0, u.valid_up_to + u.error_len);
  }
}

void HarmonyStream::complete_message() {
  current_.text = utf8_lossy(content_bytes_);  // the whole content, an unfinished character as U+FFFD
  content_bytes_.clear();
  messages_.push_back(std::move(current_));
  current_ = Message{};
  state_ = State::kExpectStart;
  last_delta_.reset();
  undecoded_.clear();
}

/// openai_harmony's parse_header_from_tokens: `[ROLE] [<|channel|>CHANNEL] [to=RECIPIENT] [CONTENT_TYPE]`.
bool HarmonyStream::parse_header() {
  if (!valid_utf8(header_bytes_)) return false;
  std::string header = header_bytes_;
  Message m;
  if (const size_t at = header.find(kChannelMarker); at != std::string::npos) {
    const size_t value = at + kChannelMarker.size();
    size_t end = value;
    while (end < header.size()) {
      size_t next = end;
      const uint32_t cp = utf8_decode_next(header, &next);
      if (unicode_space(cp) || cp == '<') break;
      end = next;
    }
    if (end == value) return false;
    m.channel = header.substr(value, end - value);
    header = header.substr(0, at) + header.substr(end);
  }
  header = rust_trim(header);
  if (header.find(kConstrainMarker) != std::string::npos) {
    std::string spaced;
    for (size_t i = 0; i < header.size();) {
      if (header.compare(i, kConstrainMarker.size(), kConstrainMarker) == 0) {
        spaced += " ";
        spaced += kConstrainMarker;
        i += kConstrainMarker.size();
      } else {
        spaced += header[i++];
      }
    }
    header = rust_trim(spaced);
  }
  std::vector<std::string> parts = split_ascii_ws(header);
  std::string role = "assistant";
  if (!role_given_) {
    if (parts.empty()) return false;
    role = parts[0];
    if (!known_role(role)) {
      if (parts.size() > 1 || parts[0].starts_with("to=")) {
        parts.erase(parts.begin());
        role = "tool";
      } else {
        return false;
      }
    }
  }
  if (!parts.empty() && parts[0] == role) parts.erase(parts.begin());
  if (!parts.empty()) {
    const size_t n = parts.size();
    std::string last = std::move(parts.back());
    parts.pop_back();
    if (last.starts_with("to=")) {
      m.recipient = last.substr(3);
    } else if (n == 1) {
      m.recipient = std::move(last);
    } else {
      m.content_type = std::move(last);
      if (!parts.empty()) {
        std::string r = std::move(parts.back());
        parts.pop_back();
        m.recipient = r.starts_with("to=") ? r.substr(3) : r;
      }
    }
  }
  if (!parts.empty()) return false;
  m.role = std::move(role);
  current_ = std::move(m);
  return true;
}

HarmonyOutput::HarmonyOutput(const ParserVocab& vocab, const HarmonyTokens& tokens, bool reasoning, bool tools,
                             bool include_reasoning)
    : vocab_(vocab), tok_(tokens), reasoning_(reasoning), tools_(tools), include_reasoning_(include_reasoning),
      stream_(vocab, tokens) {}

std::optional<HarmonyStream::Message> HarmonyOutput::poll_completed() {
  const auto& messages = stream_.messages();
  if (messages.size() <= processed_messages_) return std::nullopt;
  HarmonyStream::Message m = messages[processed_messages_++];
  m.recipient = normalize_recipient(m.recipient);
  return m;
}

void HarmonyOutput::process_chunk(std::span<const int32_t> ids, std::vector<Segment>& out) {
  for (int32_t id : ids) {
    if (!stream_.process(id)) continue;  // vLLM drops a token harmony rejects
    Segment s{stream_.current_channel(), normalize_recipient(stream_.current_recipient()),
              stream_.last_content_delta().value_or(""), poll_completed()};
    if (s.completed) {
      message_tokens_.clear();
    } else {
      message_tokens_.push_back(id);
    }
    if ((s.channel == "analysis" || (s.channel == "commentary" && s.recipient)) && !vocab_.is_special(id)) {
      ++reasoning_tokens_;
    }
    out.push_back(std::move(s));
  }
  counted_tokens_ += ids.size();
}

/// End of output: the open message completes; a header still open at the end is vLLM's recovery (the raw
/// text of the unfinished message becomes final-channel content).
void HarmonyOutput::flush(std::vector<Segment>& out) {
  std::optional<HarmonyStream::Message> done;
  if (stream_.process_eos()) {
    done = poll_completed();
  } else {
    HarmonyStream::Message m;
    m.role = "assistant";
    m.channel = "final";
    m.text = vocab_.decode(message_tokens_);
    out.push_back(Segment{m.channel, std::nullopt, m.text, std::nullopt});
    done = std::move(m);
  }
  stream_ = HarmonyStream(vocab_, tok_);
  processed_messages_ = 0;
  message_tokens_.clear();
  if (done) out.push_back(Segment{done->channel, done->recipient, "", std::move(done)});
}

ParsedOutput HarmonyOutput::parse(std::span<const int32_t> ids) {
  std::vector<Segment> segments;
  process_chunk(ids, segments);
  flush(segments);
  std::vector<std::string> reasoning, content;
  std::vector<ExtractedCall> calls;
  for (const Segment& s : segments) {
    if (!s.completed || s.completed->role != "assistant") continue;
    const HarmonyStream::Message& m = *s.completed;
    switch (kind_of(m.channel, m.recipient)) {
      case Kind::kReasoning:
        if (reasoning_ && !m.text.empty()) reasoning.push_back(m.text);
        break;
      case Kind::kContent:
        if (!m.text.empty()) content.push_back(m.text);
        break;
      case Kind::kTool: {
        if (!tools_) break;
        std::string args = m.text;
        if (!m.content_type || m.content_type->find("json") != std::string::npos) {
          // Valid JSON is re-serialized as Python's json.dumps writes it.
          if (std::optional<boost::json::value> v = json_loads(m.text)) args = json_dumps(*v, true);
        }
        calls.push_back(ExtractedCall{std::nullopt, function_name(*m.recipient), std::move(args)});
        break;
      }
      case Kind::kIgnore:
        break;
    }
  }
  ParsedOutput out;
  if (!reasoning.empty()) out.reasoning = join_lines(reasoning);
  if (!content.empty()) out.content = join_lines(content);
  if (!calls.empty()) out.calls = std::move(calls);
  return out;
}

std::optional<DeltaMessage> HarmonyOutput::parse_delta(std::span<const int32_t> delta_ids, bool finished) {
  std::optional<std::string> prev_recipient = normalize_recipient(stream_.current_recipient());
  std::vector<Segment> segments;
  process_chunk(delta_ids, segments);
  if (finished) flush(segments);
  std::string content, reasoning;
  std::vector<DeltaToolCall> calls;
  for (const Segment& s : segments) {
    if (s.completed) {
      prev_recipient.reset();
      continue;
    }
    switch (kind_of(s.channel, s.recipient)) {
      case Kind::kReasoning:
        if (reasoning_) reasoning += s.delta;
        break;
      case Kind::kContent:
        content += s.delta;
        break;
      case Kind::kTool:
        if (!tools_) break;
        if (prev_recipient != s.recipient) {
          DeltaToolCall d;
          d.index = next_tool_index_++;
          d.id = Field::of(make_tool_call_id());
          d.type = Field::of("function");
          d.has_function = true;
          d.name = Field::of(function_name(*s.recipient));
          d.arguments = Field::of(s.delta);
          calls.push_back(std::move(d));
          prev_recipient = s.recipient;
        } else if (!s.delta.empty()) {
          if (!calls.empty()) {
            calls.back().arguments = Field::of(*calls.back().arguments.value + s.delta);
          } else {
            DeltaToolCall d;
            d.index = next_tool_index_ - 1;
            d.has_function = true;
            d.arguments = Field::of(s.delta);
            calls.push_back(std::move(d));
          }
        }
        break;
      case Kind::kIgnore:
        break;
    }
  }
  if (finished) next_tool_index_ = 0;
  if (content.empty() && reasoning.empty() && calls.empty()) return std::nullopt;
  DeltaMessage m;
  if (!content.empty()) m.content = Field::of(std::move(content));
  if (!reasoning.empty()) m.reasoning = Field::of(std::move(reasoning));
  m.tool_calls = std::move(calls);
  if (!include_reasoning_) {
    m.reasoning = Field::null();
    if (!m.content.has_value() && m.tool_calls.empty()) return std::nullopt;
  }
  return m;
}

int HarmonyOutput::count_reasoning_tokens(std::span<const int32_t> ids) const {
  if (ids.size() == counted_tokens_) return reasoning_tokens_;
  HarmonyOutput fresh(vocab_, tok_, reasoning_, tools_, include_reasoning_);
  std::vector<Segment> ignored;
  fresh.process_chunk(ids, ignored);
  return fresh.reasoning_tokens_;
}

}  // namespace podserve::openai
