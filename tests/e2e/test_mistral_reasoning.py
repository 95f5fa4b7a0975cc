"""Magistral's reasoning (--reasoning-parser mistral, with --tool-call-parser mistral) through the official openai
client. No small model writes [THINK], so the tiny SmolLM2 config is served with dummy weights (--load-format dummy)
and a tokenizer that has Magistral's special tokens added ([THINK], [/THINK], [TOOL_CALLS], [ARGS], [CALL_ID]); a
`structured_outputs.choice` forces the text of one of the goldens' outputs, and a logit_bias of -100 on every token
spelling '[' makes the special tokens the only way to write the markers. The constraint applies from the first token
because the server runs with enable_in_reasoning (otherwise masking waits for [/THINK], as in vLLM). The answer must
be what vLLM's MistralParser made of that text (tests/data/tool_parsers.json), whole and streamed. A vocabulary
without [TOOL_CALLS] (the tiny model's own) is a start-up error, as vLLM's MistralParser raises."""
import json
import os
import subprocess

import pytest

from conftest import SERVED_MODEL, start_server
from podserve_testutil import join_chat_stream, require_env, tiny_model_with_special_tokens

DATA = os.environ.get("PODSERVE_TEST_DATA", "")
TINY_DIR = os.path.join(DATA, "tiny_models", "smollm2", "f32")
MARKERS = ["[TOOL_CALLS]", "[ARGS]", "[CALL_ID]", "[THINK]", "[/THINK]"]
GOLDEN = json.load(open(os.path.join(DATA, "tool_parsers.json")))
CASES = {c["name"]: c for c in GOLDEN["cases"]}
MESSAGES = [{"role": "user", "content": "Weather in Paris?"}]


def magistral_model(tmp_path_factory):
    """The tiny model directory with Magistral's markers added, and a logit_bias banning every '[' token."""
    d = tmp_path_factory.mktemp("magistral-model")
    ids, vocab = tiny_model_with_special_tokens(d, TINY_DIR, MARKERS)
    bias = {str(i): -100 for t, i in vocab.items() if "[" in t}
    return d, bias, ids


def serve(model_dir, *extra):
    return start_server(["--model", str(model_dir), "--load-format", "dummy", "--max-model-len", "512",
                         "--enable-auto-tool-choice", "--tool-call-parser", "mistral", "--reasoning-parser", "mistral",
                         *extra])


@pytest.fixture(scope="module")
def magistral_server(tmp_path_factory):
    d, bias, _ = magistral_model(tmp_path_factory)
    srv = serve(d, "--structured-outputs-config", '{"enable_in_reasoning": true}')
    yield srv.client(), bias
    srv.stop()


def request(case, bias, **kw):
    return dict(model=SERVED_MODEL, messages=MESSAGES, max_tokens=200, temperature=0, logit_bias=bias,
                extra_body={"structured_outputs": {"choice": [case["output"]]}}, **case["request"], **kw)


@pytest.mark.parametrize("name", ["mistral_think_tools_10", "mistral_think_tools_1", "mistral_think_tools_11"])
def test_whole_answer_is_vllms(magistral_server, name):
    client, bias = magistral_server
    case = CASES[name]
    want = case["expected"]["responses"]["stop"]
    choice = client.chat.completions.create(**request(case, bias)).choices[0]
    assert choice.finish_reason == want["finish_reason"]
    assert choice.message.content == want["message"]["content"]
    assert choice.message.reasoning == want["message"]["reasoning"]
    assert choice.message.reasoning_content == choice.message.reasoning  # the older name, kept beside it
    calls = [{"name": c.function.name, "arguments": c.function.arguments} for c in choice.message.tool_calls or []]
    assert calls == want["message"].get("tool_calls", [])
    assert all(len(c.id) == 9 and c.id.isalnum() for c in choice.message.tool_calls or [])


def joined_golden_stream(case):
    """vLLM's deltas of one chunking, joined as join_chat_stream joins the server's."""
    reasoning, content, calls = "", "", []
    for d in case["streams"][0]["deltas"]:
        if d is None:
            continue
        reasoning += d.get("reasoning") or ""
        content += d.get("content") or ""
        for tc in d.get("tool_calls") or []:
            fn = tc.get("function") or {}
            if tc["index"] >= len(calls):
                calls.append({"name": "", "arguments": ""})
            calls[tc["index"]]["name"] += fn.get("name") or ""
            calls[tc["index"]]["arguments"] += fn.get("arguments") or ""
    return reasoning, content, calls


@pytest.mark.parametrize("name", ["mistral_think_tools_10", "mistral_think_tools_1"])
def test_stream_is_vllms(magistral_server, name):
    client, bias = magistral_server
    case = CASES[name]
    reasoning, content, calls, finish = join_chat_stream(
        client.chat.completions.create(**request(case, bias), stream=True))
    want_reasoning, want_content, want_calls = joined_golden_stream(case)
    assert finish == case["expected"]["responses"]["stop"]["finish_reason"]
    assert (reasoning, content, calls) == (want_reasoning, want_content, want_calls)


def test_usage_counts_reasoning_tokens(magistral_server):
    client, bias = magistral_server
    r = client.chat.completions.create(**request(CASES["mistral_think_0"], bias))
    assert r.choices[0].message.reasoning == "The user wants the weather."
    assert r.usage.completion_tokens_details.reasoning_tokens > 0


def test_constraint_waits_for_the_end_of_reasoning(tmp_path_factory):
    # Without enable_in_reasoning masking starts after [/THINK] (vLLM's wait_for_reasoning: the prompt has no
    # marker, so reasoning is open). A +100 bias on [/THINK] makes it the first token, which only an unmasked
    # step allows; then the choice constrains the rest.
    # /v1/completions waits the same way (vLLM's structured-output manager gates every request with a
    # constraint, chat or not).
    d, _, ids = magistral_model(tmp_path_factory)
    srv = serve(d)
    try:
        bias = {str(ids["[/THINK]"]): 100}
        r = srv.client().chat.completions.create(
            model=SERVED_MODEL, messages=MESSAGES, max_tokens=20, temperature=0, logprobs=True,
            logit_bias=bias, extra_body={"structured_outputs": {"choice": ["ok"]}})
        c = srv.client().completions.create(
            model=SERVED_MODEL, prompt="Weather in Paris?", max_tokens=20, temperature=0, logprobs=1,
            logit_bias=bias, extra_body={"structured_outputs": {"choice": ["ok"]}})
    finally:
        srv.stop()
    choice = r.choices[0]
    assert choice.logprobs.content[0].token == "[/THINK]"
    assert choice.message.content == "ok" and choice.message.reasoning is None
    assert c.choices[0].logprobs.tokens[0] == "[/THINK]"
    assert c.choices[0].text == "ok"


def test_vocabulary_without_tool_calls_token_stops_startup():
    args = [require_env("PODSERVE_BINARY"), "serve", "--model", TINY_DIR, "--load-format", "dummy",
            "--reasoning-parser", "mistral"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "--reasoning-parser mistral" in out.stderr + out.stdout
    assert "could not locate the tool call token" in out.stderr + out.stdout
