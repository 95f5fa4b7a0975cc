"""gpt-oss's harmony output (--tool-call-parser openai, --reasoning-parser openai_gptoss) through the official openai
client. No small model speaks harmony, so the tiny SmolLM2 config is served with dummy weights (--load-format dummy)
and a tokenizer that has gpt-oss's special tokens added; a `structured_outputs.choice` forces the text of one of the
goldens' outputs, and a logit_bias of -100 on every token spelling '<' or '|' makes the special tokens the only way
to write the markers. The answer must be what vLLM's HarmonyParser made of that text (tests/data/harmony_parser.json:
harmony reads plain text the same however it is split), whole and streamed. A vocabulary without the harmony tokens
(the default model's) is a start-up error."""
import json
import os
import subprocess

import pytest

from conftest import SERVED_MODEL, start_server
from podserve_testutil import join_chat_stream, require_env, tiny_model_with_special_tokens

DATA = os.environ.get("PODSERVE_TEST_DATA", "")
TINY_DIR = os.path.join(DATA, "tiny_models", "smollm2", "f32")
HARMONY = ["<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|call|>", "<|return|>", "<|constrain|>"]
GOLDEN = json.load(open(os.path.join(DATA, "harmony_parser.json")))
CASE = next(c for c in GOLDEN["cases"] if c["name"] == "analysis_call")
TOOLS = CASE["request"]["tools"]
MESSAGES = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture(scope="module")
def harmony_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("harmony-model")
    _, vocab = tiny_model_with_special_tokens(d, TINY_DIR, HARMONY)
    bias = {str(i): -100 for t, i in vocab.items() if "<" in t or "|" in t}
    srv = start_server(["--model", str(d), "--load-format", "dummy", "--max-model-len", "512",
                        "--enable-auto-tool-choice", "--tool-call-parser", "openai",
                        "--reasoning-parser", "openai_gptoss"])
    yield srv.client(), bias
    srv.stop()


def request(bias, **kw):
    return dict(model=SERVED_MODEL, messages=MESSAGES, tools=TOOLS, max_tokens=200, temperature=0, logit_bias=bias,
                extra_body={"structured_outputs": {"choice": [CASE["output"]]}}, **kw)


def test_whole_answer_is_vllms(harmony_server):
    client, bias = harmony_server
    r = client.chat.completions.create(**request(bias))
    want = CASE["expected"]["responses"]["stop"]
    choice = r.choices[0]
    assert choice.finish_reason == want["finish_reason"] == "tool_calls"
    assert choice.message.content == want["message"]["content"]
    assert choice.message.reasoning == want["message"]["reasoning"]
    assert [{"name": c.function.name, "arguments": c.function.arguments} for c in choice.message.tool_calls] == \
        want["message"]["tool_calls"]
    assert all(c.id.startswith("chatcmpl-tool-") for c in choice.message.tool_calls)
    assert r.usage.completion_tokens_details.reasoning_tokens > 0


def test_stream_is_vllms(harmony_server):
    client, bias = harmony_server
    reasoning, content, calls, finish = join_chat_stream(client.chat.completions.create(**request(bias), stream=True))
    want = CASE["expected"]
    assert finish == "tool_calls"
    assert reasoning == want["reasoning"] and content == ""
    # Streamed arguments are the raw text between <|message|> and <|call|> (vLLM); whole answers re-serialize it.
    assert calls == [{"name": "get_weather", "arguments": '{"city": "Paris"}'}]


def test_vocabulary_without_harmony_tokens_stops_startup():
    args = [require_env("PODSERVE_BINARY"), "serve", "--model", require_env("PODSERVE_TEST_MODEL"),
            "--reasoning-parser", "openai_gptoss"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "openai_gptoss" in out.stderr + out.stdout and "<|channel|>" in out.stderr + out.stdout


def test_harmony_mixed_with_another_parser_stops_startup():
    args = [require_env("PODSERVE_BINARY"), "serve", "--model", require_env("PODSERVE_TEST_MODEL"),
            "--enable-auto-tool-choice", "--tool-call-parser", "hermes", "--reasoning-parser", "openai_gptoss"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "--tool-call-parser openai" in out.stderr + out.stdout and "hermes" in out.stderr + out.stdout
