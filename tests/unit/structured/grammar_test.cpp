// The EBNF parser (errors with line and column, round trips), the automata (UTF-8 classes as xgrammar reads
// them) and the Earley matcher's language on strings.
#include <gtest/gtest.h>

#include "base/utf8.h"
#include "structured/automaton.h"
#include "structured/ebnf_parser.h"
#include "structured/earley.h"

namespace podserve::structured {
namespace {

/// Whether the grammar's root derives exactly `text`.
bool matches(const std::string& ebnf, const std::string& text) {
  Result<Grammar> g = parse_ebnf(ebnf);
  EXPECT_TRUE(g.ok()) << g.status().to_string();
  if (!g.ok()) return false;
  Result<RuleAutomata> a = build_automata(*g);
  EXPECT_TRUE(a.ok()) << a.status().to_string();
  EarleyParser p(&*a);
  return p.advance_bytes(text.data(), text.size()) == text.size() && p.goal_complete();
}

/// Whether `text` is a prefix of some string of the language (the parser stays alive).
bool live_prefix(const std::string& ebnf, const std::string& text) {
  Grammar g = parse_ebnf(ebnf).value();
  RuleAutomata a = build_automata(g).value();
  EarleyParser p(&a);
  return p.advance_bytes(text.data(), text.size()) == text.size();
}

TEST(EbnfParserTest, ErrorsNameLineAndColumn) {
  Result<Grammar> g = parse_ebnf("root ::= \"a\"\nfoo ::= [a-\n");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("line 2"), std::string::npos) << g.status().message();
  g = parse_ebnf("root ::= \"a\" | ");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("expected an expression"), std::string::npos) << g.status().message();
  g = parse_ebnf("root ::= missing");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("\"missing\" is not defined"), std::string::npos);
  g = parse_ebnf("start ::= \"a\"");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("root rule"), std::string::npos);
  g = parse_ebnf("root ::= \"a\"{3,2}");
  EXPECT_FALSE(g.ok());
  g = parse_ebnf("root ::= \"a\"{,2}");  // xgrammar has no {,m}
  EXPECT_FALSE(g.ok());
  g = parse_ebnf("root ::= \"\\q\"");
  EXPECT_FALSE(g.ok());
  g = parse_ebnf("root ::= \"a\"\nroot ::= \"b\"");
  EXPECT_FALSE(g.ok());
  g = parse_ebnf("root ::= TagDispatch(\"a\")");
  EXPECT_FALSE(g.ok());
  g = parse_ebnf("root ::= Regex(\"[a\")");  // the regex's own error
  EXPECT_FALSE(g.ok());
  g = parse_ebnf(std::string(300, '(') + "\"a\"" + std::string(300, ')'));
  EXPECT_FALSE(g.ok());
  g = parse_ebnf("root ::= \"a\"{1,100000}");
  EXPECT_FALSE(g.ok());
}

TEST(EbnfParserTest, PrintsParseableEbnf) {
  const char* text =
      "# comment\nroot ::= (\"a\" | [^\"\\\\\\x00-\\x1f] item*)+ \"\\u00e9\" tail? (= [,}])\n"
      "item ::= [a-z\\-]{2,3} | \"\"\ntail ::= \"x\"{2,} root_2\nroot_2 ::= [^]{0, -1}\n";
  Result<Grammar> g = parse_ebnf(text);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  const std::string printed = g->to_ebnf();
  Result<Grammar> again = parse_ebnf(printed);
  ASSERT_TRUE(again.ok()) << again.status().to_string() << "\n" << printed;
  EXPECT_EQ(again->to_ebnf(), printed);
  EXPECT_TRUE(g->rules[0].lookahead.has_value());
}

