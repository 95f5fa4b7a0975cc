#!/usr/bin/env python3
"""Writes tests/data/chat_templates.json: chat-template renderings by Python jinja2, set up exactly like
transformers' apply_chat_template (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
transformers' tojson, raise_exception, strftime_now). podserve's C++ interpreter must reproduce every case.

Cases: the SmolLM2 template (read from the GGUF) with several message lists; each fixture template in
../shared/fixtures/chat_templates with standard conversations (minus EXCLUDED); one-feature syntax cases;
and chat_template_cases.py's feature cases and real-world template idioms. A case whose render raises stores `expected_error` (`error_exact`: the message is raise_exception's
text and must match exactly).

Run: .venv-test/bin/python tools/goldens/chat_templates.py [--model PATH] [--fixtures DIR] [--out PATH]
"""
import argparse
import datetime
import json
import pathlib
import sys

import gguf
import jinja2
import jinja2.nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # the sibling module, also when loaded by path
from chat_template_cases import FEATURE_CASES, IDIOM_CASES  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
# strftime_now's clock in the goldens (UTC); the C++ test renders with the same instant and TZ=UTC.
NOW_UNIX_SECONDS = 1721995200  # 2024-07-26 12:00:00 UTC

# Fixture templates left out of the golden set, with the reason (features the interpreter lacks).
EXCLUDED = {}


class TemplateRaised(Exception):
    pass


