#include "structured/json_schema_strings.h"

#include <boost/json.hpp>
#include <cstdio>
#include <map>

#include "base/utf8.h"
#include "structured/ebnf_text.h"
#include "structured/regex_to_ebnf.h"

namespace podserve::structured {
namespace {

// The formats' languages, written as regexes (xgrammar 0.2.8 compiles each format from a regex; these
// describe the same strings, read from its grammars and checked against it in tests/structured).
#define HEX "[0-9A-Fa-f]"
#define PCT "%" HEX "{2}"
#define TIME_PART                                                          \
  "(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\\.[0-9]+)?"       \
  "(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
#define DATE_PART "[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
#define DUR_TIME "(?:[0-9]+S|[0-9]+M(?:[0-9]+S)?|[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?)"
#define IPV4_OCTET "(?:25[0-5]|2[0-4][0-9]|[0-1]?[0-9]?[0-9])"
#define H6 "[0-9a-fA-F]{1,4}"
#define V4_IN_6 "(?:25[0-5]|(?:2[0-4]|1?[0-9])?[0-9])"
#define URI_USER "(?:[a-zA-Z0-9_.~!$&'()*+,;=:-]|" PCT ")"
#define URI_HOST "(?:[a-zA-Z0-9_.~!$&'()*+,;=-]|" PCT ")"
#define URI_PCHAR "(?:[a-zA-Z0-9_.~!$&'()*+,;=:@-]|" PCT ")"
#define URI_NOCOLON "(?:[a-zA-Z0-9_.~!$&'()*+,;=@-]|" PCT ")"
#define URI_QCHAR "(?:[a-zA-Z0-9_.~!$&'()*+,;=:@/?-]|" PCT ")"
#define URI_AUTHORITY "//(?:" URI_USER "*@)?" URI_HOST "*(?::[0-9]*)?(?:/" URI_PCHAR "*)*"
#define URI_TAIL "(?:\\?" URI_QCHAR "*)?(?:#" URI_QCHAR "*)?"
#define TPL_VAR "(?:[a-zA-Z0-9_]|" PCT ")"
#define TPL_SPEC TPL_VAR "(?:\\.?" TPL_VAR ")*(?::[1-9][0-9]?[0-9]?[0-9]?|\\*)?"
#define JSON_PTR "(?:/(?:[\\x00-.0-}\\x7f-\\U0010FFFF]|~[01])*)*"

const std::map<std::string_view, const char*>& format_regexes() {
  static const std::map<std::string_view, const char*> kFormats = {
      {"email",
       "(?:[a-zA-Z0-9_!#$%&'*+/=?^`{|}~-]+(?:\\.[a-zA-Z0-9_!#$%&'*+/=?^`{|}~-]+)*"
       "|\\\\\"(?:\\\\[ -~]|[ !#-\\[\\]-~])*\\\\\")"
       "@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])*"},
      {"date", DATE_PART},
      {"time", TIME_PART},
      {"date-time", DATE_PART "T" TIME_PART},
      {"duration",
       "P(?:(?:[0-9]+D|[0-9]+M(?:[0-9]+D)?|[0-9]+Y(?:[0-9]+M(?:[0-9]+D)?)?)(?:T" DUR_TIME ")?|T" DUR_TIME
       "|[0-9]+W)"},
      {"ipv4", "(?:" IPV4_OCTET "\\.){3}" IPV4_OCTET},
      {"ipv6",
       "(?:" H6 ":){7}" H6 "|(?:" H6 ":){1,7}:|(?:" H6 ":){1,6}:" H6 "|(?:" H6 ":){1,5}(?::" H6 "){1,2}"
       "|(?:" H6 ":){1,4}(?::" H6 "){1,3}|(?:" H6 ":){1,3}(?::" H6 "){1,4}|(?:" H6 ":){1,2}(?::" H6 "){1,5}"
       "|" H6 ":(?::" H6 "){1,6}|:(?:(?::" H6 "){1,7}|:)"
       "|::(?:ffff(?::0{1,4})?:)?(?:" V4_IN_6 "\\.){3}" V4_IN_6 "|(?:" H6 ":){1,4}:(?:" V4_IN_6 "\\.){3}" V4_IN_6},
      {"hostname", "[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"},
      {"uuid", HEX "{8}-" HEX "{4}-" HEX "{4}-" HEX "{4}-" HEX "{12}"},
      {"uri", "[a-zA-Z][a-zA-Z+.-]*:(?:" URI_AUTHORITY "|/?(?:" URI_PCHAR "+(?:/" URI_PCHAR "*)*)?)" URI_TAIL},
      {"uri-reference",
       "(?:" URI_AUTHORITY "|/(?:" URI_PCHAR "+(?:/" URI_PCHAR "*)*)?|" URI_NOCOLON "+(?:/" URI_PCHAR "*)*)?" URI_TAIL},
      {"uri-template",
       "(?:[!#-$&(-;=?-\\[\\]_a-z~]|" PCT "|\\{[+#./;?&=,!@|]?" TPL_SPEC "(?:," TPL_SPEC ")*\\})*"},
      {"json-pointer", JSON_PTR},
      {"relative-json-pointer", "(?:0|[1-9][0-9]*)(?:#|" JSON_PTR ")"},
  };
  return kFormats;
}
// The fragments' macros end here: unity builds compile the next .cpp files in this translation unit.
#undef HEX
#undef PCT
#undef TIME_PART
#undef DATE_PART
#undef DUR_TIME
#undef IPV4_OCTET
#undef H6
#undef V4_IN_6
#undef URI_USER
#undef URI_HOST
#undef URI_PCHAR
#undef URI_NOCOLON
#undef URI_QCHAR
#undef URI_AUTHORITY
#undef URI_TAIL
#undef TPL_VAR
#undef TPL_SPEC
#undef JSON_PTR

void append_json_string(const std::string_view s, std::string* out) {
  out->push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          *out += buf;
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

void append_compact(const boost::json::value& v, std::string* out) {
  char buf[40];
  switch (v.kind()) {
    case boost::json::kind::null: *out += "null"; break;
    case boost::json::kind::bool_: *out += v.get_bool() ? "true" : "false"; break;
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      std::snprintf(buf, sizeof(buf), "%.17g", v.to_number<double>());
      *out += buf;
      break;
    case boost::json::kind::string: append_json_string(v.get_string(), out); break;
    case boost::json::kind::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out->push_back(',');
        first = false;
        append_compact(e, out);
      }
      out->push_back(']');
      break;
    }
    case boost::json::kind::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out->push_back(',');
        first = false;
        append_json_string(kv.key(), out);
        out->push_back(':');
        append_compact(kv.value(), out);
      }
      out->push_back('}');
      break;
    }
  }
}

