// jinja2 filters for text and grouping that chat templates rarely use: wordcount, truncate, urlencode,
// attr, groupby, wordwrap.
#include <algorithm>
#include <cstdio>
#include <string_view>

#include "chat/builtins.h"
#include "chat/evaluator.h"
#include "chat/py_string.h"

namespace podserve::jinja {
namespace {

// Python's `\w` for one code point: ASCII letters/digits/underscore, and non-ASCII code points outside the
// common punctuation and space blocks (an approximation of Unicode's alphanumeric classes).
bool is_word_char(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (py_isspace(c)) return false;
  if (c >= 0xA1 && c <= 0xBF && c != 0xAA && c != 0xB2 && c != 0xB3 && c != 0xB5 && c != 0xB9 && c != 0xBA &&
      c != 0xBC && c != 0xBD && c != 0xBE) {
    return false;
  }
  if (c == 0xD7 || c == 0xF7) return false;
  if ((c >= 0x2000 && c <= 0x206F) || (c >= 0x3000 && c <= 0x303F) || (c >= 0xFF00 && c <= 0xFF0F)) return false;
  return !(c >= 0x1F000 && c <= 0x1FAFF);  // emoji and symbols
}

// len(re.findall(r"\w+", str(value))).
Result<Value> f_wordcount(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_RETURN_IF_ERROR(BoundArgs::bind(a, "wordcount", {}).status());
  int64_t words = 0;
  bool in_word = false;
  for (char32_t c : utf8_decode(to_str(v))) {
    const bool w = is_word_char(c);
    if (w && !in_word) ++words;
    in_word = w;
  }
  return Value(words);
}

// jinja2's do_truncate with the default policy truncate.leeway = 5.
Result<Value> f_truncate(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b,
                            BoundArgs::bind(a, "truncate", {"length", "killwords", "end", "leeway"}));
  int64_t length = 255, leeway = 5;
  if (b.has(0)) {
    PODSERVE_ASSIGN_OR_RETURN(length, int_arg(b.get(0), "truncate() length"));
  }
  const bool killwords = b.has(1) && truthy(b.get(1));
  std::string end = "...";
  if (b.has(2)) {
    PODSERVE_ASSIGN_OR_RETURN(end, string_arg(b.get(2), "truncate() end"));
  }
  if (b.has(3) && !b.get(3).is_none()) {
    PODSERVE_ASSIGN_OR_RETURN(leeway, int_arg(b.get(3), "truncate() leeway"));
  }
  const int64_t end_len = utf8_length(end);
  if (length < end_len) return invalid_argument("expected length >= " + std::to_string(end_len) + ", got " + std::to_string(length));
  if (leeway < 0) return invalid_argument("expected leeway >= 0, got " + std::to_string(leeway));
  if (v.is_undefined()) return v;  // len(Undefined) is 0
  if (!v.is_string()) return invalid_argument("truncate: expected a string, got '" + type_name(v) + "'");
  const std::u32string s = utf8_decode(v.as_string());
  if (static_cast<int64_t>(s.size()) <= length + leeway) return v;
  std::u32string head = s.substr(0, static_cast<size_t>(length - end_len));
  if (!killwords) {
    const size_t space = head.rfind(U' ');
    if (space != std::u32string::npos) head.resize(space);
  }
  return Value(utf8_encode(head) + end);
}

// werkzeug-style url_quote: UTF-8 bytes, unreserved characters kept, '/' kept unless in a query string.
std::string url_quote(const Value& v, bool for_qs) {
  std::string out;
  for (unsigned char c : to_str(v)) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' ||
        c == '-' || c == '~' || (c == '/' && !for_qs)) {
      out += static_cast<char>(c);
    } else if (c == ' ' && for_qs) {
      out += '+';
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

Result<Value> f_urlencode(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_RETURN_IF_ERROR(BoundArgs::bind(a, "urlencode", {}).status());
  if (v.is_string() || !(v.is_array() || v.is_object())) return Value(url_quote(v, false));
  std::string out;
  auto add = [&](const Value& k, const Value& val) {
    if (!out.empty()) out += '&';
    out += url_quote(k, true) + "=" + url_quote(val, true);
  };
  if (v.is_object()) {
    for (const auto& [k, val] : v.as_object().entries) add(dict_key_value(k), val);
    return Value(std::move(out));
  }
  for (const Value& item : v.as_array()) {
    PODSERVE_ASSIGN_OR_RETURN(Array pair, iterate(item));
    if (pair.size() != 2) {
      return invalid_argument("urlencode: expected (key, value) pairs, got " + std::to_string(pair.size()) + " values");
    }
    add(pair[0], pair[1]);
  }
  return Value(std::move(out));
}

// environment.getattr: attributes only, never dict items.
Result<Value> f_attr(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "attr", {"name"}, 1));
  PODSERVE_ASSIGN_OR_RETURN(std::string name, string_arg(b.get(0), "attr() name"));
  if (v.is_undefined()) return v;
  if (v.is_dict() && v.as_object().find(name) != nullptr) {
    static constexpr std::string_view kMethods[] = {"clear", "copy", "get", "items", "keys", "pop",
                                                    "popitem", "setdefault", "update", "values"};
    if (std::find(std::begin(kMethods), std::end(kMethods), name) == std::end(kMethods)) {
      return Value::undefined("'dict object' has no attribute '" + name + "'");
    }
  }
  return get_attr(v, name);
}