class GenerationBlock(Extension):
    """Stands in for transformers' AssistantTracker: `{% generation %}...{% endgeneration %}` renders its body
    (the tracking of assistant-token offsets does not change the text)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


def make_env():
    """The environment transformers builds in chat_template_utils._compile_jinja_template."""

    def raise_exception(message):
        raise TemplateRaised(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.datetime.fromtimestamp(NOW_UNIX_SECONDS, datetime.timezone.utc).strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlock, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_env()


def render(source, context):
    """Returns {"expected": text} or {"expected_error": message, "error_exact": bool}."""
    try:
        return {"expected": ENV.from_string(source).render(**context)}
    except TemplateRaised as e:
        return {"expected_error": str(e), "error_exact": True}
    except Exception as e:  # jinja2 errors and Python TypeErrors alike: any error must be an error in C++
        return {"expected_error": f"{type(e).__name__}: {e}", "error_exact": False}


def chat_context(messages, add_generation_prompt=True, tools=None, **extra):
    """The variables apply_chat_template passes (tools/documents None unless given, special tokens)."""
    ctx = {"messages": messages, "tools": tools, "documents": None, "add_generation_prompt": add_generation_prompt,
           "bos_token": "<s>", "eos_token": "</s>"}
    ctx.update(extra)
    return ctx


SYSTEM_CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello!"},
    {"role": "assistant", "content": "Hi there! How can I help?"},
    {"role": "user", "content": "What is 2+2?"},
]
PLAIN_CHAT = [
    {"role": "user", "content": "Hello!"},
    {"role": "assistant", "content": "Hi! How can I help you today?"},
    {"role": "user", "content": "Tell me a joke."},
]
SINGLE = [{"role": "user", "content": "  Spaces around  \n"}]
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                   "required": ["city"]}}}
TOOL_CHAT = [
    {"role": "user", "content": "What's the weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temp_c\": 18}"},
    {"role": "assistant", "content": "It is 18°C in Paris."},
    {"role": "user", "content": "Thanks!"},
]

TOOL_CHAT_STRING_ARGS = [dict(m) for m in TOOL_CHAT]
TOOL_CHAT_STRING_ARGS[1] = dict(TOOL_CHAT[1], tool_calls=[
    {"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}])
DOCUMENTS = [{"title": "Paris", "text": "Paris is the capital of France."},
             {"title": "Weather", "text": "It is sunny today."}]

CALENDAR_TOOL = {"type": "function", "function": {
    "name": "add_event", "description": "Add a calendar event.",
    "parameters": {"type": "object", "properties": {
        "title": {"type": "string"}, "day": {"type": "integer", "minimum": 1, "maximum": 31},
        "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["title", "day"]}}}
PARALLEL_TOOL_CHAT = [
    {"role": "system", "content": "You can call tools."},
    {"role": "user", "content": "Weather in Paris and Tokyo, and add an event 'Trip' on day 3."},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call00001", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
        {"id": "call00002", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}},
        {"id": "call00003", "type": "function",
         "function": {"name": "add_event", "arguments": {"title": "Trip", "day": 3, "tags": ["travel", "ü"]}}}]},
    {"role": "tool", "tool_call_id": "call00001", "name": "get_weather", "content": "{\"temp_c\": 18}"},
    {"role": "tool", "tool_call_id": "call00002", "name": "get_weather", "content": "{\"temp_c\": 25}"},
    {"role": "tool", "tool_call_id": "call00003", "name": "add_event", "content": "ok"},
]
CONTENT_PARTS_CHAT = [
    {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
    {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}]},
]
REASONING_CHAT = [
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "<think>\nSimple.\n</think>\n\n4", "reasoning_content": "Simple."},
    {"role": "user", "content": "And 3+3?"},
]

FIXTURE_CONTEXTS = {
    "system_chat": chat_context(SYSTEM_CHAT),
    "system_chat_no_prompt": chat_context(SYSTEM_CHAT, add_generation_prompt=False),
    "tools_no_prompt": chat_context(TOOL_CHAT, add_generation_prompt=False, tools=[WEATHER_TOOL]),
    "parallel_tools": chat_context(PARALLEL_TOOL_CHAT, tools=[WEATHER_TOOL, CALENDAR_TOOL]),
    "content_parts": chat_context(CONTENT_PARTS_CHAT),
    "reasoning_kwargs": chat_context(REASONING_CHAT, enable_thinking=False, date_string="26 Jul 2024",
                                     tools_in_user_message=False),
    "plain_chat": chat_context(PLAIN_CHAT),
    "single_no_prompt": chat_context(SINGLE, add_generation_prompt=False),
    "tools": chat_context(TOOL_CHAT, tools=[WEATHER_TOOL]),
    "tools_string_args": chat_context(TOOL_CHAT_STRING_ARGS, tools=[WEATHER_TOOL]),
    "documents": dict(chat_context(PLAIN_CHAT), documents=DOCUMENTS),
}

SMOLLM2_CONTEXTS = {
    "no_system": chat_context([{"role": "user", "content": "What is 2+2?"}]),
    "with_system": chat_context(SYSTEM_CHAT),
    "multi_turn_no_prompt": chat_context(PLAIN_CHAT, add_generation_prompt=False),
    "multi_turn_prompt": chat_context(PLAIN_CHAT),
    "unicode": chat_context([{"role": "user", "content": "Héllo wörld — 你好 😀 \"quotes\" \\ back\tslash"}]),
    "empty_content": chat_context([{"role": "user", "content": ""}, {"role": "assistant", "content": ""}],
                                  add_generation_prompt=False),
    "empty_messages": chat_context([]),
    "missing_content": chat_context([{"role": "user"}]),
}

# One feature each: (name, template, context).
# Arguments of the str_format_specs case, one per field of its format string.
FORMAT_SPEC_ARGS = ["abc", "abc", "abc", "abc", "abc", "abc", 42, 42, 42, -42, 255, 255, 8, 5, 1234567, 1234567, 65,
                    3.14159, 12345.678, 1e20, 0.00012345, 0.256, 2.5, 1.0, 1234567.891, -1234.5, 5, True, 1.5,
                    -3.14159, 1e16, 1234.5, -0.0, 2.5, 1.5, 1234567.891, 1e-7, 0.000123456, 2.0, -9876543, 3.14159,
                    7, 1234567]

FORMAT_SPEC_MORE_ARGS = ["ab", 7, 3.14159, 5, -255, -1234567, 12345.0, 2.0, 12345, 3, 7, 0.0001, 123456789.0, 1e-05,
                         2.5, True, "n", -5, 1234567, "é", "abcdef", "x", "x", -0.05, 1e100, 1 / 3, 2.5]

SYNTAX_CASES = [
    ("text_only", "Hello\nworld\n", {}),
    ("trailing_newlines", "a\n\n", {}),
    ("crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
    ("print_types", "{{ 1 }} {{ 1.5 }} {{ 1.0 }} {{ 1e20 }} {{ 0.00001 }} {{ none }} {{ true }} {{ 'x' }} "
     "{{ [1, 'a', none, true] }} {{ {'a': (1, 'b')} }} {{ (1,) }} {{ undefined_var }}", {}),
    ("string_escapes", "{{ 'a\\nb\\tc\\u00e9\\x41\\\\' }}|{{ \"it's\" }}|{{ 'it' 's' }}|{{ ['it\\'s', \"a\\\"b\"] }}", {}),
    ("if_elif_else", "{% for x in [1, 2, 3, 4] %}{% if x == 1 %}one{% elif x == 2 %}two{% elif x is odd %}odd"
     "{% else %}other{% endif %},{% endfor %}", {}),
    ("for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
     "{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}", {}),
    ("for_filter_else", "{% for x in xs if x % 2 == 0 %}{{ loop.index }}/{{ loop.length }}:{{ x }} {% else %}none"
     "{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}", {"xs": [1, 2, 3, 4, 6]}),
    ("for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in d | items %}{{ k }}{{ v }}"
     "{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}", {"d": {"z": 1, "a": 2}}),
    ("for_dict_and_string", "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'héllo' %}[{{ c }}]{% endfor %}",
     {"d": {"b": 1, "a": 2}}),
    ("loop_controls", "{% for i in range(10) %}{% if i == 6 %}{% break %}{% endif %}{% if i is even %}{% continue %}"
     "{% endif %}{{ i }}{% endfor %}", {}),
    ("loop_cycle_nested", "{% for row in [[1, 2], [3]] %}{% for c in row %}{{ loop.cycle('a', 'b') }}{{ c }}"
     "{% endfor %}{{ loop.index }};{% endfor %}", {}),
    ("set_scoping", "{% set x = 10 %}{% for i in [1, 2, 3] %}{% set x = x + i %}{{ x }},{% endfor %}{{ x }}|"
     "{% if true %}{% set y = 5 %}{% endif %}{{ y }}|{% for i in [1, 2] %}{% if i > 1 %}[{{ z }}]{% endif %}"
     "{% set z = i %}{% endfor %}", {}),
    ("namespace", "{% set ns = namespace(count=0, found=false, items=[]) %}{% for m in messages %}"
     "{% if m.role == 'user' %}{% set ns.count = ns.count + 1 %}{% set ns.items = ns.items + [m.content] %}"
     "{% endif %}{% endfor %}{% set ns.found = true %}{{ ns.count }} {{ ns.found }} {{ ns.items }} {{ ns.missing }}",
     {"messages": PLAIN_CHAT}),
    ("set_unpack_and_block", "{% set a, b = [1, 2] %}{% set t = 1, 2 %}{{ a }}{{ b }}{{ t }}{% set blk %}"
     "  inner {{ a }}\n{% endset %}[{{ blk }}]{% set up | upper %}shout{% endset %}{{ up }}", {}),
    ("operators", "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} "
     "{{ 2 ** 3 ** 2 }} {{ 1 + 2 * 3 - 4 }} {{ -(3) }} {{ 1.5 + 1 }} {{ true + 1 }} {{ 'ab' * 3 }} {{ [1] * 2 }} "
     "{{ 'a' ~ 1 ~ none }} {{ [1] + [2] }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}", {}),
    ("comparisons_logic", "{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} "
     "{{ [1, 2] < [1, 3] }} {{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }} "
     "{{ none or 'dflt' }} {{ 'x' and 'y' }} {{ not 0 }} {{ not x is defined }} {{ (1, 2) == [1, 2] }} "
     "{{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }} {{ 'a' in undefined_var }}", {}),
    ("ternary", "{{ 'yes' if flag else 'no' }} {{ 'yes' if not flag else 'no' }} [{{ 'only' if false }}] "
     "{{ 1 if false else 2 if true else 3 }}", {"flag": True}),
    ("subscripts_attrs", "{{ m.role }} {{ m['content'] }} {{ m.missing }} {{ l[0] }} {{ l[-1] }} {{ l[10] }} "
     "{{ 'abc'[1] }} {{ 'héllo'[1] }} {{ m.items is defined }} {{ d.x.y }} {{ l.0 }} {{ none.x }} {{ none['x'] }}",
     {"m": {"role": "user", "content": "hi"}, "l": [1, 2, 3], "d": {"x": {"y": "deep"}}}),
    ("slicing", "{{ l[1:] }} {{ l[:2] }} {{ l[::-1] }} {{ l[-2:] }} {{ l[::2] }} {{ l[5:] }} {{ l[1:-1] }} "
     "{{ 'hello'[::-1] }} {{ 'héllo wörld'[1:5] }} {{ l[-100:100] }} {{ l[3:0:-1] }} {{ l[:] }} {{ (1, 2, 3)[1:] }}",
     {"l": [1, 2, 3, 4, 5]}),
    ("filters_string", "{{ '  a b  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'Hello' | upper }}|{{ 'HeLLo' | lower }}|"
     "{{ 'hello wORLD-foo(bar' | title }}|{{ 'hello World' | capitalize }}|{{ 'aaa' | replace('a', 'b', 2) }}|"
     "{{ 42 | string }}|{{ none | string }}|{{ [1, 'a'] | string }}|{{ 'abc' | length }}|{{ 'héllo' | count }}|"
     "{{ 'x' | safe }}", {}),
    ("filters_default", "{{ x | default('d') }} {{ none | default('d') }} {{ '' | default('d', true) }} "
     "{{ 0 | d('zero', boolean=true) }} {{ 'v' | default('d') }} {{ m.missing | default('md') }}", {"m": {}}),
    ("filters_sequence", "{{ [3, 1, 2] | first }} {{ [3, 1, 2] | last }} {{ [] | first }} {{ 'abc' | list }} "
     "{{ [1, 2, 3] | join }} {{ [1, 2] | join(', ') }} {{ users | join(',', attribute='name') }} "
     "{{ d | list }} {{ [3, 1, 2] | length }} {{ d | length }} {{ x | length }} {{ [1, 2] | reverse | list }} "
     "{{ 'abc' | reverse }} {{ [3, 1, 2] | sort }} {{ ['b', 'A', 'a'] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} "
     "{{ users | sort(attribute='age') | map(attribute='name') | join }} {{ [1, 2, 1, 'A', 'a'] | unique | list }} "
     "{{ [1, 2, 3] | sum }} {{ users | sum(attribute='age') }} {{ [-1.5, 2] | map('abs') | list }}",
     {"users": [{"name": "bo", "age": 40}, {"name": "al", "age": 30}], "d": {"k": 1, "j": 2}}),
    ("filters_select", "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} "
     "{{ msgs | rejectattr('role', 'eq', 'user') | list | length }} {{ msgs | selectattr('tool_calls') | list }} "
     "{{ msgs | selectattr('tool_calls', 'defined') | list | length }} {{ [0, 1, 2, none] | select | list }} "
     "{{ [1, 2, 3, 4] | reject('odd') | list }} {{ [1, 2, 3] | select('gt', 1) | list }} "
     "{{ msgs | map(attribute='name', default='anon') | list }} "
     "{% if msgs | selectattr('role', 'equalto', 'nobody') %}generator-truthy{% endif %}",
     {"msgs": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "tool_calls": [1]},
               {"role": "user", "content": "c", "name": "zed"}]}),
    ("filters_numbers", "{{ '42' | int }} {{ 3.9 | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ '3.7' | int }} "
     "{{ 3 | float }} {{ '2.5' | float }} {{ -3 | abs }} {{ true | int }}", {}),
    ("filter_items_dict", "{{ d | items | list }} {{ d.items() | list }} {{ d.keys() | list }} {{ d.values() | list }} "
     "{{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 'dflt') }} {{ x | items | list }}", {"d": {"a": 1, "b": [2]}}),
    ("filter_indent", "{{ 'a\\nb\\n' | indent(2) }}|{{ 'a\\n\\nb' | indent(2, first=true) }}|"
     "{{ 'a\\n\\nb' | indent(2, blank=true) }}|{{ 'x\\ny' | indent('> ') }}", {}),
    ("tojson", "{{ data | tojson }}\n{{ data | tojson(indent=2) }}\n{{ 'é\"\\n\\t\\u0001' | tojson }}\n"
     "{{ [] | tojson(indent=2) }} {{ {} | tojson }} {{ 1.0 | tojson }} {{ none | tojson }} "
     "{{ data | tojson(sort_keys=true) }} {{ 'é' | tojson(ensure_ascii=true) }} {{ '😀' | tojson(true) }} "
     "{{ (1, 2) | tojson }} {{ data | tojson(separators=(',', ':')) }}",
     {"data": {"z": [1, "é", None, True, 1.5, {"nested": {"deep": ["ü", "中文", "😀"]}}], "a": {}, "m": []}}),
    ("tests", "{{ 1 is number }} {{ true is number }} {{ true is integer }} {{ 1 is integer }} {{ 1.0 is float }} "
     "{{ none is none }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is mapping }} {{ [] is sequence }} "
     "{{ 'a' is iterable }} {{ 1 is iterable }} {{ x is defined }} {{ x is undefined }} {{ x is not defined }} "
     "{{ 3 is divisibleby 3 }} {{ 3 is odd }} {{ 4 is even }} {{ 'a' is equalto 'a' }} {{ 'a' is eq 'b' }} "
     "{{ 1 is in [1] }} {{ true is true }} {{ 1 is true }} {{ false is false }} {{ true is boolean }} "
     "{{ 5 is gt 3 }} {{ 5 is ge 6 }} {{ 1 is lt 2 }} {{ 'abc' is lower }} {{ 'ABC' is upper }} "
     "{{ x is sequence }} {{ x is iterable }} {{ range is callable }} {{ 'upper' is filter }} {{ 'odd' is test }} "
     "{{ none is sameas none }} {{ 2 is ne 2 }}", {}),
    ("whitespace_control", "a  {%- if true -%}  b  {%- endif -%}  c\n  {{- ' d ' -}}  \n e {#- c -#} f\n"
     "  {%+ if true %}kept-indent{% endif %}\n  {% if true +%}\nkept-newline{% endif %}", {}),
    ("trim_lstrip_blocks", "<ul>\n  {% for x in [1, 2] %}\n    <li>{{ x }}</li>\n  {% endfor %}\n</ul>\n"
     "  {# comment #}\nafter\n    {{ 'var lines keep indent' }}\n", {}),
    ("comments", "a{# one #}b{#- two -#} c {# multi\nline {% if %} #}\nd", {}),
    ("raw", "{% raw %}{{ not evaluated }} {% if %}{% endraw %}|\n  {% raw -%}\n  x  {%- endraw %}\n"
     "  {% raw %}\nline\n  {% endraw %}\nend", {}),
    ("macros", "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}"
     "{{ greet('Ann') }} {{ greet('Bob', greeting='Hi') }} {{ greet(name='Cy') }} {{ greet('D', 'Yo') | upper }}"
     "{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %} {{ rec(3) }}"
     "{% macro render_tool(t) -%}\n  <{{ t.name }}>\n{%- endmacro %}{% for t in tools %}{{ render_tool(t) }}{% endfor %}",
     {"tools": [{"name": "a"}, {"name": "b"}]}),
    ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}"
     "{% call wrap('b') %}bold {{ 1 + 1 }}{% endcall %}"
     "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}"
     "{% call(item) each([1, 2]) %}[{{ item }}]{% endcall %}", {}),
    ("filter_block", "{% filter upper %}shout {{ 'this' }}{% endfilter %} {% filter replace('a', 'o') | trim %}  banana  "
     "{% endfilter %}", {}),
    ("string_methods", "{{ '  x  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\\n\\nx\\n'.lstrip('\\n') }}|{{ '  x  '.rstrip() }}|"
     "{{ 'a,b,,c'.split(',') }}|{{ '  a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'x</think>y'.split('</think>')[-1] }}|"
     "{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'Ab'.upper() }}|{{ 'Ab'.lower() }}|"
     "{{ \"hello's wORLD\".title() }}|{{ 'aXa'.replace('a', 'b') }}|{{ 'hello'.capitalize() }}|{{ '-'.join(['a', 'b']) }}|"
     "{{ 'banana'.count('a') }}|{{ 'banana'.find('n') }}|{{ 'a\\nb\\r\\nc'.splitlines() }}|{{ '12'.isdigit() }}|"
     "{{ 'abc'['upper']() }}|{{ 'x'.strip is defined }}", {}),
    ("dict_methods", "{% for k, v in d.items() %}{{ k }}:{{ v }} {% endfor %}{{ d.keys() | join(',') }} "
     "{{ d.values() | list }} {{ d.get('a', 0) }} {{ d.get('q', 0) }} {{ d['items'] is defined }} "
     "{{ [1, 2, 2].count(2) }} {{ [1, 2].index(2) }}", {"d": {"a": 1, "b": 2}}),
    ("globals", "{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ range(5, 0, -2) | list }} {{ dict(a=1) }} "
     "{{ namespace(a=1).a }} {{ strftime_now('%Y-%m-%d %H:%M') }}", {}),
    ("unicode", "{{ s }}|{{ s | length }}|{{ s[0] }}|{{ s[-1] }}|{{ s | upper }}|{{ s | tojson }}|{{ s.split('，') }}|{{ 'Straße ÀÉÎ ŒŸ Ĳ Ωμέγα Привет' | upper }}|{{ 'ÀÉÎ ΩΜΈΓΑ ПРИВЕТ' | lower }}|{{ 'élan vital' | title }}|{{ 'élan vital 中a'.title() }}|{{ 'émile' | capitalize }}",
     {"s": "你好，世界😀 é"}),
    ("generation_block", "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}"
     "{% endgeneration %}{% else %}{{ m.content }}{% endif %}|{% endfor %}", {"messages": PLAIN_CHAT}),
    ("concat_filter_precedence", "{{ bos_token + messages[0]['content'] | trim + '|' }}{{ 2 * 3 ~ 'x' }} {{ -2 | abs }} {{ 10 - 2 - 3 }} {{ not 1 == 2 }}",
     {"bos_token": "<s>", "messages": [{"content": "  hi  "}]}),
    ("unknown_filter_in_untaken_if", "{% if false %}{{ x | no_such_filter }}{% elif false %}{{ x is no_such_test }}"
     "{% endif %}ok", {}),
    ("tuple_subscript", "[{{ d['a', 'b'] }}]", {"d": {"a": 1}}),
    ("unknown_filter_in_inline_if", "{{ x | no_such_filter if false else 'ok' }} {{ 'y' if true else x is no_such_test }}",
     {}),
    ("undefined_in_containers", "{{ (a, b) }} {{ [a] }} {{ {'k': a} }}", {}),
    # Errors jinja2 raises (any error message is accepted unless it comes from raise_exception).
    ("error_raise_exception", "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}"
     "{% endif %}ok", {"messages": SYSTEM_CHAT}),
    ("error_undefined_attribute", "{{ nothing.attr }}", {}),
    ("error_undefined_arithmetic", "{{ nothing + 1 }}", {}),
    ("error_str_plus_int", "{{ 'a' + 1 }}", {}),
    ("error_unknown_filter", "{{ 'a' | no_such_filter }}", {}),
    ("error_unknown_test", "{{ 'a' is no_such_test }}", {}),
    ("error_unknown_filter_in_loop_in_if", "{% if false %}{% for x in [] %}{{ x | no_such_filter }}{% endfor %}"
     "{% endif %}", {}),
    ("error_unknown_filter_in_for_else", "{% if false %}{% for x in [] %}{% else %}{{ x | no_such_filter }}"
     "{% endfor %}{% endif %}", {}),
    ("error_slice_int", "{{ x[1:] }}", {"x": 5}),
    ("error_slice_none", "{{ x[::-1] }}", {"x": None}),
    ("error_slice_dict", "{{ x[::-1] }}", {"x": {"a": 1}}),
    ("error_unknown_filter_taken_if", "{% if true %}{{ 'a' | no_such_filter }}{% endif %}", {}),
    ("error_tojson_undefined", "{{ nothing | tojson }}", {}),
    ("error_namespace_assign_on_dict", "{% set d = {} %}{% set d.a = 1 %}", {}),
    ("error_list_append_unsafe", "{% set l = [] %}{{ l.append(1) }}", {}),
    ("error_range_too_big", "{{ range(200000) | length }}", {}),
    ("error_division_by_zero", "{{ 1 // 0 }}", {}),
    ("error_not_callable", "{{ 'x'() }}", {}),
    ("error_iterate_none", "{% for x in none %}{% endfor %}", {}),
    ("error_compare_types", "{{ 1 < 'a' }}", {}),
    ("error_syntax_unclosed_if", "{% if true %}never closed", {}),
    ("error_syntax_unclosed_var", "{{ 1 + ", {}),
    ("error_syntax_unknown_tag", "{% frobnicate %}", {}),
    ("error_syntax_break_outside_loop", "{% break %}", {}),
    ("error_syntax_bad_expression", "{{ 1 + * 2 }}", {}),
    ("error_syntax_unterminated_string", "{{ 'abc }}", {}),
    ("error_syntax_stray_endfor", "text{% endfor %}", {}),
    ("error_syntax_unclosed_comment", "{# never closed", {}),
    # Less common filters (filters_more.cpp).
    ("filter_dictsort", "{% for k, v in d|dictsort %}{{ k }}={{ v }};{% endfor %}|{{ d|dictsort(by='value', "
     "reverse=true) }}|{{ d|dictsort(true) }}", {"d": {"b": 1, "A": 3, "a": 2}}),
    ("filter_min_max", "{{ [3, 1, 2]|min }} {{ [3, 1, 2]|max }} {{ ['b', 'A', 'a']|min }} {{ ['b', 'A']|max(true) }} "
     "{{ xs|max(attribute='n') }} {{ []|min is undefined }}", {"xs": [{"n": 1}, {"n": 4}, {"n": 4, "k": 1}]}),
    ("filter_round", "{{ 2.567|round(2) }} {{ 2.5|round }} {{ 3.5|round }} {{ 7|round }} {{ 7|round(0, 'floor') }} "
     "{{ 2.1|round(0, 'ceil') }} {{ -1.55|round(1) }} {{ 1234.5|round(-2) }} {{ 0.125|round(2) }}", {}),
    ("filter_center", "[{{ 'ab'|center(7) }}][{{ 'abc'|center(6) }}][{{ 'é'|center(4) }}][{{ 'long'|center(2) }}]", {}),
    ("filter_batch", "{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [1, 2, 3]|batch(2, 'x')|list }}", {}),
    ("filter_escape", "{{ '<a href=\"x\">&\'</a>'|escape }} {{ 5|e }}", {}),
    ("error_filter_dictsort_list", "{{ [1]|dictsort }}", {}),
    ("with_block", "{% set a = 1 %}{% with a = a + 1, b = a %}{{ a }}{{ b }}{% set c = 5 %}{% endwith %}"
     "{{ a }}{{ c is defined }}{% for x in [1, 2] %}{% with y = x * 10 %}{{ y }}{% if y > 5 %}{% break %}{% endif %}"
     "{% endwith %}{% endfor %}", {}),
    ("with_empty", "{% with %}{% set q = 1 %}{{ q }}{% endwith %}{{ q is defined }}", {}),
    ("error_syntax_with_unclosed", "{% with a = 1 %}{{ a }}", {}),
    ("percent_format", "{{ '%s-%d-%.2f|%5s|%-5s|%05d|%x|%#x|%#o|%+d|%e|%g|%r|%c|%%|%.2s' % ('a', 3.9, 1.005, 'ab', "
     "'ab', -3, -255, 255, 8, 4, 12345.678, 0.0001, 'q', 65, 'xyz') }}|{{ '%(a)s=%(b)03d' % {'a': 'k', 'b': 7} }}|"
     "{{ '%s' % [1, 2] }}|{{ '%s' % none }}|{{ '%*d' % (4, 2) }}|{{ 'no args' % {} }}", {}),
    ("error_percent_not_enough", "{{ '%s %s' % ('a',) }}", {}),
    ("error_percent_too_many", "{{ '%s' % ('a', 'b') }}", {}),
    ("error_percent_bad_number", "{{ '%d' % 'x' }}", {}),
    ("error_percent_bad_char", "{{ '%y' % 1 }}", {}),
    ("filter_batch_odd_counts", "{{ [1, 2]|batch(0)|list }} {{ [1, 2]|batch(-1, 0)|list }}", {}),
    # Text and grouping filters (filters_text.cpp).
    ("filter_wordcount", "{{ 'Hello, world! foo_bar 42'|wordcount }} {{ ''|wordcount }} {{ 'héllo wörld — ok'|wordcount }} "
     "{{ 123|wordcount }}", {}),
    ("filter_truncate", "[{{ s|truncate(9) }}][{{ s|truncate(9, true) }}][{{ s|truncate(12, false, '…', 0) }}]"
     "[{{ s|truncate }}][{{ 'short'|truncate(3) }}][{{ s|truncate(10, leeway=40) }}][{{ 'nospaceshere!!'|truncate(6, leeway=0) }}]",
     {"s": "The quick brown fox jumps over the lazy dog"}),
    ("error_filter_truncate_short_length", "{{ 'abcdefghijkl'|truncate(2) }}", {}),
    ("filter_urlencode", "{{ 'a b/c&d=é?'|urlencode }}|{{ {'q': 'x y', 'n': 1, 'p/q': 'a&b'}|urlencode }}|"
     "{{ [('k', 'v 1'), ('z', none)]|urlencode }}|{{ 42|urlencode }}", {}),
    ("filter_attr", "{% set ns = namespace(x=5) %}{{ (d|attr('items'))()|list }} [{{ d|attr('a') }}] {{ ns|attr('x') }} {{ 'ab'|attr('upper')() }} "
     "{{ d|attr('missing') is undefined }}", {"d": {"a": 1, "items": 2}}),
    ("filter_groupby", "{% for grouper, members in people|groupby('city') %}{{ grouper }}:"
     "{% for p in members %}{{ p.name }},{% endfor %};{% endfor %}|{{ people|groupby('city', case_sensitive=true)|map('first')|list }}|"
     "{% for k, xs in people|groupby('age', default=0) %}{{ k }}={{ xs|length }} {% endfor %}|{{ [[1, 'a'], [0, 'b'], [1, 'c']]|groupby(0) }}",
     {"people": [{"name": "a", "city": "Paris", "age": 3}, {"name": "b", "city": "berlin"},
                 {"name": "c", "city": "paris", "age": 3}, {"name": "d", "city": "Berlin"}]}),
    ("error_filter_groupby_mixed_keys", "{{ xs|groupby('k') }}", {"xs": [{"k": 1}, {"k": "a"}]}),
    # The rarer str methods (string_methods_more.cpp).
    ("string_methods_justify", "[{{ 'ab'.rjust(5) }}][{{ 'ab'.ljust(5, '*') }}][{{ 'é'.rjust(3, 'ü') }}]"
     "[{{ 'long'.rjust(2) }}][{{ '-42'.zfill(6) }}][{{ '7'.zfill(3) }}]", {}),
    ("string_methods_partition", "{{ 'a=b=c'.partition('=') }} {{ 'a=b=c'.rpartition('=') }} {{ 'abc'.partition('=') }} "
     "{{ 'abc'.rpartition('=') }} {% set head, sep, tail = 'key: value: x'.partition(': ') %}[{{ head }}|{{ tail }}]", {}),
    ("error_string_partition_empty", "{{ 'abc'.partition('') }}", {}),
    ("error_string_rjust_fillchar", "{{ 'abc'.rjust(5, 'xy') }}", {}),
    # Macro varargs / kwargs / caller (evaluator_macro.cpp).
    ("macro_varargs_kwargs", "{% macro m(a, b=2) %}{{ a }},{{ b }},{{ varargs }},{{ kwargs }}{% endmacro %}"
     "[{{ m(1) }}][{{ m(1, 3, 4, 5) }}][{{ m(1, x=7, b=9, y='z') }}][{{ m(1, 2, a=5) }}]"
     "{% macro v() %}{% for x in varargs %}{{ x }};{% endfor %}{% endmacro %}[{{ v('p', 'q') }}]"
     "{% macro k() %}{% for key, val in kwargs|dictsort %}{{ key }}={{ val }} {% endfor %}{% endmacro %}"
     "[{{ k(z=1, a=2) }}]", {}),
    ("macro_caller_optional", "{% macro w(x) %}<{{ x }}:{{ caller() if caller is defined else 'none' }}>{% endmacro %}"
     "{{ w(1) }}{% call w(2) %}body{% endcall %}{% call(n) w(3) %}{% endcall %}", {}),
    ("macro_call_block_kwargs", "{% macro list_it(items) %}{% for i in items %}{{ caller(i, sep='|') }}{% endfor %}"
     "{{ kwargs.get('tail', '') }}{% endmacro %}{% call(x, sep) list_it([1, 2], tail='!') %}{{ x }}{{ sep }}{% endcall %}", {}),
    ("error_macro_too_many_args", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", {}),
    ("error_macro_unknown_kwarg", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, b=2) }}", {}),
    ("error_macro_positional_and_keyword", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, a=2) }}", {}),
    ("error_call_block_without_caller_use", "{% macro m() %}x{% endmacro %}{% call m() %}body{% endcall %}", {}),
    ("error_macro_caller_undefined", "{% macro m() %}{{ caller() }}{% endmacro %}{{ m() }}", {}),
    # Recursive loops (evaluator_loop.cpp).
    ("for_recursive", "{% for item in tree recursive %}{{ loop.depth }}{{ loop.depth0 }}:{{ item.name }}"
     "{% if item.children %}[{{ loop(item.children) }}]{% endif %}{{ ',' if not loop.last }}{% endfor %}|"
     "{% for x in tree if x.name != 'b' recursive %}{{ x.name }}({{ loop.index }}/{{ loop.length }})"
     "{% if x.children %}{{ loop(x.children) | upper }}{% endif %}{% else %}empty{% endfor %}|"
     "{% for x in tree recursive %}{{ x.name }}{% if loop.first %}{{ loop(x.children or []) }}{% endif %}{% endfor %}",
     {"tree": [{"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}, {"name": "d"}]},
               {"name": "b", "children": []}, {"name": "e", "children": [{"name": "b"}]}]}),
    ("for_recursive_break", "{% for x in xs recursive %}{{ x.n }}{% if x.n == 2 %}{% break %}{% endif %}"
     "{% if x.k %}<{{ loop(x.k) }}>{% endif %}{% endfor %}",
     {"xs": [{"n": 1, "k": [{"n": 2}, {"n": 3}]}, {"n": 2}, {"n": 4}]}),
    ("error_loop_call_not_recursive", "{% for x in [1] %}{{ loop([2]) }}{% endfor %}", {}),
    ("error_for_recursive_too_deep", "{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}", {}),
    # str.format (str_format.cpp).
    ("str_format_fields", "{{ '{} and {}'.format('a', 1) }}|{{ '{1}{0}{1}'.format('x', 'y') }}|{{ '{name}: {v!r}'.format(name='k', v='q') }}|"
     "{{ '{0[role]} {0.content} {1[1]}'.format(m, [5, 6]) }}|{{ '{{literal}} {}'.format(none) }}|{{ '{}'.format([1, 'a']) }}|"
     "{{ '{:>{w}}'.format('r', w=4) }}|{{ '{!s:^7}'.format(true) }}|{{ '{}'.format(nothing) }}",
     {"m": {"role": "user", "content": "hi"}}),
    ("str_format_specs", "{{ fmt.format(" + ", ".join(f"a[{i}]" for i in range(len(FORMAT_SPEC_ARGS))) + ") }}",
     {"fmt": "[{:>6}][{:<6}][{:^6}][{:*^7}][{:.2}][{:5.1}][{:d}][{:+d}][{: d}][{:05d}][{:x}][{:#X}][{:#o}][{:b}][{:,}]"
             "[{:_}][{:c}][{:.2f}][{:+.1e}][{:g}][{:.3g}][{:.1%}][{}][{:.3}][{:,.2f}][{:010,.2f}][{:=+8}][{:>5}][{:f}]"
             "[{:08.3f}][{}][{:E}][{}][{:.0f}][{:n}][{:,}][{:G}][{:.2e}][{:#.3g}][{:,d}][{:>+9.2f}][{:<05}][{:^9,}]",
      "a": FORMAT_SPEC_ARGS}),
    ("str_format_specs_more", "{{ fmt.format(" + ", ".join(f"a[{i}]" for i in range(len(FORMAT_SPEC_MORE_ARGS))) + ") }}",
     {"fmt": "[{:05}][{:x<4}][{:^+8.2f}][{:#b}][{:#x}][{:,}][{:.0e}][{:#.0f}][{:e}][{:%}][{:f}][{:g}][{:g}][{}][{:10}]"
             "[{:<10}][{:>4}][{:-d}][{:020_}][{:é>4}][{:.3s}][{:}][{:3}][{:,.1f}][{:g}][{:.10g}][{:F}]",
      "a": FORMAT_SPEC_MORE_ARGS}),
    ("error_str_format_int_precision", "{{ '{:.2}'.format(5) }}", {}),
    ("error_str_format_str_sign", "{{ '{:+}'.format('a') }}", {}),
    ("error_str_format_str_equals", "{{ '{:=5}'.format('a') }}", {}),
    ("error_str_format_int_s", "{{ '{:s}'.format(1) }}", {}),
    ("error_str_format_bad_conversion", "{{ '{!x}'.format(1) }}", {}),
    ("error_str_format_unclosed", "{{ '{0'.format(1) }}", {}),
    # Int dict keys (value.h dict_key).
    ("dict_int_keys", "{% set d = {1: 'a', 'b': 2, -3: [4]} %}{{ d }} {{ d[1] }} {{ d[-3] }} {{ d.get(1) }} {{ d[true] }} "
     "{{ 1 in d }} {{ '1' in d }} {{ d.keys()|list }} {{ d|tojson }} {% for k, v in d.items() %}{{ k + 0 if k is number else k }}={{ v }};{% endfor %}"
     "{{ {2: 'x', 1: 'y'}|dictsort }} {{ {2: 'x', 10: 'y'}|tojson(sort_keys=true) }} {{ d|length }} {{ {0: 'z'}|list }} "
     "{{ {1: 'q'} == {1: 'q'} }} {{ {1: 'q'} == {'1': 'q'} }} {{ [{0: 'r'}]|map(attribute='0')|list }}", {}),
    ("error_dict_int_key_missing", "{{ {1: 'a'}[2] + 1 }}", {}),
    ("error_tojson_sort_mixed_keys", "{{ {1: 'a', 'b': 2}|tojson(sort_keys=true) }}", {}),
    ("error_dictsort_mixed_keys", "{{ {1: 'a', 'b': 2}|dictsort }}", {}),
    ("filter_wordwrap", "{{ s|wordwrap(12, break_on_hyphens=false) }}|{{ s|wordwrap(5, false, '<br>', false) }}|"
     "{{ 'aaaaaaaaaaaa bb'|wordwrap(5) }}|{{ 'x  y   z\n\n  lead\ttab  '|wordwrap(3) }}|{{ ''|wordwrap(0) }}|"
     "{{ 'héllo wörld ünïcode'|wordwrap(6) }}|{{ 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen'|wordwrap }}|"
     "{{ 'ab-cd-ef gh'|wordwrap(4, true, '/', false) }}",
     {"s": "The quick brown fox jumps over the lazy dog, extraordinarily-long-hyphenated words\nsecond line here"}),
    ("error_filter_wordwrap_width", "{{ 'abc'|wordwrap(0) }}", {}),
    ("filter_pprint", "{{ d|pprint }}|{{ [3, 'a', none, true, 1.5]|pprint }}|{{ \"it's\"|pprint }}|{{ (1,)|pprint }}|"
     "{{ {2: 'b', 1: {'z': 1, 'a': [2]}}|pprint }}|{{ 7|pprint }}", {"d": {"b": 1, "a": {"d": 2, "c": 3}}}),
    ("error_str_format_missing_index", "{{ '{} {}'.format(1) }}", {}),
    ("error_str_format_missing_key", "{{ '{a}'.format(b=1) }}", {}),
    ("error_str_format_mixed_numbering", "{{ '{} {0}'.format(1) }}", {}),
    ("error_str_format_single_brace", "{{ 'a } b'.format() }}", {}),
    ("error_str_format_bad_code", "{{ '{:d}'.format('x') }}", {}),
    ("error_str_format_list_spec", "{{ '{:>5}'.format([1]) }}", {}),
    ("error_str_format_unsafe_attr", "{{ '{0.__class__}'.format(1) }}", {}),
]


def gguf_template(path):
    reader = gguf.GGUFReader(str(path))
    field = reader.fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--fixtures", default=ROOT.parent / "shared/fixtures/chat_templates")
    ap.add_argument("--out", default=ROOT / "tests/data/chat_templates.json")
    args = ap.parse_args()

    templates, cases, excluded = {}, [], []
    templates["smollm2-gguf"] = gguf_template(args.model)
    for ctx_name, ctx in SMOLLM2_CONTEXTS.items():
        cases.append({"name": f"smollm2/{ctx_name}", "template": "smollm2-gguf", "context": ctx,
                      **render(templates["smollm2-gguf"], ctx)})

    for path in sorted(pathlib.Path(args.fixtures).glob("*.jinja")):
        name = path.stem
        if name in EXCLUDED:
            excluded.append({"template": path.name, "reason": EXCLUDED[name]})
            continue
        templates[name] = path.read_text(encoding="utf-8")
        for ctx_name, ctx in FIXTURE_CONTEXTS.items():
            cases.append({"name": f"fixture/{name}/{ctx_name}", "template": name, "context": ctx,
                          **render(templates[name], ctx)})

    # The chat templates inside the fixture tokenizers' tokenizer_config.json (string or list form).
    for config in sorted(pathlib.Path(args.fixtures).parent.glob("tokenizers/*/tokenizer_config.json")):
        value = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
        named = {"default": value} if isinstance(value, str) else {t["name"]: t["template"] for t in value or []}
        for tname, source in named.items():
            name = f"tokenizer_config/{config.parent.name}/{tname}"
            templates[name] = source
            for ctx_name, ctx in FIXTURE_CONTEXTS.items():
                cases.append({"name": f"{name}/{ctx_name}", "template": name, "context": ctx, **render(source, ctx)})

    for prefix, named_cases in (("syntax", SYNTAX_CASES), ("feature", FEATURE_CASES), ("idiom", IDIOM_CASES)):
        for name, source, ctx in named_cases:
            key = f"{prefix}/{name}"
            templates[key] = source
            cases.append({"name": key, "template": key, "context": ctx, **render(source, ctx)})

    doc = {
        "generator": "tools/goldens/chat_templates.py",
        "jinja2_version": jinja2.__version__,
        "now_unix_seconds": NOW_UNIX_SECONDS,
        "excluded_fixtures": excluded,
        "templates": templates,
        "cases": cases,
    }
    pathlib.Path(args.out).write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    n_err = sum("expected_error" in c for c in cases)
    print(f"wrote {args.out}: {len(cases)} cases ({n_err} expecting errors), {len(excluded)} fixtures excluded")


if __name__ == "__main__":
    main()