// Raw JSON string text split into tokens: one code point, or one escape sequence (backslash included).
std::vector<std::string> raw_tokens(std::string_view raw) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < raw.size()) {
    size_t len = 1;
    if (raw[i] == '\\' && i + 1 < raw.size()) {
      len = raw[i + 1] == 'u' ? std::min<size_t>(6, raw.size() - i) : 2;
    } else {
      const auto c = static_cast<unsigned char>(raw[i]);
      len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
      len = std::min(len, raw.size() - i);
    }
    tokens.emplace_back(raw.substr(i, len));
    i += len;
  }
  return tokens;
}

struct TrieNode {
  bool terminal = false;
  std::map<std::string, TrieNode> children;  // by token
};

// Strings over a fixed alphabet class, of exactly `len` symbols, that are none of `words` (all of length
// `len`), followed by `rest`. Used for \uXXXX escapes of excluded keys.
std::string excluded_fixed(const std::map<std::string, TrieNode>& children, const std::string& hint,
                           const std::string& rest, const AddRule& add_rule);

std::string node_rule(const TrieNode& node, const std::string& hint, const std::string& rest,
                      const std::string& escape, const AddRule& add_rule) {
  std::vector<std::string> alts;
  if (!node.terminal) alts.push_back("\"\\\"\"");
  CodepointSet plain = CodepointSet::of(0, kMaxCodepoint);
  plain = plain.minus(CodepointSet::of(0, 0x1F));
  plain = plain.minus(CodepointSet::of('"', '"'));
  plain = plain.minus(CodepointSet::of('\\', '\\'));
  std::map<std::string, TrieNode> simple_escapes, unicode_escapes;
  for (const auto& [token, child] : node.children) {
    if (token[0] == '\\') {
      (token.size() > 1 && token[1] == 'u' ? unicode_escapes : simple_escapes)[token.substr(1)] = child;
      continue;
    }
    size_t pos = 0;
    const uint32_t cp = utf8_decode_next(token, &pos);
    plain = plain.minus(CodepointSet::of(cp, cp));
    alts.push_back(ebnf_literal(token) + " " + node_rule(child, hint, rest, escape, add_rule));
  }
  if (!plain.empty()) alts.push_back(ebnf_class(plain) + " " + rest);
  if (simple_escapes.empty() && unicode_escapes.empty()) {
    alts.push_back("\"\\\\\" " + escape + " " + rest);
  } else {
    CodepointSet simple;
    for (const char c : std::string_view("\"\\/bfnrt")) simple.add(static_cast<uint8_t>(c), static_cast<uint8_t>(c));
    for (const auto& [body, child] : simple_escapes) {
      simple = simple.minus(CodepointSet::of(static_cast<uint8_t>(body[0]), static_cast<uint8_t>(body[0])));
      alts.push_back(ebnf_literal("\\" + body) + " " + node_rule(child, hint, rest, escape, add_rule));
    }
    if (!simple.empty()) alts.push_back("\"\\\\\" " + ebnf_class(simple) + " " + rest);
    if (unicode_escapes.empty()) {
      alts.push_back("\"\\\\u\" [A-Fa-f0-9]{4} " + rest);
    } else {
      std::map<std::string, TrieNode> by_hex;  // "u0041" -> child, keyed by the 4 hex digits
      for (const auto& [body, child] : unicode_escapes) by_hex[body.substr(1)] = child;
      // Unicode escapes of excluded keys continue in their own trie nodes; any other one is free.
      std::vector<std::string> exact;
      for (const auto& [hex, child] : by_hex) {
        exact.push_back(ebnf_literal("\\u" + hex) + " " + node_rule(child, hint, rest, escape, add_rule));
      }
      alts.insert(alts.end(), exact.begin(), exact.end());
      alts.push_back("\"\\\\u\" " + excluded_fixed(by_hex, hint, rest, add_rule));
    }
  }
  std::string body;
  for (size_t i = 0; i < alts.size(); ++i) body += (i ? " | " : "") + std::string("(") + alts[i] + ")";
  return add_rule(hint, body);
}

