"""Tool calling through the official openai client: a server with --enable-auto-tool-choice --tool-call-parser
hermes and a tool-use template (Hermes 2 Pro's, from the shared fixtures) on the default model. The small model may
or may not call the tool; what must hold either way: the tools reach the template, the answer has vLLM's shape, and
the streamed deltas reassemble to the non-streamed answer at temperature 0. Start-up refuses unknown parser names,
listing the known ones, and the mistral parser on a vocabulary without [TOOL_CALLS]. With phi4_mini_json (no model format), tool_choice required / named are constrained by the
structured-output engine: the calls' arguments validate against the tools' schemas (jsonschema); so with granite
(Granite 3.0's template), whose streams of required calls send none, as vLLM's engine-based parsers."""
import json
import os
import subprocess

import jsonschema
import openai
import pytest

from conftest import SERVED_MODEL, start_server
from podserve_testutil import join_chat_stream, require_env

FIXTURES = os.environ.get("PODSERVE_FIXTURES", "")
TEMPLATE = os.path.join(FIXTURES, "chat_templates", "hermes-2-pro-llama-3-tool_use.jinja")
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
MESSAGES = [{"role": "system", "content": "Call get_weather for weather questions."},
            {"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def tool_client():
    srv = start_server(["--enable-auto-tool-choice", "--tool-call-parser", "hermes", "--chat-template", TEMPLATE])
    yield srv.client()
    srv.stop()


def test_tools_reach_the_template(tool_client):
    # Hermes 2 Pro's template iterates `tools` unconditionally (jinja2 fails on None, so does vLLM): compare one
    # tool with two.
    time_tool = {"type": "function", "function": {"name": "get_time", "description": "Current time in a zone",
                                                  "parameters": {"type": "object", "properties": {
                                                      "zone": {"type": "string"}}}}}
    one = tool_client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, tools=TOOLS, max_tokens=1,
                                              temperature=0)
    two = tool_client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, tools=TOOLS + [time_tool],
                                              max_tokens=1, temperature=0)
    assert two.usage.prompt_tokens > one.usage.prompt_tokens + 20


def test_stream_reassembles_to_the_full_answer(tool_client):
    full = tool_client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, tools=TOOLS, max_tokens=60,
                                               temperature=0)
    choice = full.choices[0]
    calls = choice.message.tool_calls or []
    assert choice.finish_reason == ("tool_calls" if calls else choice.finish_reason)
    for c in calls:
        assert c.id.startswith("chatcmpl-tool-") and len(c.id) == len("chatcmpl-tool-") + 16
        json.loads(c.function.arguments)
    _, content, streamed, finish = join_chat_stream(tool_client.chat.completions.create(
        model=SERVED_MODEL, messages=MESSAGES, tools=TOOLS, max_tokens=60, temperature=0, stream=True))
    assert finish == choice.finish_reason
    assert (content or None) == (choice.message.content or None)
    assert [s["name"] for s in streamed] == [c.function.name for c in calls]
    # Streamed arguments are the raw text, the full answer's re-serialized (vLLM): equal as JSON.
    assert [json.loads(s["arguments"]) for s in streamed] == [json.loads(c.function.arguments) for c in calls]


def test_tool_choice_none_and_history(tool_client):
    history = MESSAGES + [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C, sunny"}]
    r = tool_client.chat.completions.create(model=SERVED_MODEL, messages=history, tools=TOOLS, tool_choice="none",
                                            max_tokens=8, temperature=0)
    assert r.choices[0].message.tool_calls is None and r.choices[0].finish_reason in ("stop", "length")


def failed_startup(parser):
    """The output of a server start with `parser` that must fail."""
    args = [require_env("PODSERVE_BINARY"), "serve", "--model", require_env("PODSERVE_TEST_MODEL"),
            "--enable-auto-tool-choice", "--tool-call-parser", parser]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    return out.stderr + out.stdout


def test_unknown_parser_stops_startup():
    text = failed_startup("no_such_parser")
    assert "no_such_parser" in text and "hermes" in text


def test_mistral_parser_needs_its_marker():
    # vLLM's MistralParser raises without [TOOL_CALLS] in the vocabulary, and SmolLM2's has none: a start-up message.
    text = failed_startup("mistral")
    assert "--tool-call-parser mistral" in text and "[TOOL_CALLS]" in text


# tool_choice required / named on a parser without a model format (phi4_mini_json; vLLM's Path A): the tools'
# JSON schema constrains the output, so even the small default model answers with calls whose arguments are
# valid under the tool's schema (checked with jsonschema), streamed or not, at any temperature.
CONSTRAINED_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {
        "type": "object", "properties": {"zone": {"type": "string", "enum": ["UTC", "CET"]}}, "required": ["zone"]}}}]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in CONSTRAINED_TOOLS}


