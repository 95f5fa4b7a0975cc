"""`podserve serve` on a Hugging Face model directory (config.json + safetensors + tokenizer.json): the tiny
SmolLM2-style model of tests/data/tiny_models/smollm2/f32, made by transformers (tools/goldens/tiny_models.py).
Greedy completions must be transformers' greedy continuations, decoded by HF `tokenizers`."""

import json
import os
import shutil
import subprocess

import httpx
import jinja2
import pytest
from tokenizers import Tokenizer

from conftest import SERVED_MODEL, start_server

MODEL_DIR = os.path.join(os.environ.get("PODSERVE_TEST_DATA", ""), "tiny_models", "smollm2", "f32")


@pytest.fixture(scope="module")
def dir_server():
    srv = start_server(["--model", MODEL_DIR, "--max-model-len", "512", "--dtype", "float32"])
    yield srv
    srv.stop()


def test_greedy_completions_match_transformers(dir_server):
    goldens = json.load(open(os.path.join(MODEL_DIR, "..", "goldens.json")))
    tok = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    client = dir_server.client()
    for case in goldens["text_cases"]:
        r = client.completions.create(model=SERVED_MODEL, prompt=case["text"], max_tokens=len(case["greedy"]),
                                      temperature=0, extra_body={"ignore_eos": True})
        assert r.usage.prompt_tokens == len(case["ids"]), case["text"]
        assert r.choices[0].text == tok.decode(case["greedy"]), case["text"]


def test_bad_dtype_stops_startup():
    binary = os.environ["PODSERVE_BINARY"]
    p = subprocess.run([binary, "serve", "--model", MODEL_DIR, "--port", "1"], env={**os.environ, "DTYPE": "float8"},
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "DTYPE" in p.stdout + p.stderr and "float8" in p.stdout + p.stderr


def test_separate_tokenizer_brings_its_own_chat_template(tmp_path):
    # TOKENIZER_NAME / --tokenizer: the tokenizer folder's tokenizer.json and chat template replace the model's.
    shutil.copy(os.path.join(MODEL_DIR, "tokenizer.json"), tmp_path / "tokenizer.json")
    config = json.load(open(os.path.join(MODEL_DIR, "tokenizer_config.json")))
    config["chat_template"] = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    messages = [{"role": "user", "content": "hello there"}]
    rendered = jinja2.Environment().from_string(config["chat_template"]).render(messages=messages)
    want = Tokenizer.from_file(str(tmp_path / "tokenizer.json")).encode(rendered, add_special_tokens=False).ids

    srv = start_server(["--model", MODEL_DIR, "--max-model-len", "512", "--dtype", "float32"],
                       env={"TOKENIZER_NAME": str(tmp_path)})
    try:
        r = httpx.post(srv.url + "/tokenize", json={"model": SERVED_MODEL, "messages": messages,
                                                    "add_generation_prompt": False}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["tokens"] == want
    finally:
        srv.stop()


def test_tokenizer_larger_than_the_embedding_stops_startup():
    llama3 = os.path.join(os.environ["PODSERVE_FIXTURES"], "tokenizers", "llama3_1")
    binary = os.environ["PODSERVE_BINARY"]
    p = subprocess.run([binary, "serve", "--model", MODEL_DIR, "--tokenizer", llama3, "--port", "1"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    assert "embedding rows" in p.stdout + p.stderr and "llama3_1" in p.stdout + p.stderr