std::string excluded_fixed(const std::map<std::string, TrieNode>& words, const std::string& hint,
                           const std::string& rest, const AddRule& add_rule) {
  // Group the 4-hex-digit words by their first digit; digits no word starts with lead straight to `rest`.
  if (words.empty()) return "[A-Fa-f0-9]{4} " + rest;
  const size_t len = words.begin()->first.size();
  if (len == 0) return "";  // unreachable: the exact words are handled by the caller
  std::map<char, std::map<std::string, TrieNode>> by_first;
  for (const auto& [w, child] : words) by_first[w[0]][w.substr(1)] = child;
  CodepointSet free = CodepointSet::of('0', '9');
  free.add('a', 'f');
  free.add('A', 'F');
  std::vector<std::string> alts;
  for (const auto& [c, tail] : by_first) {
    free = free.minus(CodepointSet::of(static_cast<uint8_t>(c), static_cast<uint8_t>(c)));
    if (len == 1) continue;
    alts.push_back(std::string("\"") + c + "\" " + excluded_fixed(tail, hint, rest, add_rule));
  }
  if (!free.empty()) {
    alts.push_back(ebnf_class(free) + (len > 1 ? " [A-Fa-f0-9]{" + std::to_string(len - 1) + "}" : "") + " " + rest);
  }
  std::string body;
  for (size_t i = 0; i < alts.size(); ++i) body += (i ? " | " : "") + std::string("(") + alts[i] + ")";
  return add_rule(hint, body);
}

}  // namespace

bool is_supported_format(std::string_view format) { return format_regexes().count(format) > 0; }

Result<std::string> format_body_ebnf(std::string_view format) {
  const auto it = format_regexes().find(format);
  if (it == format_regexes().end()) return invalid_argument("Unsupported format: " + std::string(format));
  return regex_to_ebnf_expr(it->second);
}

std::string json_compact(const boost::json::value& value) {
  std::string out;
  append_compact(value, &out);
  return out;
}

std::string excluded_key_rules(const std::vector<std::string>& excluded, const std::string& hint,
                               const std::string& string_rest, const std::string& escape,
                               const AddRule& add_rule) {
  TrieNode root;
  for (const std::string& raw : excluded) {
    TrieNode* node = &root;
    for (const std::string& token : raw_tokens(raw)) node = &node->children[token];
    node->terminal = true;
  }
  return node_rule(root, hint, string_rest, escape, add_rule);
}

}  // namespace podserve::structured