TEST(EarleyTest, Language) {
  EXPECT_TRUE(matches("root ::= \"ab\" [c-e]* \"f\"", "abccdf"));
  EXPECT_FALSE(matches("root ::= \"ab\" [c-e]* \"f\"", "abcgf"));
  EXPECT_TRUE(matches("root ::= \"a\"{2,3}", "aa"));
  EXPECT_TRUE(matches("root ::= \"a\"{2,3}", "aaa"));
  EXPECT_FALSE(matches("root ::= \"a\"{2,3}", "aaaa"));
  EXPECT_FALSE(matches("root ::= \"a\"{2,3}", "a"));
  EXPECT_TRUE(matches("root ::= \"a\"{2,}", "aaaaaa"));
  // Left and right recursion, nullable rules, nested parentheses.
  EXPECT_TRUE(matches("root ::= root \"a\" | \"b\"", "baaa"));
  EXPECT_TRUE(matches("root ::= \"a\" root | \"b\"", "aaab"));
  EXPECT_TRUE(matches("root ::= \"(\" root \")\" root | \"\"", "(()())()"));
  EXPECT_FALSE(matches("root ::= \"(\" root \")\" root | \"\"", "(()"));
  EXPECT_TRUE(matches("root ::= x y x\nx ::= \"\" | \"q\"\ny ::= x x", ""));
  EXPECT_TRUE(matches("root ::= x y x\nx ::= \"\" | \"q\"\ny ::= x x", "qqq"));
  EXPECT_FALSE(matches("root ::= x y x\nx ::= \"\" | \"q\"\ny ::= x x", "qqqqq"));
  // A rule that spans lines.
  EXPECT_TRUE(matches("root ::= \"a\"\n  \"b\"\n  | \"c\"\n", "ab"));
  // xgrammar's Regex macro, as its JSON-schema printouts use it.
  EXPECT_TRUE(matches("root ::= \"<\" Regex(\"[a-c]{2}\\\\d\") \">\"", "<ab7>"));
  EXPECT_FALSE(matches("root ::= \"<\" Regex(\"[a-c]{2}\\\\d\") \">\"", "<ad7>"));
  EXPECT_TRUE(matches("root ::= Regex(\"x.\", json_string=true)", "xy"));
  // A tail-recursive string rule (what JSON grammars use), long enough to notice quadratic behaviour.
  const std::string str = "root ::= \"\\\"\" s\ns ::= \"\\\"\" | [^\"\\\\] s | \"\\\\\" [\"\\\\n] s";
  EXPECT_TRUE(matches(str, "\"" + std::string(20000, 'x') + "\\n\""));
  EXPECT_FALSE(matches(str, "\"a\"b"));
}

TEST(EarleyTest, Utf8AsXgrammar) {
  // Code points, not bytes; shortest-form UTF-8 up to U+10FFFF, surrogates allowed (xgrammar 0.2.8 measured).
  EXPECT_TRUE(matches("root ::= [^a]", "\xc3\xa9"));
  EXPECT_FALSE(matches("root ::= [^a]", "\xc0\x80"));        // overlong
  EXPECT_FALSE(live_prefix("root ::= [^a]", "\xe0\x80"));    // overlong 3-byte
  EXPECT_TRUE(matches("root ::= [^a]", "\xed\xa0\x80"));     // a surrogate
  EXPECT_TRUE(matches("root ::= [^a]", "\xf4\x8f\xbf\xbf"));  // U+10FFFF
  EXPECT_FALSE(live_prefix("root ::= [^a]", "\xf4\x90"));    // past U+10FFFF
  EXPECT_TRUE(matches("root ::= \"\\xe9\"", "\xc3\xa9"));     // \x is a code point in a literal
  EXPECT_TRUE(matches("root ::= [\\u0100-\\U0001F600]+", "\xc4\x80\xf0\x9f\x98\x80\xe2\x82\xac"));
  EXPECT_FALSE(matches("root ::= [\\u0100-\\U0001F600]+", "\xf0\x9f\x98\x81"));
  // Every code point of a class range, against a decoder, for a range that spans all lengths.
  const std::vector<CodepointRange> ranges{{0x41, 0x5A}, {0x7F5, 0x812}, {0xFFF0, 0x10010}};
  for (uint32_t cp = 0; cp < 0x11000; ++cp) {
    std::string bytes;
    utf8_append_codepoint(cp, &bytes);
    bool inside = false;
    for (const auto& r : ranges) inside |= cp >= r.lo && cp <= r.hi;
    bool found = false;
    for (const auto& seq : utf8_sequences(ranges, false)) {
      if (seq.size() != bytes.size()) continue;
      bool all = true;
      for (size_t i = 0; i < seq.size(); ++i) {
        const auto b = static_cast<uint8_t>(bytes[i]);
        all &= b >= seq[i].first && b <= seq[i].second;
      }
      found |= all;
    }
    ASSERT_EQ(found, inside) << std::hex << cp;
  }
}

TEST(EarleyTest, RollbackRestoresState) {
  Grammar g = parse_ebnf("root ::= (\"ab\" | \"ac\")+").value();
  RuleAutomata a = build_automata(g).value();
  EarleyParser p(&a);
  ASSERT_EQ(p.advance_bytes("abac", 4), 4u);
  EXPECT_TRUE(p.goal_complete());
  p.rollback(1);
  EXPECT_FALSE(p.goal_complete());
  EXPECT_FALSE(p.advance('x'));
  EXPECT_TRUE(p.advance('b'));
  EXPECT_TRUE(p.goal_complete());
  p.rollback(4);
  EXPECT_EQ(p.num_bytes(), 0u);
  EXPECT_FALSE(p.advance('b'));
}

}  // namespace
}  // namespace podserve::structured
