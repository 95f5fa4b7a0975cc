// Interpreter behaviour the goldens cannot show: error locations and codes, the render budget, hostile
// templates (deep nesting, runaway loops and recursion, escaping callers, cycles), JSON conversion, the
// apply_chat_template context, and a mutation smoke test that nothing crashes.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/rng.h"
#include "chat/chat_template.h"
#include "chat/json_value.h"
#include "test_util.h"

namespace podserve {
namespace {

using jinja::Value;

Value json(std::string_view text) {
  auto v = value_from_json(boost::json::parse(text));
  EXPECT_TRUE(v.ok()) << v.status().to_string();
  return v.ok() ? *v : Value();
}

Result<std::string> render(std::string_view source, std::string_view context = "{}",
                           const jinja::RenderOptions& options = {}) {
  PODSERVE_ASSIGN_OR_RETURN(ChatTemplate t, ChatTemplate::parse(source));
  return t.render(json(context), options);
}

void expect_error(const Result<std::string>& r, StatusCode code, std::string_view substring) {
  ASSERT_FALSE(r.ok()) << "rendered: " << *r;
  EXPECT_EQ(r.status().code(), code) << r.status().to_string();
  EXPECT_NE(r.status().message().find(substring), std::string::npos) << r.status().to_string();
}

TEST(JinjaErrors, SyntaxErrorsNameLineAndColumn) {
  expect_error(render("line one\n  {% if %}"), StatusCode::kInvalidArgument,
               "template syntax error at line 2, column 9: unexpected end of statement block");
  expect_error(render("a\nb {{ 1 + * 2 }}"), StatusCode::kInvalidArgument, "line 2, column 10: unexpected '*'");
  expect_error(render("{% for x in y %}\nno end"), StatusCode::kInvalidArgument,
               "line 2, column 7: unexpected end of template, expected 'else' or 'endfor'");
  expect_error(render("{% frobnicate %}"), StatusCode::kInvalidArgument, "line 1, column 4: encountered unknown tag");
  expect_error(render("x {{ 'abc }}"), StatusCode::kInvalidArgument, "line 1, column 6: unterminated string");
}

TEST(JinjaErrors, UnclosedTagsAreErrors) {
  for (const char* src : {"{{ x", "{% if x", "{# comment", "{{ (1, 2 }}", "{% raw %}never ends", "{{ x ]] }}",
                          "{% if true %}", "{% macro m( %}", "{{ 'a' | }}", "{% set %}", "{{ x.  }}"}) {
    auto r = render(src);
    EXPECT_FALSE(r.ok()) << src;
    EXPECT_NE(r.status().message().find("line 1"), std::string::npos) << r.status().to_string();
  }
}

TEST(JinjaErrors, RuntimeErrorsNameLineAndColumn) {
  // Unknown filters and tests fail at parse time, except directly inside an `if` (as in jinja2).
  expect_error(render("ok\n{{ 'a' | no_such }}"), StatusCode::kInvalidArgument,
               "template syntax error at line 2, column 8: no filter named 'no_such'");
  expect_error(render("{% for x in [1] %}{{ x is nope }}{% endfor %}"), StatusCode::kInvalidArgument,
               "template syntax error at line 1, column 24: no test named 'nope'");
  expect_error(render("{% if true %}\n{{ 'a' | no_such }}{% endif %}"), StatusCode::kInvalidArgument,
               "template error at line 2, column 8: no filter named 'no_such'");
  EXPECT_EQ(render("{% if false %}{{ 'a' | no_such }}{% endif %}ok").value(), "ok");
  expect_error(render("\n\n   {{ missing.attr }}"), StatusCode::kInvalidArgument,
               "line 3, column 14: 'missing' is undefined");
  expect_error(render("{{ 'a' + 1 }}"), StatusCode::kInvalidArgument, "can only concatenate str");
  expect_error(render("{{ x | tojson }}"), StatusCode::kInvalidArgument, "not JSON serializable");
}

TEST(JinjaErrors, RaiseExceptionKeepsTheMessage) {
  auto r = render("{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('No system: ' ~ m.content) }}"
                  "{% endif %}{% endfor %}",
                  R"({"messages": [{"role": "system", "content": "hi"}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "No system: hi");
  // Also from inside a macro and a filter argument.
  r = render("{% macro m() %}{{ raise_exception('deep') }}{% endmacro %}{{ [1] | map('string') | join(m()) }}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "deep");
}

TEST(JinjaBudget, RunawayLoopsHitTheStepLimit) {
  EXPECT_EQ(jinja::RenderOptions{}.max_steps, 1'000'000);
  jinja::RenderOptions budget;
  budget.max_steps = 200'000;  // the default budget works the same, only slower in a Debug build
  expect_error(render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "{}", budget),
               StatusCode::kResourceExhausted, "render exceeded 200000 steps");
  jinja::RenderOptions small;
  small.max_steps = 100;
  expect_error(render("{% for i in range(1000) %}{{ i }}{% endfor %}", "{}", small), StatusCode::kResourceExhausted,
               "100 steps");
  EXPECT_TRUE(render("{% for i in range(10) %}{{ i }}{% endfor %}", "{}", small).ok());
}

TEST(JinjaBudget, SlowStepsHitTheTimeLimit) {
  // Few steps, each copying a long string (quadratic work): the step and size budgets allow it, the clock does
  // not. Without the time budget this render copies hundreds of gigabytes. (range() is capped at 100000, as in
  // jinja2's sandbox, hence two loops.)
  EXPECT_EQ(jinja::RenderOptions{}.max_milliseconds, 0);
  jinja::RenderOptions budget;
  budget.max_milliseconds = 50;
  const std::string slow =
      "{% set ns = namespace(s='') %}{% for i in range(1000) %}{% for j in range(200) %}"
      "{% set ns.s = ns.s ~ 'xxxxxxxxxxxxxxxxxxxxxx' %}{% endfor %}{% endfor %}{{ ns.s | length }}";
  expect_error(render(slow, "{}", budget), StatusCode::kResourceExhausted, "render exceeded 50 ms");
  EXPECT_TRUE(render("{% for i in range(1000) %}{{ i }}{% endfor %}", "{}", budget).ok());
}

TEST(JinjaBudget, RecursiveLoopsAndMacroVarargsStopAtTheDepthLimit) {
  // jinja2 raises RecursionError for these (see the goldens); we stop at max_call_depth.
  expect_error(render("{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}"), StatusCode::kResourceExhausted,
               "recursive loop nested deeper than 64");
  expect_error(render("{% macro m() %}{{ varargs }}{{ m(1, 2, k=3) if kwargs is defined }}{% endmacro %}{{ m() }}"),
               StatusCode::kResourceExhausted, "macro calls nested deeper than 64");
}

TEST(JinjaGaps, UnsupportedCornersFailClearly) {
  // Unhashable (and tuple) dict keys.
  expect_error(render("{{ {[1]: 1} }}"), StatusCode::kInvalidArgument, "unsupported dict key type 'list'");
}

TEST(JinjaBudget, OutputAndStringSizeLimits) {
  jinja::RenderOptions small;
  small.max_output_bytes = 1000;
  expect_error(render("{% for i in range(1000) %}xx{% endfor %}", "{}", small), StatusCode::kResourceExhausted,
               "output exceeds 1000 bytes");
  expect_error(render("{{ 'a' * 100000000000 }}"), StatusCode::kResourceExhausted, "exceeds the render budget");
  expect_error(render("{{ [1, 2] * 100000000000 }}"), StatusCode::kResourceExhausted, "exceeds the render budget");
  expect_error(render("{{ ('\t' * 1000).expandtabs(65536) }}"), StatusCode::kResourceExhausted, "too large");
  expect_error(render("{{ 'a'.center(100000000) }}"), StatusCode::kResourceExhausted, "too large");
  expect_error(render("{{ range(100)|slice(10000000)|list }}"), StatusCode::kInvalidArgument, "out of range");
  expect_error(render("{% set s = 'x' * 4000000 %}{{ s | replace('x', 'yyyyyyyy') }}"),
               StatusCode::kResourceExhausted, "exceeds the render budget");
  // Doubling a string in a namespace: refused once a string outgrows the output budget.
  expect_error(render("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
                      "{% endfor %}"),
               StatusCode::kResourceExhausted, "exceeds the render budget");
}

TEST(JinjaBudget, RecursionIsBounded) {
  expect_error(render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), StatusCode::kResourceExhausted,
               "macro calls nested deeper than 64");
  std::string deep_parens = std::string(5000, '(') + "1" + std::string(5000, ')');
  expect_error(render("{{ " + deep_parens + " }}"), StatusCode::kInvalidArgument, "nested too deeply");
  std::string deep_not = "{{ ";
  for (int i = 0; i < 5000; ++i) deep_not += "not ";
  expect_error(render(deep_not + "1 }}"), StatusCode::kInvalidArgument, "nested too deeply");
  std::string deep_ifs;
  for (int i = 0; i < 1000; ++i) deep_ifs += "{% if true %}";
  for (int i = 0; i < 1000; ++i) deep_ifs += "{% endif %}";
  expect_error(render(deep_ifs), StatusCode::kInvalidArgument, "nested too deeply");
  std::string deep_list = std::string(90, '[') + std::string(90, ']');
  EXPECT_TRUE(ChatTemplate::parse("{{ " + deep_list + " }}").ok());
}

TEST(JinjaSafety, NamespacesCannotFormCyclesOrDeepChains) {
  expect_error(render("{% set ns = namespace() %}{% set ns.me = ns %}"), StatusCode::kInvalidArgument,
               "cannot be stored inside a namespace");
  expect_error(render("{% set ns = namespace() %}{% set ns.l = [1, [ns]] %}"), StatusCode::kInvalidArgument,
               "cannot be stored inside a namespace");
  expect_error(render("{% set ns = namespace() %}{% for x in [ns, 1] %}{% set ns.l = loop %}{% endfor %}"),
               StatusCode::kInvalidArgument, "cannot be stored inside a namespace");
  expect_error(render("{% set ns = namespace(x=[]) %}{% for i in range(5000) %}{% set ns.x = [ns.x] %}{% endfor %}"),
               StatusCode::kInvalidArgument, "nested too deeply");
}

TEST(JinjaSafety, CallerCannotOutliveItsCallBlock) {
  expect_error(render("{% set ns = namespace() %}{% macro m() %}{% set ns.c = caller %}{% endmacro %}"
                      "{% call m() %}body{% endcall %}{{ ns.c() }}"),
               StatusCode::kInvalidArgument, "'caller' called outside its call block");
}

TEST(JinjaSafety, ImmutableSandbox) {
  expect_error(render("{% set l = [1] %}{{ l.append(2) }}"), StatusCode::kInvalidArgument, "is unsafe");
  expect_error(render("{% set d = {'a': 1} %}{{ d.pop('a') }}"), StatusCode::kInvalidArgument, "is unsafe");
  expect_error(render("{% set d = {} %}{% set d.x = 1 %}"), StatusCode::kInvalidArgument, "non-namespace object");
}

TEST(JinjaJson, ValueFromJsonKeepsOrderAndRejectsWhatItCannotHold) {
  auto out = render("{{ d | tojson }} {% for k in d %}{{ k }}{% endfor %}", R"({"d": {"z": 1, "a": [true, null, 1.5]}})");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, R"({"z": 1, "a": [true, null, 1.5]} za)");
  EXPECT_FALSE(value_from_json(boost::json::parse("18446744073709551615")).ok());
  boost::json::value deep = boost::json::array();
  for (int i = 0; i < 1000; ++i) deep = boost::json::array({deep});
  EXPECT_FALSE(value_from_json(deep).ok());
}

TEST(ApplyChatTemplate, BuildsTheTransformersContext) {
  auto tmpl = ChatTemplate::parse(
      "{{ bos_token }}|{{ tools is none }}|{{ documents is none }}|{{ add_generation_prompt }}|{{ eos_token }}|"
      "{{ enable_thinking }}|{% for m in messages %}{{ m.role }}:{{ m.content }}{% endfor %}|{{ tools | tojson }}");
  ASSERT_TRUE(tmpl.ok()) << tmpl.status().to_string();
  ChatTemplateInputs in;
  in.messages = json(R"([{"role": "user", "content": "hi"}])");
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  in.extra_kwargs = json(R"({"enable_thinking": false, "eos_token": "<eos>"})");
  auto out = apply_chat_template(*tmpl, in);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, "<s>|True|True|False|<eos>|False|user:hi|null");

