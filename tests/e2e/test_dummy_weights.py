"""`podserve serve --load-format dummy` (vLLM's DummyModelLoader): a Hugging Face folder holding only config.json
and its tokenizer files is served with random weights and driven by the official `openai` client. Prompt token
counts are HF `tokenizers`' counts; weights within +-1e-3 (vLLM's range) make every next-token distribution
near-uniform, so every logprob is -ln(vocab) to within 0.01; the values depend on config.json alone, so the same
config with its real weights beside it serves the same greedy text."""

import json
import math
import os
import shutil
import subprocess

import pytest
from tokenizers import Tokenizer

from conftest import SERVED_MODEL, start_server

TINY_DIR = os.path.join(os.environ.get("PODSERVE_TEST_DATA", ""), "tiny_models", "smollm2", "f32")
SIDE_FILES = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"]


@pytest.fixture(scope="module")
def dummy_dir(tmp_path_factory):
    """The tiny SmolLM2 config (vocab 320) and tokenizer, no weights; dtype bfloat16 as most real configs say."""
    d = tmp_path_factory.mktemp("dummy-model")
    for f in SIDE_FILES:
        shutil.copy(os.path.join(TINY_DIR, f), d / f)
    config = json.loads((d / "config.json").read_text())
    config["dtype"] = "bfloat16"
    (d / "config.json").write_text(json.dumps(config))
    return d


@pytest.fixture(scope="module")
def server(dummy_dir):
    srv = start_server(["--model", str(dummy_dir), "--load-format", "dummy", "--max-model-len", "512"])
    yield srv
    srv.stop()


def vocab_size():
    return json.load(open(os.path.join(TINY_DIR, "config.json")))["vocab_size"]


def test_completions_with_logprobs(server):
    prompt = "The capital of France is"
    r = server.client().completions.create(model=SERVED_MODEL, prompt=prompt, max_tokens=8, temperature=0, logprobs=5,
                                           extra_body={"ignore_eos": True})
    tok = Tokenizer.from_file(os.path.join(TINY_DIR, "tokenizer.json"))
    assert r.usage.prompt_tokens == len(tok.encode(prompt).ids)
    assert r.usage.completion_tokens == 8 and r.choices[0].finish_reason == "length"
    uniform = -math.log(vocab_size())
    steps = r.choices[0].logprobs.top_logprobs
    assert len(steps) == 8
    for top in steps:
        assert 1 <= len(top) <= 5  # a dict by token text: tokens that decode alike share an entry
        for lp in top.values():
            assert abs(lp - uniform) < 0.01, (lp, uniform)


def test_chat_stream_equals_the_whole_answer(server):
    client = server.client()
    messages = [{"role": "user", "content": "Name three colours."}]
    whole = client.chat.completions.create(model=SERVED_MODEL, messages=messages, max_tokens=12, temperature=0,
                                           extra_body={"ignore_eos": True})
    assert whole.choices[0].finish_reason == "length" and whole.usage.completion_tokens == 12
    parts = [c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model=SERVED_MODEL, messages=messages, max_tokens=12, temperature=0, stream=True,
        extra_body={"ignore_eos": True}) if c.choices]
    assert "".join(parts) == whole.choices[0].message.content


def test_values_come_from_the_config_alone(server):
    """The folder with transformers' real weights, loaded as dummy in the same dtype: the same model, the same text."""
    kwargs = dict(model=SERVED_MODEL, prompt="Once upon a time", max_tokens=10, temperature=0,
                  extra_body={"ignore_eos": True})
    ours = server.client().completions.create(**kwargs).choices[0].text
    other = start_server(["--model", TINY_DIR, "--load-format", "dummy", "--dtype", "bfloat16", "--max-model-len", "512"])
    try:
        assert other.client().completions.create(**kwargs).choices[0].text == ours
    finally:
        other.stop()


@pytest.mark.parametrize("env, words", [
    ({"LOAD_FORMAT": "bitsandbytes"}, ["LOAD_FORMAT", "vLLM's load format 'bitsandbytes' is not supported"]),
    ({"LOAD_FORMAT": "dummy", "KV_CACHE_DTYPE": "fp8"}, ["KV_CACHE_DTYPE", "not supported on the CPU"]),
    ({"LOAD_FORMAT": "gguf"}, ["LOAD_FORMAT", "needs a .gguf file"]),
    # No GPU where the tests run: a build without CUDA says so, a CUDA build says no device is visible.
    ({"LOAD_FORMAT": "dummy", "DEVICE": "cuda"}, ["DEVICE=cuda (--device cuda)"]),
])
def test_settings_that_cannot_be_honoured_stop_startup(dummy_dir, env, words):
    p = subprocess.run([os.environ["PODSERVE_BINARY"], "serve", "--model", str(dummy_dir), "--port", "1"],
                       env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    for w in words:
        assert w in p.stdout + p.stderr, p.stdout + p.stderr