@pytest.fixture(scope="module")
def constrained_client():
    srv = start_server(["--enable-auto-tool-choice", "--tool-call-parser", "phi4_mini_json"])
    yield srv.client()
    srv.stop()


def streamed_calls(stream):
    calls, finish = {}, None
    for chunk in stream:
        for ch in chunk.choices:
            for tc in ch.delta.tool_calls or []:
                entry = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                entry["id"] = tc.id or entry["id"]
                entry["name"] += (tc.function.name or "") if tc.function else ""
                entry["arguments"] += (tc.function.arguments or "") if tc.function else ""
            finish = ch.finish_reason or finish
    return [calls[i] for i in sorted(calls)], finish


@pytest.mark.parametrize("seed", [1, 2])
def test_required_calls_follow_the_schemas(constrained_client, seed):
    args = dict(model=SERVED_MODEL, messages=MESSAGES, tools=CONSTRAINED_TOOLS, tool_choice="required",
                max_tokens=120, temperature=1.0, seed=seed)
    full = constrained_client.chat.completions.create(**args)
    choice = full.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == ""
    assert choice.message.tool_calls
    for c in choice.message.tool_calls:
        assert c.id.startswith("chatcmpl-tool-")
        jsonschema.validate(json.loads(c.function.arguments), SCHEMAS[c.function.name])
    calls, finish = streamed_calls(constrained_client.chat.completions.create(**args, stream=True))
    assert finish == "tool_calls"
    assert [c["name"] for c in calls] == [c.function.name for c in choice.message.tool_calls]
    # The same seed gives the same tokens: streamed raw arguments equal the re-serialized ones as JSON.
    assert [json.loads(c["arguments"]) for c in calls] == \
        [json.loads(c.function.arguments) for c in choice.message.tool_calls]


def test_named_call_follows_its_schema(constrained_client):
    args = dict(model=SERVED_MODEL, messages=MESSAGES, tools=CONSTRAINED_TOOLS,
                tool_choice={"type": "function", "function": {"name": "get_time"}}, max_tokens=60, temperature=1.0,
                seed=3)
    full = constrained_client.chat.completions.create(**args)
    choice = full.choices[0]
    assert choice.finish_reason == "stop" and choice.message.content == ""
    [call] = choice.message.tool_calls
    assert call.function.name == "get_time"
    jsonschema.validate(json.loads(call.function.arguments), SCHEMAS["get_time"])
    calls, finish = streamed_calls(constrained_client.chat.completions.create(**args, stream=True))
    assert finish == "stop" and len(calls) == 1 and calls[0]["name"] == "get_time"
    assert calls[0]["arguments"] == call.function.arguments  # named: the raw output in both


def test_unconstrainable_tool_schema_is_400(constrained_client):
    # podserve has only the xgrammar-equivalent grammar: what xgrammar refuses is a clear 400 (vLLM would fall
    # back to its guidance backend).
    tools = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"n": {"type": "integer", "multipleOf": 3}}}}}]
    with pytest.raises(openai.BadRequestError) as err:
        constrained_client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, tools=tools,
                                                   tool_choice="required", max_tokens=5)
    assert "not supported by xgrammar" in err.value.message


@pytest.fixture(scope="module")
def granite_client():
    template = os.path.join(FIXTURES, "chat_templates", "granite-3.0-instruct.jinja")
    srv = start_server(["--enable-auto-tool-choice", "--tool-call-parser", "granite", "--chat-template", template])
    yield srv.client()
    srv.stop()


def test_granite_required_calls(granite_client):
    # granite has no structural tag in vLLM: required is the JSON-schema constraint, as phi4_mini_json. Its engine
    # reads each streamed step alone (vLLM's StreamState for engine-based parsers), so a required stream sends no
    # calls while the whole answer has them (tool_parsers_test pins this against vLLM's own parser).
    args = dict(model=SERVED_MODEL, messages=MESSAGES, tools=CONSTRAINED_TOOLS, tool_choice="required",
                max_tokens=120, temperature=1.0, seed=1)
    choice = granite_client.chat.completions.create(**args).choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    for c in choice.message.tool_calls:
        jsonschema.validate(json.loads(c.function.arguments), SCHEMAS[c.function.name])
    calls, _ = streamed_calls(granite_client.chat.completions.create(**args, stream=True))
    assert calls == []