  in.tools = json(R"([{"type": "function"}])");
  in.add_generation_prompt = true;
  out = apply_chat_template(*tmpl, in);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "<s>|False|True|True|<eos>|False|user:hi|[{\"type\": \"function\"}]");

  in.extra_kwargs = json(R"({"messages": []})");
  EXPECT_EQ(apply_chat_template(*tmpl, in).status().code(), StatusCode::kInvalidArgument);
}

TEST(ChatTemplateApi, ConcurrentRendersShareOneTemplate) {
  auto tmpl = ChatTemplate::parse("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
                                  "{% endfor %}{{ ns.n }}");
  ASSERT_TRUE(tmpl.ok());
  const Value ctx = json(R"({"messages": [1, 2, 3]})");
  std::vector<std::thread> threads;
  std::vector<std::string> results(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) results[t] = tmpl->render(ctx).value();
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, "3");
}

// Random mutations of real templates must parse-or-fail and render-or-fail, never crash or hang.
TEST(JinjaRobustness, MutatedFixtureTemplatesNeverCrash) {
  std::vector<std::string> sources;
  for (const auto& entry : std::filesystem::directory_iterator(testing::fixtures_dir() + "/chat_templates")) {
    if (entry.path().extension() == ".jinja") sources.push_back(testing::read_file(entry.path().string()));
  }
  ASSERT_FALSE(sources.empty());
  const Value ctx = json(R"({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
      {"role": "assistant", "content": "a", "tool_calls": [{"type": "function", "function": {"name": "f",
      "arguments": {"x": 1}}}]}], "tools": [{"type": "function", "function": {"name": "f"}}],
      "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
  static constexpr std::string_view kSnippets[] = {"{{", "}}", "{%", "%}", "{#", "#}", "(", ")", "[", "]", "'", "\"",
                                                   "-", "|", " if ", " for ", "endfor", "loop", "~", "*", "%"};
  Rng rng(1234);
  jinja::RenderOptions options;
  options.max_steps = 20000;
  int parsed = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = sources[rng.next_u64() % sources.size()];
    const int edits = 1 + static_cast<int>(rng.next_u64() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t pos = rng.next_u64() % s.size();
      switch (rng.next_u64() % 3) {
        case 0: s.erase(pos, 1 + rng.next_u64() % 8); break;
        case 1: s.insert(pos, kSnippets[rng.next_u64() % std::size(kSnippets)]); break;
        default: s[pos] = static_cast<char>(rng.next_u64() % 256); break;
      }
    }
    auto t = ChatTemplate::parse(s);
    if (!t.ok()) continue;
    ++parsed;
    (void)t->render(ctx, options);
  }
  EXPECT_GT(parsed, 100);
}

}  // namespace
}  // namespace podserve
