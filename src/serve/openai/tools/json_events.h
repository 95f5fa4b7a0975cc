// A push JSON parser with ijson's event stream (`ijson.parse_coro` on its yajl2_c backend), which vLLM's mistral
// parser drives chunk by chunk: each event comes with ijson's dotted prefix ("item.arguments") and arrives as soon
// as its token is complete (a number only once a character after it is seen). Like yajl, the first syntax error
// is final: every later feed fails too. One top-level value; whitespace after it is allowed, anything else fails.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace podserve::openai {

enum class JsonEvent { kStartMap, kMapKey, kEndMap, kStartArray, kEndArray, kString, kNumber, kBoolean, kNull };

class JsonEventParser {
 public:
  /// `value` is the unescaped key or string, or the literal text of a number / boolean / null.
  using Sink = std::function<void(std::string_view prefix, JsonEvent event, std::string_view value)>;

  /// Parses `bytes` after everything fed before; false on a syntax error (now or earlier). Events before the
  /// error have been delivered.
  bool feed(std::string_view bytes, const Sink& sink);

 private:
  enum class Lex { kNone, kString, kLiteral, kNumber };
  enum class Expect { kValue, kFirstKeyOrEnd, kKey, kColon, kMapCommaOrEnd, kFirstValueOrEnd, kArrayCommaOrEnd, kDone };

  bool step(char c, const Sink& sink);
  bool string_char(char c);
  bool number_char(char c, bool* consumed);
  bool token(char c, const Sink& sink);
  bool value_done(JsonEvent event, std::string_view value, const Sink& sink);
  bool start_value(char c, const Sink& sink);
  std::string prefix() const;

  bool failed_ = false;
  Lex lex_ = Lex::kNone;
  std::string text_;     // the token being lexed (unescaped, for strings)
  std::string escape_;   // an escape sequence in progress ("\\", "\\u12", ...)
  unsigned pending_high_ = 0;  // a high surrogate waiting for its low half
  Expect expect_ = Expect::kValue;
  bool key_string_ = false;    // the string being lexed is a map key
  bool doomed_ = false;        // a token the grammar does not allow here: yajl fails once it is lexed whole
  std::vector<bool> in_map_;   // per open container: a map (true) or an array
  std::vector<std::string> path_;  // ijson's path: keys, "item", or "" for a map before its first key
};

}  // namespace podserve::openai
