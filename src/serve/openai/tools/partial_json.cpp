#include "serve/openai/tools/partial_json.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "chat/py_string.h"
#include "serve/openai/tools/ascii_space.h"
#include "serve/openai/tools/py_json.h"

namespace podserve::openai {
namespace {

using Str = std::u32string_view;

/// What Python raises: IndexError (caught by the array/object completers) or anything else (fatal).
enum class Error { kNone, kIndex, kOther };

/// A completer's answer: Python's `False` (not ok), or (index, True) / (index, completion text).
struct Completion {
  bool ok = false;
  int64_t index = 0;
  bool complete = false;
  std::u32string tail;

  static Completion partial(int64_t index, std::u32string tail) { return {true, index, false, std::move(tail)}; }
  static Completion done(int64_t index) { return {true, index, true, {}}; }
};

int64_t len(Str s) { return static_cast<int64_t>(s.size()); }

/// str.rfind(sub, start, end) with Python's index clamping; -1 when absent.
int64_t rfind(Str s, Str sub, int64_t start, int64_t end) {
  const int64_t n = len(s);
  if (start < 0) start = std::max<int64_t>(start + n, 0);
  if (end < 0) end = std::max<int64_t>(end + n, 0);
  end = std::min(end, n);
  for (int64_t p = end - len(sub); p >= start; --p) {
    if (s.substr(static_cast<size_t>(p), sub.size()) == sub) return p;
  }
  return -1;
}
int64_t rfind(Str s, char32_t c, int64_t start, int64_t end) { return rfind(s, Str(&c, 1), start, end); }

/// s[:i] / s[i:] with Python's slice clamping.
std::u32string head(Str s, int64_t i) {
  if (i < 0) i = std::max<int64_t>(i + len(s), 0);
  return std::u32string(s.substr(0, static_cast<size_t>(std::min(i, len(s)))));
}
Str tail_of(Str s, int64_t i) {
  if (i < 0) i = std::max<int64_t>(i + len(s), 0);
  return s.substr(static_cast<size_t>(std::min(i, len(s))));
}

Str strip(Str s) {
  size_t b = 0, e = s.size();
  while (b < e && jinja::py_isspace(s[b])) ++b;
  while (e > b && jinja::py_isspace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

bool starts_with(Str s, Str prefix) { return s.substr(0, prefix.size()) == prefix; }

/// The number of backslashes right before `index` is odd.
bool is_escaped(Str s, int64_t index) {
  int64_t count = 0;
  while (index - count - 1 >= 0 && s[static_cast<size_t>(index - count - 1)] == U'\\') ++count;
  return count % 2 == 1;
}

std::u32string closing(const std::vector<std::pair<int64_t, char32_t>>& stack, size_t count) {
  std::u32string out;
  for (size_t k = count; k-- > 0;) out += stack[k].second == U'{' ? U'}' : U']';
  return out;
}

struct Fixed {
  std::u32string head;
  std::u32string tail;
};

class Fixer {
 public:
  explicit Fixer(bool partial_strings) : partial_strings_(partial_strings) {}

  /// fix_fast(json_string, allow).
  std::optional<Fixed> fix_fast(Str s);

 private:
  char32_t at(Str s, int64_t i) {
    if (i < 0) i += len(s);
    if (i < 0 || i >= len(s)) {
      error_ = Error::kIndex;
      return 0;
    }
    return s[static_cast<size_t>(i)];
  }
  int64_t skip_blank(Str s, int64_t i) const {
    while (i < len(s) && jinja::py_isspace(s[static_cast<size_t>(i)])) ++i;
    return i;
  }

  std::optional<Fixed> fix(Str s, bool top_level);
  Completion complete_any(Str s, bool top_level);
  Completion complete_str(Str s);
  Completion complete_num(Str s, bool top_level);
  /// complete_arr / complete_obj: the same loop, objects read a key and a colon before each value.
  Completion complete_container(Str s, bool object);

  bool partial_strings_;
  Error error_ = Error::kNone;
};

std::optional<Fixed> Fixer::fix(Str s, bool top_level) {
  // _fix completes the stripped text but slices the text as given with that index.
  Completion r = complete_any(strip(s), top_level);
  if (error_ != Error::kNone || !r.ok) return std::nullopt;  // MalformedJSON / PartialJSON
  return Fixed{head(s, r.index), r.complete ? std::u32string() : r.tail};
}

Completion Fixer::complete_any(Str s, bool top_level) {
  const char32_t c = at(s, skip_blank(s, 0));
  if (error_ != Error::kNone) return {};
  if (c == U'"') return complete_str(s);
  if (c >= U'0' && c <= U'9') return complete_num(s, top_level);
  if (c == U'[' || c == U'{') return complete_container(s, c == U'{');
  struct Literal {
    Str text;
    bool signed_infinity;
  };
  static constexpr Literal kFirst[] = {{U"null", false}, {U"true", false}, {U"false", false}, {U"Infinity", false}};
  for (const Literal& lit : kFirst) {
    if (starts_with(s, lit.text)) return Completion::done(len(lit.text));
    if (starts_with(lit.text, s)) return Completion::partial(0, std::u32string(lit.text));
  }
  if (c == U'-') {
    if (len(s) == 1) return {};
    if (s[1] != U'I') return complete_num(s, top_level);
  }
  for (Str lit : {Str(U"-Infinity"), Str(U"NaN")}) {
    if (starts_with(s, lit)) return Completion::done(len(lit));
    if (starts_with(lit, s)) return Completion::partial(0, std::u32string(lit));
  }
  error_ = Error::kOther;  // "Unexpected character"
  return {};
}

Completion Fixer::complete_str(Str s) {
  if (s.empty() || s[0] != U'"') {
    error_ = s.empty() ? Error::kIndex : Error::kOther;
    return {};
  }
  const int64_t length = len(s);
  int64_t i = 1;
  while (i < length) {  // running off the end is the IndexError this function catches itself
    const char32_t c = s[static_cast<size_t>(i)];
    if (c == U'\\') {
      if (i + 1 == length) break;
      i += 2;
      continue;
    }
    if (c == U'"') return Completion::done(i + 1);
    ++i;
  }
  if (!partial_strings_) return {};
  // A partial escape at the end is cut off: \uXXXX, \UXXXXXXXX, \xXX.
  for (const auto& [esc, window] : {std::pair{Str(U"\\u"), 5}, std::pair{Str(U"\\U"), 9}, std::pair{Str(U"\\x"), 3}}) {
    const int64_t p = rfind(s, esc, std::max<int64_t>(0, i - window), i);
    if (p != -1 && !is_escaped(s, p)) return Completion::partial(p, U"\"");
  }
  return Completion::partial(i, U"\"");
}

Completion Fixer::complete_num(Str s, bool top_level) {
  static constexpr Str kNumChars = U"1234567890.-+eE";
  static constexpr Str kTrailing = U".-+eE";
  const int64_t length = len(s);
  int64_t i = 1;
  while (i < length && kNumChars.find(s[static_cast<size_t>(i)]) != Str::npos) ++i;
  bool modified = false;
  while (true) {
    const char32_t c = at(s, i - 1);
    if (error_ != Error::kNone) return {};
    if (kTrailing.find(c) == Str::npos) break;
    modified = true;
    --i;
  }
  if (modified || (i == length && !top_level)) return Completion::partial(i, U"");
  return Completion::done(i);
}

Completion Fixer::complete_container(Str s, bool object) {
  const char32_t close = object ? U'}' : U']';
  const std::u32string closer(1, close);
  int64_t i = 1, j = 1;
  auto caught = [&]() {  // `except IndexError: return (i, "]")` (or "}")
    error_ = Error::kNone;
    return Completion::partial(i, closer);
  };
  while (true) {
    j = skip_blank(s, j);
    char32_t c = at(s, j);
    if (error_ == Error::kIndex) return caught();
    if (c == close) return Completion::done(j + 1);
    if (object) {  // "key" :
      Completion key = complete_str(tail_of(s, j));
      if (error_ == Error::kIndex) return caught();
      if (error_ != Error::kNone) return {};
      if (!key.ok || !key.complete) return Completion::partial(i, closer);
      j = skip_blank(s, j + key.index);
      c = at(s, j);
      if (error_ == Error::kIndex) return caught();
      if (c != U':') {
        error_ = Error::kOther;
        return {};
      }
      j = skip_blank(s, j + 1);
    }
    Completion r = complete_any(tail_of(s, j), false);
    if (error_ == Error::kIndex) return caught();
    if (error_ != Error::kNone) return {};
    if (!r.ok) return Completion::partial(i, closer);
    if (!r.complete) return Completion::partial(j + r.index, r.tail + closer);
    i = j = j + r.index;
    j = skip_blank(s, j);
    c = at(s, j);
    if (error_ == Error::kIndex) return caught();
    if (c == U',') {
      ++j;
    } else if (c == close) {
      return Completion::done(j + 1);
    } else {
      error_ = Error::kOther;
      return {};
    }
  }
}

std::optional<Fixed> Fixer::fix_fast(Str s) {
  std::vector<std::pair<int64_t, char32_t>> tokens;
  for (size_t k = 0; k < s.size(); ++k) {
    const char32_t c = s[k];
    if (c == U'"' || c == U'[' || c == U']' || c == U'{' || c == U'}') tokens.emplace_back(static_cast<int64_t>(k), c);
  }
  if (tokens.empty() || tokens[0].second == U'"') return fix(s, true);

  std::vector<std::pair<int64_t, char32_t>> stack;
  bool in_string = false;
  int64_t last_string_start = -1, last_string_end = -1;
  for (const auto& [i, c] : tokens) {
    if (c == U'"') {
      if (!in_string) {
        in_string = true;
        last_string_start = i;
      } else if (!is_escaped(s, i)) {
        in_string = false;
        last_string_end = i;
      }
    } else if (!in_string) {
      if (c == U'}' || c == U']') {
        if (stack.empty() || stack.back().second != (c == U'}' ? U'{' : U'[')) return std::nullopt;
        stack.pop_back();
      } else {
        stack.emplace_back(i, c);
      }
    }
  }
  if (stack.empty()) return Fixed{std::u32string(s), {}};
  const auto join = [&](size_t count) { return closing(stack, count); };
  const size_t depth = stack.size();
  const auto [top_i, top_c] = stack.back();

  auto with_fix = [&](Str fix_input, int64_t keep, size_t drop_head, size_t closers) -> std::optional<Fixed> {
    std::optional<Fixed> f = fix(fix_input, false);
    if (!f) return std::nullopt;
    return Fixed{head(s, keep) + f->head.substr(std::min(drop_head, f->head.size())), f->tail + join(closers)};
  };
  // `not head[1:] + tail[:-1].strip()`: the fixed tail of a container holds nothing.
  auto empty_fix = [](const Fixed& f) {
    std::u32string_view t = f.tail;
    if (!t.empty()) t.remove_suffix(1);
    return f.head.size() <= 1 && strip(t).empty();
  };

  if (!partial_strings_ && in_string) {  // truncate before the last key
    if (top_i > last_string_end && top_c == U'{') return Fixed{head(s, top_i + 1), join(depth)};
    const int64_t comma = rfind(s, U',', std::max(top_i, last_string_end) + 1, last_string_start);
    if (comma != -1) return Fixed{head(s, comma), join(depth)};
    // truncate_before_last_key_start(container_start, last_string_end)
    int64_t key_start = last_string_end;
    while (true) {
      key_start = rfind(s, U'"', top_i, key_start);
      if (key_start == -1) return Fixed{head(s, top_i + 1), join(depth)};
      if (is_escaped(s, key_start)) {
        --key_start;
        continue;
      }
      const int64_t c2 = rfind(s, U',', top_i, key_start);
      if (c2 == -1) return Fixed{head(s, top_i + 1), join(depth)};
      return Fixed{head(s, c2), join(depth)};
    }
  }
  if (in_string != (last_string_end < last_string_start)) return std::nullopt;  // assert
  if (in_string) {
    if (top_c == U'[') return with_fix(tail_of(s, last_string_start), last_string_start, 0, depth);
    const int64_t start = std::max(last_string_end, top_i);
    const Str between = s.substr(static_cast<size_t>(start + 1),
                                 static_cast<size_t>(std::max<int64_t>(0, last_string_start - start - 1)));
    if (between.find(U',') != Str::npos) {
      const int64_t comma = rfind(s, U',', start, last_string_start);
      const std::u32string input = std::u32string(1, top_c) + std::u32string(tail_of(s, comma + 1));
      return with_fix(input, comma, 1, depth - 1);
    }
    if (between.find(U':') != Str::npos) return with_fix(tail_of(s, last_string_start), last_string_start, 0, depth);
    return Fixed{head(s, last_string_start), join(depth)};
  }

  const auto [last_i, last_c] = tokens.back();
  const int64_t comma = rfind(s, U',', std::max(last_string_end, last_i) + 1, len(s));
  if (comma != -1) {
    if (strip(tail_of(s, comma + 1)).empty()) return Fixed{head(s, comma), join(depth)};
    if (top_c != U'[') return std::nullopt;  // assert
    const std::u32string input = U"[" + std::u32string(tail_of(s, comma + 1));
    std::optional<Fixed> f = fix(input, false);
    if (!f) return std::nullopt;
    const std::u32string rest = f->head.substr(std::min<size_t>(1, f->head.size()));
    if (empty_fix(*f)) return Fixed{head(s, comma) + rest, f->tail + join(depth - 1)};
    return Fixed{head(s, comma + 1) + rest, f->tail + join(depth - 1)};
  }
  if (last_c == U']' || last_c == U'}') {
    if (!strip(tail_of(s, last_i + 1)).empty()) return std::nullopt;  // assert
    return Fixed{std::u32string(s), join(depth)};
  }
  if (last_c == U'[' || last_c == U'{') return with_fix(tail_of(s, last_i), last_i, 0, depth - 1);
  // The last token closed a string.
  if (top_c == U'[') return Fixed{std::u32string(s), join(depth)};
  const int64_t last_colon = rfind(s, U':', last_string_end, len(s));
  const int64_t obj_comma = rfind(s, U',', top_i + 1, last_string_start);
  if (obj_comma == -1) return with_fix(tail_of(s, top_i), top_i, 0, depth - 1);
  const std::u32string input = U"{" + std::u32string(tail_of(s, obj_comma + 1));
  std::optional<Fixed> f;
  if (last_colon == -1) {
    if (rfind(s, U':', std::max(top_i, obj_comma) + 1, last_string_start) != -1) return Fixed{std::u32string(s), join(depth)};
    f = fix(input, false);
    if (!f) return std::nullopt;
    const std::u32string rest = f->head.substr(std::min<size_t>(1, f->head.size()));
    if (empty_fix(*f)) return Fixed{head(s, obj_comma) + rest, f->tail + join(depth - 1)};
    return Fixed{head(s, obj_comma + 1) + rest, f->tail + join(depth)};
  }
  if (last_colon <= obj_comma) return std::nullopt;  // assert
  f = fix(input, false);
  if (!f) return std::nullopt;
  const std::u32string rest = f->head.substr(std::min<size_t>(1, f->head.size()));
  if (empty_fix(*f)) return Fixed{head(s, obj_comma) + rest, f->tail + join(depth - 1)};
  return Fixed{head(s, obj_comma + 1) + rest, f->tail + join(depth - 1)};
}


}  // namespace

std::optional<std::string> partial_json_complete(std::string_view text, bool partial_strings) {
  const std::u32string s = jinja::utf8_decode(text);
  Fixer fixer(partial_strings);
  std::optional<Fixed> f = fixer.fix_fast(s);
  if (!f) return std::nullopt;
  return jinja::utf8_encode(f->head + f->tail);
}

std::optional<PartialJson> partial_json_loads(std::string_view text, bool partial_strings) {
  std::optional<std::string> completed = partial_json_complete(text, partial_strings);
  if (!completed) return std::nullopt;
  // json.loads: whitespace, one value, whitespace; a value followed by more is "Extra data", which vLLM answers
  // with raw_decode of the text as given.
  size_t pos = 0;
  while (pos < completed->size() && is_json_space((*completed)[pos])) ++pos;
  std::optional<RawDecoded> first = json_raw_decode(*completed, pos);
  if (!first) return std::nullopt;
  size_t end = first->end;
  while (end < completed->size() && is_json_space((*completed)[end])) ++end;
  if (end == completed->size()) return PartialJson{std::move(first->value), text.size()};
  std::optional<RawDecoded> raw = json_raw_decode(text, 0);
  if (!raw) return std::nullopt;
  return PartialJson{std::move(raw->value), raw->end};
}

}  // namespace podserve::openai
