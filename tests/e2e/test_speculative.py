"""Speculative decoding (n-gram, and a draft model) through the real server, with the official openai client: greedy answers equal the
plain server's, streaming carries them whole, the vLLM spec-decode counters move on /metrics, vLLM's 400 for
min_p / logit_bias, and a bad SPECULATIVE_CONFIG stops start-up with vLLM's message."""

import os
import re
import subprocess

import httpx
import openai
import pytest
from conftest import SERVED_MODEL, error_of, start_server
from podserve_testutil import require_env

SPEC = '{"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_min": 2, "prompt_lookup_max": 5}'
PROMPTS = [
    "Repeat this sentence three times: the red fox jumps over the fence. The red fox",
    "def add(a, b):\n    return a + b\n\n# The same function, renamed:\ndef plus(a, b):\n",
    "<li>apples</li>\n<li>pears</li>\n<li>apples</li>\n<li>",
]


@pytest.fixture(scope="module")
def spec_server():
    srv = start_server(env={"SPECULATIVE_CONFIG": SPEC})
    yield srv
    srv.stop()


def metric(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + r"\{[^}]*" + re.escape(labels) + r"[^}]*\} ([0-9.e+]+)"
    m = re.search(pattern, text)
    assert m, f"{name} {labels} missing from /metrics:\n{text[-1500:]}"
    return float(m.group(1))


def test_greedy_answers_equal_plain_decoding(client, spec_server):
    spec = spec_server.client()
    before = httpx.get(spec_server.url + "/metrics").text
    for prompt in PROMPTS:
        plain = client.completions.create(model=SERVED_MODEL, prompt=prompt, max_tokens=32, temperature=0)
        got = spec.completions.create(model=SERVED_MODEL, prompt=prompt, max_tokens=32, temperature=0)
        assert got.choices[0].text == plain.choices[0].text
        assert got.usage.completion_tokens == plain.usage.completion_tokens
        assert got.choices[0].finish_reason == plain.choices[0].finish_reason
    # Logprobs of verified tokens come from their target rows, as in plain decoding.
    plain = client.completions.create(model=SERVED_MODEL, prompt=PROMPTS[0], max_tokens=16, temperature=0, logprobs=2)
    got = spec.completions.create(model=SERVED_MODEL, prompt=PROMPTS[0], max_tokens=16, temperature=0, logprobs=2)
    assert got.choices[0].logprobs.tokens == plain.choices[0].logprobs.tokens
    assert got.choices[0].logprobs.token_logprobs == pytest.approx(plain.choices[0].logprobs.token_logprobs, abs=1e-4)
    after = httpx.get(spec_server.url + "/metrics").text
    drafted = metric(after, "vllm:spec_decode_num_draft_tokens_total") - metric(
        before, "vllm:spec_decode_num_draft_tokens_total")
    accepted = metric(after, "vllm:spec_decode_num_accepted_tokens_total") - metric(
        before, "vllm:spec_decode_num_accepted_tokens_total")
    assert drafted > 0 and 0 < accepted <= drafted
    assert metric(after, "vllm:spec_decode_num_drafts_total") > 0
    assert metric(after, "vllm:spec_decode_num_accepted_tokens_per_pos_total", 'position="0"') > 0
    assert 'position="3"' in after and 'position="4"' not in after
    # The plain server has no spec-decode metrics, as vLLM without a speculative config.
    assert "spec_decode" not in httpx.get(client.base_url.join("/metrics").__str__().replace("/v1", "")).text


def test_streaming_and_chat_carry_the_same_text(client, spec_server):
    spec = spec_server.client()
    messages = [{"role": "user", "content": "Say 'one two three, one two three, one two three' again."}]
    plain = client.chat.completions.create(model=SERVED_MODEL, messages=messages, max_tokens=24, temperature=0)
    chunks = spec.chat.completions.create(model=SERVED_MODEL, messages=messages, max_tokens=24, temperature=0,
                                          stream=True, stream_options={"include_usage": True})
    text, usage = "", None
    for chunk in chunks:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == plain.choices[0].message.content
    assert usage.completion_tokens == plain.usage.completion_tokens


def test_stop_strings_and_seeded_sampling_work(spec_server):
    spec = spec_server.client()
    prompt = PROMPTS[0]
    r = spec.completions.create(model=SERVED_MODEL, prompt=prompt, max_tokens=40, temperature=0, stop=["fence"])
    assert "fence" not in r.choices[0].text and r.choices[0].finish_reason == "stop"
    a = spec.completions.create(model=SERVED_MODEL, prompt=prompt, max_tokens=16, temperature=0.8, seed=7, n=2)
    b = spec.completions.create(model=SERVED_MODEL, prompt=prompt, max_tokens=16, temperature=0.8, seed=7, n=2)
    assert [c.text for c in a.choices] == [c.text for c in b.choices]
    assert all(c.finish_reason == "length" for c in a.choices)


def test_draft_model_answers_equal_plain_decoding(client):
    """SPECULATIVE_MODEL (G1's variables) loads a draft model; here the served model drafts for itself."""
    srv = start_server(env={"SPECULATIVE_MODEL": require_env("PODSERVE_TEST_MODEL"), "NUM_SPECULATIVE_TOKENS": "3"})
    try:
        prompt = PROMPTS[1]
        plain = client.completions.create(model=SERVED_MODEL, prompt=prompt, max_tokens=16, temperature=0)
        got = srv.client().completions.create(model=SERVED_MODEL, prompt=prompt, max_tokens=16, temperature=0)
        assert got.choices[0].text == plain.choices[0].text
        metrics = httpx.get(srv.url + "/metrics").text
        assert metric(metrics, "vllm:spec_decode_num_accepted_tokens_total") > 0
        assert "Loading draft model" in srv.log_tail(200)
    finally:
        srv.stop()


@pytest.mark.parametrize("extra", [{"min_p": 0.1}, {"logit_bias": {"42": 1.0}}])
def test_min_p_and_logit_bias_are_refused_as_vllm(spec_server, extra):
    with pytest.raises(openai.BadRequestError) as e:
        spec_server.client().completions.create(model=SERVED_MODEL, prompt="Hi", max_tokens=4, extra_body=extra)
    assert error_of(e.value)["message"] == (
        "The min_p and logit_bias sampling parameters are not yet supported with speculative decoding.")


@pytest.mark.parametrize("config, message", [
    ('{"method": "ngram", "num_speculative_tokens": 3, "bogus": 1}', "bogus: Unexpected keyword argument"),
    ('{"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": 4, "prompt_lookup_max": 2}',
     "prompt_lookup_min=4 must be <= prompt_lookup_max=2"),
    ('{"method": "eagle3", "model": "org/eagle3-head", "num_speculative_tokens": 3}',
     "speculative method 'eagle3' is not supported by podserve"),
])
def test_bad_config_stops_startup(config, message):
    r = subprocess.run([require_env("PODSERVE_BINARY"), "serve", "--model", require_env("PODSERVE_TEST_MODEL")],
                       env={**os.environ, "SPECULATIVE_CONFIG": config}, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert message in r.stdout + r.stderr