# tool_choice required / named on parsers with a model format (vLLM's Path B, structured-tools.md §3.2): the
# request is constrained by the structural tag vLLM builds for the parser (hermes: <tool_call> blocks back to back;
# auto with a strict tool or parallel_tool_calls false: free text in which each <tool_call> starts a call),
# compiled by the structural-tag front end, and the parser reads the calls as usual (llama3_json needs
# <|python_tag|> in the vocabulary, which SmolLM2 lacks; its tag is checked against xgrammar in tests/structured). Tools marked strict get their schema (vLLM's default --tool-strict-level auto);
# the others only the envelope with any JSON arguments. Sampled at temperature 1 over several seeds, the answers
# must always be well-formed calls of the right tools with arguments valid under the schemas (jsonschema).
# (Hermes 2 Pro's template needs a description.)
STRICT_TOOLS = [{"type": "function", "function": {**t["function"], "description": t["function"]["name"], "strict": True}}
                for t in CONSTRAINED_TOOLS]
LOOSE_TOOL = {"type": "function", "function": {"name": "note", "description": "Take a note", "parameters": {
    "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}}


def path_b_calls(client, tool_choice, seed, parallel=True, tools=STRICT_TOOLS):
    extra = {} if parallel else {"parallel_tool_calls": False}
    r = client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, tools=tools, tool_choice=tool_choice,
                                       max_tokens=150, temperature=1.0, seed=seed, **extra)
    choice = r.choices[0]
    assert choice.finish_reason != "length", choice.message
    return choice, choice.message.tool_calls or []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hermes_required_calls_follow_the_schemas(tool_client, seed):
    choice, calls = path_b_calls(tool_client, "required", seed)
    assert calls and choice.finish_reason == "tool_calls"
    assert not (choice.message.content or "").strip()  # required: <tool_call> blocks and nothing else
    for c in calls:
        jsonschema.validate(json.loads(c.function.arguments), SCHEMAS[c.function.name])


@pytest.mark.parametrize("seed", [4, 5])
def test_hermes_named_and_single_calls(tool_client, seed):
    named = {"type": "function", "function": {"name": "get_weather"}}
    _, calls = path_b_calls(tool_client, named, seed)
    assert [c.function.name for c in calls] == ["get_weather"]
    jsonschema.validate(json.loads(calls[0].function.arguments), SCHEMAS["get_weather"])
    _, calls = path_b_calls(tool_client, "required", seed, parallel=False)
    assert len(calls) == 1
    jsonschema.validate(json.loads(calls[0].function.arguments), SCHEMAS[calls[0].function.name])


def test_hermes_non_strict_tool_gets_any_json_arguments(tool_client):
    # Only the envelope is constrained: the arguments are any JSON value (whose whitespace may run to the limit).
    named = {"type": "function", "function": {"name": "note"}}
    for seed in (6, 7, 8):
        r = tool_client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, tools=STRICT_TOOLS + [LOOSE_TOOL],
                                                tool_choice=named, max_tokens=60, temperature=1.0, seed=seed)
        choice = r.choices[0]
        if choice.finish_reason == "length":
            assert choice.message.content.startswith(('<tool_call>\n{"name": "note", "arguments": ',
                                                      '<tool_call>{"name": "note", "arguments": '))
        else:
            assert [c.function.name for c in choice.message.tool_calls] == ["note"]
            json.loads(choice.message.tool_calls[0].function.arguments)


HERMES_BEGINS = [begin + t["function"]["name"] + '", "arguments": ' for t in STRICT_TOOLS
                 for begin in ('<tool_call>\n{"name": "', '<tool_call>{"name": "')]


@pytest.mark.parametrize("seed,parallel", [(11, True), (12, True), (13, True), (14, False), (15, False)])
def test_hermes_auto_with_strict_tools_is_text_or_valid_calls(tool_client, seed, parallel):
    # auto with a strict tool (or parallel_tool_calls false) gets vLLM's triggered tag: free text, and every
    # <tool_call> the model opens must be one of the tools' envelopes with schema-valid arguments.
    extra = {} if parallel else {"parallel_tool_calls": False}
    r = tool_client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, tools=STRICT_TOOLS,
                                            tool_choice="auto", max_tokens=150, temperature=1.0, seed=seed, **extra)
    choice = r.choices[0]
    calls = choice.message.tool_calls or []
    for c in calls:
        jsonschema.validate(json.loads(c.function.arguments), SCHEMAS[c.function.name])
    if not parallel:
        assert len(calls) <= 1
    text = choice.message.content or ""
    if "<tool_call>" in text:  # only a call cut off by max_tokens stays in the text: its envelope so far
        assert choice.finish_reason == "length", text
        rest = text[text.rindex("<tool_call>"):]
        assert any(b.startswith(rest) or rest.startswith(b) for b in HERMES_BEGINS), text