// The attribute getter of groupby: an int is an index, a string a dotted path; undefined gives `fallback`.
Result<Value> group_key(const Value& item, const Value& attribute, const Value& fallback, bool lower) {
  Value key;
  if (attribute.is_int()) {
    PODSERVE_ASSIGN_OR_RETURN(key, get_item(item, attribute));
  } else {
    PODSERVE_ASSIGN_OR_RETURN(key, get_attr_path(item, to_str(attribute)));
  }
  if (key.is_undefined() && !fallback.is_undefined()) key = fallback;
  return lower && key.is_string() ? Value(py_lower(key.as_string())) : key;
}

// groupby: sorted by the key (stable), consecutive equal keys grouped; each group is a (grouper, list)
// namedtuple.
// Without case_sensitive the grouper shown is the first member's original key.
Result<Value> f_groupby(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b,
                            BoundArgs::bind(a, "groupby", {"attribute", "default", "case_sensitive"}, 1));
  const Value fallback = b.has(1) && !b.get(1).is_none() ? b.get(1) : Value();
  const bool lower = !(b.has(2) && truthy(b.get(2)));
  PODSERVE_ASSIGN_OR_RETURN(Array items, iterate(v));
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& item : items) {
    PODSERVE_ASSIGN_OR_RETURN(Value key, group_key(item, b.get(0), fallback, lower));
    keyed.emplace_back(std::move(key), item);
  }
  Status failure;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    if (!failure.ok()) return false;
    auto c = compare(x.first, y.first);
    if (!c.ok()) failure = c.status();
    return c.ok() && *c < 0;
  });
  PODSERVE_RETURN_IF_ERROR(failure);
  Array out;
  for (size_t i = 0; i < keyed.size();) {
    size_t j = i;
    Array members;
    while (j < keyed.size() && equals(keyed[j].first, keyed[i].first)) members.push_back(keyed[j++].second);
    Value grouper = keyed[i].first;
    if (lower) {
      PODSERVE_ASSIGN_OR_RETURN(grouper, group_key(members[0], b.get(0), fallback, false));
    }
    out.push_back(Value::group_tuple(std::move(grouper), Value::array(std::move(members))));
    i = j;
  }
  return Value::array(std::move(out));
}

