#include "serve/openai/tools/json_events.h"

#include "serve/openai/tools/ascii_space.h"

namespace podserve::openai {
namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

const char* literal_spelling(char first) {
  switch (first) {
    case 't': return "true";
    case 'f': return "false";
    default: return "null";
  }
}

}  // namespace

bool JsonEventParser::feed(std::string_view bytes, const Sink& sink) {
  for (char c : bytes) {
    if (failed_) return false;
    if (!step(c, sink)) failed_ = true;
  }
  return !failed_;
}

std::string JsonEventParser::prefix() const {
  std::string out;
  for (size_t i = 0; i < path_.size(); ++i) {
    if (i > 0) out += '.';
    out += path_[i];
  }
  return out;
}

bool JsonEventParser::step(char c, const Sink& sink) {
  switch (lex_) {
    case Lex::kString:
      return string_char(c) && (lex_ != Lex::kNone || value_done(key_string_ ? JsonEvent::kMapKey : JsonEvent::kString,
                                                                  text_, sink));
    case Lex::kLiteral: {
      const std::string_view spelling = literal_spelling(text_[0]);
      if (c != spelling[text_.size()]) return false;
      text_ += c;
      if (text_.size() < spelling.size()) return true;
      lex_ = Lex::kNone;
      return value_done(text_[0] == 'n' ? JsonEvent::kNull : JsonEvent::kBoolean, text_, sink);
    }
    case Lex::kNumber: {
      bool consumed = false;
      if (!number_char(c, &consumed)) return false;
      if (consumed) return true;
      lex_ = Lex::kNone;
      if (!value_done(JsonEvent::kNumber, text_, sink)) return false;
      return token(c, sink);  // the character that ended the number starts the next token
    }
    case Lex::kNone:
      return token(c, sink);
  }
  return false;
}

bool JsonEventParser::string_char(char c) {
  if (escape_.empty()) {
    if (c == '"') {
      if (pending_high_ != 0) text_ += '?';
      pending_high_ = 0;
      lex_ = Lex::kNone;
      return true;
    }
    if (c == '\\') {
      escape_ = "\\";
      return true;
    }
    if (static_cast<unsigned char>(c) < 0x20) return false;  // yajl: control characters must be escaped
    if (pending_high_ != 0) text_ += '?';
    pending_high_ = 0;
    text_ += c;
    return true;
  }
  if (escape_.size() == 1) {
    static constexpr std::string_view kSimple = "\"\\/bfnrt";
    static constexpr std::string_view kValues = "\"\\/\b\f\n\r\t";
    if (c == 'u') {
      escape_ += c;
      return true;
    }
    const size_t at = kSimple.find(c);
    if (at == std::string_view::npos) return false;
    if (pending_high_ != 0) text_ += '?';
    pending_high_ = 0;
    text_ += kValues[at];
    escape_.clear();
    return true;
  }
  if (hex_value(c) < 0) return false;
  escape_ += c;
  if (escape_.size() < 6) return true;
  unsigned cp = 0;
  for (size_t i = 2; i < 6; ++i) cp = cp * 16 + static_cast<unsigned>(hex_value(escape_[i]));
  escape_.clear();
  if (cp >= 0xdc00 && cp <= 0xdfff && pending_high_ != 0) {
    append_utf8(text_, 0x10000 + ((pending_high_ - 0xd800) << 10) + (cp - 0xdc00));
    pending_high_ = 0;
    return true;
  }
  if (pending_high_ != 0) text_ += '?';  // yajl writes a lone surrogate as '?'
  pending_high_ = 0;
  if (cp >= 0xd800 && cp <= 0xdbff) {
    pending_high_ = cp;
  } else if (cp >= 0xdc00 && cp <= 0xdfff) {
    text_ += '?';
  } else {
    append_utf8(text_, cp);
  }
  return true;
}

/// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? read one character at a time: `consumed` when `c` continues
/// it; false when the number cannot end here and `c` does not continue it.
bool JsonEventParser::number_char(char c, bool* consumed) {
  const char last = text_.back();
  const bool has_dot = text_.find('.') != std::string::npos;
  const bool has_exp = text_.find_first_of("eE") != std::string::npos;
  const bool leading_zero = text_ == "0" || text_ == "-0";
  bool continues = false;
  if (digit(c)) {
    continues = !(leading_zero && !has_dot && !has_exp);
  } else if (c == '.') {
    continues = digit(last) && !has_dot && !has_exp;
  } else if (c == 'e' || c == 'E') {
    continues = digit(last) && !has_exp;
  } else if (c == '+' || c == '-') {
    continues = last == 'e' || last == 'E';
  }
  if (continues) {
    text_ += c;
    *consumed = true;
    return true;
  }
  *consumed = false;
  return digit(last);  // "-", "1.", "1e", "1e+" are incomplete
}

bool JsonEventParser::start_value(char c, const Sink& sink) {
  if (c == '{') {
    sink(prefix(), JsonEvent::kStartMap, {});
    path_.emplace_back();
    in_map_.push_back(true);
    expect_ = Expect::kFirstKeyOrEnd;
    return true;
  }
  if (c == '[') {
    sink(prefix(), JsonEvent::kStartArray, {});
    path_.emplace_back("item");
    in_map_.push_back(false);
    expect_ = Expect::kFirstValueOrEnd;
    return true;
  }
  text_.assign(1, c);
  if (c == '"') {
    text_.clear();
    lex_ = Lex::kString;
    key_string_ = false;
    return true;
  }
  if (c == 't' || c == 'f' || c == 'n') {
    lex_ = Lex::kLiteral;
    return true;
  }
  if (c == '-' || digit(c)) {
    lex_ = Lex::kNumber;
    return true;
  }
  return false;
}

bool JsonEventParser::token(char c, const Sink& sink) {
  if (is_ascii_space(c)) return true;
  const bool value_allowed = expect_ == Expect::kValue || expect_ == Expect::kFirstValueOrEnd;
  const bool key_allowed = expect_ == Expect::kFirstKeyOrEnd || expect_ == Expect::kKey;
  const bool scalar_start = c == '"' || c == 't' || c == 'f' || c == 'n' || c == '-' || digit(c);
  if (scalar_start && !value_allowed && !(key_allowed && c == '"')) {
    doomed_ = true;  // yajl lexes the whole token before its parser refuses it
    return start_value(c, sink);
  }
  switch (expect_) {
    case Expect::kValue:
      return start_value(c, sink);
    case Expect::kFirstValueOrEnd:
      if (c != ']') return start_value(c, sink);
      [[fallthrough]];
    case Expect::kArrayCommaOrEnd:
      if (c == ',' && expect_ == Expect::kArrayCommaOrEnd) {
        expect_ = Expect::kValue;
        return true;
      }
      if (c != ']') return false;
      path_.pop_back();
      in_map_.pop_back();
      sink(prefix(), JsonEvent::kEndArray, {});
      return value_done(JsonEvent::kEndArray, {}, sink);
    case Expect::kFirstKeyOrEnd:
    case Expect::kKey:
      if (c == '}' && expect_ == Expect::kFirstKeyOrEnd) break;
      if (c != '"') return false;
      text_.clear();
      lex_ = Lex::kString;
      key_string_ = true;
      return true;
    case Expect::kColon:
      if (c != ':') return false;
      expect_ = Expect::kValue;
      return true;
    case Expect::kMapCommaOrEnd:
      if (c == ',') {
        expect_ = Expect::kKey;
        return true;
      }
      if (c != '}') return false;
      break;
    case Expect::kDone:
      return false;
  }
  // '}' closes the map
  path_.pop_back();
  in_map_.pop_back();
  sink(prefix(), JsonEvent::kEndMap, {});
  return value_done(JsonEvent::kEndMap, {}, sink);
}

bool JsonEventParser::value_done(JsonEvent event, std::string_view value, const Sink& sink) {
  if (doomed_) return false;
  if (event == JsonEvent::kMapKey) {
    path_.pop_back();  // a key's prefix is its map's
    sink(prefix(), JsonEvent::kMapKey, value);
    path_.emplace_back(value);
    expect_ = Expect::kColon;
    return true;
  }
  if (event != JsonEvent::kEndMap && event != JsonEvent::kEndArray) sink(prefix(), event, value);
  if (in_map_.empty()) {
    expect_ = Expect::kDone;
  } else {
    expect_ = in_map_.back() ? Expect::kMapCommaOrEnd : Expect::kArrayCommaOrEnd;
  }
  return true;
}

}  // namespace podserve::openai