bool is_wrap_space(char32_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// textwrap's wordsep_re (Python 3.11) as a scanner: whitespace runs, em-dashes between words, and words
// split after the hyphens of hyphenated words ("well-known" -> "well-", "known").
std::vector<std::u32string> hyphen_chunks(const std::u32string& t) {
  const size_t n = t.size();
  const auto at = [&](size_t i) { return i < n ? t[i] : U'\0'; };
  const auto letter = [&](size_t i) { return i < n && is_word_char(t[i]) && !(t[i] >= '0' && t[i] <= '9'); };
  const auto word_punct = [&](size_t i) {
    return i < n && (is_word_char(t[i]) || std::u32string_view(U"!\"'&.,?").find(t[i]) != std::u32string_view::npos);
  };
  // -{2,} then a word character, starting at i.
  const auto em_dash_at = [&](size_t i) {
    size_t j = i;
    while (at(j) == U'-') ++j;
    return j - i >= 2 && j < n && is_word_char(t[j]);
  };
  std::vector<std::u32string> chunks;
  size_t i = 0;
  while (i < n) {
    size_t end = i + 1;
    if (is_wrap_space(t[i])) {
      while (end < n && is_wrap_space(t[end])) ++end;
    } else if (i > 0 && word_punct(i - 1) && em_dash_at(i)) {
      while (at(end) == U'-') ++end;
    } else {
      for (;; ++end) {  // the shortest non-space run followed by one of the three endings
        if (at(end) == U'-' && ((letter(end - 2) && letter(end - 1)) ||
                               (end >= 3 && letter(end - 3) && at(end - 2) == U'-' && letter(end - 1))) &&
            letter(end + 1) && (letter(end + 2) || (at(end + 2) == U'-' && letter(end + 3)))) {
          ++end;  // hyphenated word: the hyphen stays with the left part
          break;
        }
        if (end >= n || is_wrap_space(t[end])) break;
        if (word_punct(end - 1) && em_dash_at(end)) break;
      }
    }
    chunks.push_back(t.substr(i, end - i));
    i = end;
  }
  return chunks;
}

// Python's textwrap.wrap(line, width, expand_tabs=False, replace_whitespace=False, break_long_words,
// break_on_hyphens) for a line already split into whitespace / word chunks.
std::vector<std::u32string> wrap_chunks(std::vector<std::u32string> chunks, size_t width, bool break_long,
                                        bool break_on_hyphens) {
  auto blank = [](const std::u32string& c) { return std::all_of(c.begin(), c.end(), is_wrap_space); };
  std::vector<std::u32string> lines;
  std::reverse(chunks.begin(), chunks.end());
  while (!chunks.empty()) {
    std::vector<std::u32string> line;
    size_t len = 0;
    if (blank(chunks.back()) && !lines.empty()) chunks.pop_back();
    while (!chunks.empty() && len + chunks.back().size() <= width) {
      len += chunks.back().size();
      line.push_back(std::move(chunks.back()));
      chunks.pop_back();
    }
    if (!chunks.empty() && chunks.back().size() > width) {  // textwrap's _handle_long_word
      const size_t space_left = width - len;
      std::u32string& chunk = chunks.back();
      if (break_long) {
        size_t end = space_left;
        if (break_on_hyphens && chunk.size() > space_left) {
          const size_t hyphen = space_left == 0 ? std::u32string::npos : chunk.rfind(U'-', space_left - 1);
          if (hyphen != std::u32string::npos && hyphen > 0 &&
              chunk.find_first_not_of(U'-') < hyphen) {
            end = hyphen + 1;
          }
        }
        line.push_back(chunk.substr(0, end));
        chunk.erase(0, end);
      } else if (line.empty()) {
        line.push_back(std::move(chunk));
        chunks.pop_back();
      }
    }
    if (!line.empty() && blank(line.back())) line.pop_back();
    if (!line.empty()) {
      std::u32string joined;
      for (const auto& c : line) joined += c;
      lines.push_back(std::move(joined));
    }
  }
  return lines;
}

Result<Value> f_wordwrap(Evaluator&, const Value& v, const CallArgs& a) {
  PODSERVE_ASSIGN_OR_RETURN(BoundArgs b, BoundArgs::bind(a, "wordwrap", {"width", "break_long_words", "wrapstring",
                                                                           "break_on_hyphens"}));
  int64_t width = 79;
  if (b.has(0)) {
    PODSERVE_ASSIGN_OR_RETURN(width, int_arg(b.get(0), "wordwrap() width"));
  }
  const bool break_long = !b.has(1) || truthy(b.get(1));
  std::string wrapstring = "\n";
  if (b.has(2) && !b.get(2).is_none()) {
    PODSERVE_ASSIGN_OR_RETURN(wrapstring, string_arg(b.get(2), "wordwrap() wrapstring"));
  }
  const bool break_on_hyphens = !b.has(3) || truthy(b.get(3));
  if (!v.is_string()) return invalid_argument("wordwrap: expected a string, got '" + type_name(v) + "'");
  std::string out;
  bool first_line = true;
  for (const std::string& line : py_splitlines(v.as_string())) {
    const std::u32string text = utf8_decode(line);
    if (width <= 0) return invalid_argument("invalid width " + std::to_string(width) + " (must be > 0)");
    std::vector<std::u32string> chunks;
    if (break_on_hyphens) chunks = hyphen_chunks(text);
    for (size_t i = 0; !break_on_hyphens && i < text.size();) {
      size_t j = i;
      const bool space = is_wrap_space(text[i]);
      while (j < text.size() && is_wrap_space(text[j]) == space) ++j;
      chunks.push_back(text.substr(i, j - i));
      i = j;
    }
    if (!first_line) out += wrapstring;
    first_line = false;
    bool first = true;
    for (const auto& wrapped : wrap_chunks(std::move(chunks), static_cast<size_t>(width), break_long, break_on_hyphens)) {
      if (!first) out += wrapstring;
      first = false;
      out += utf8_encode(wrapped);
    }
  }
  return Value(std::move(out));
}

}  // namespace

FilterFn find_misc_filter(std::string_view name);  // filters_misc.cpp

FilterFn find_text_filter(std::string_view name) {
  static constexpr std::pair<std::string_view, FilterFn> kFilters[] = {
      {"attr", f_attr},         {"groupby", f_groupby},     {"truncate", f_truncate},
      {"urlencode", f_urlencode}, {"wordcount", f_wordcount}, {"wordwrap", f_wordwrap},
  };
  for (const auto& [n, fn] : kFilters) {
    if (n == name) return fn;
  }
  return find_misc_filter(name);
}

}  // namespace podserve::jinja
