"""`podserve serve` on a Hugging Face model directory (config.json + safetensors + tokenizer.json): the tiny
SmolLM2-style model of tests/data/tiny_models/smollm2/f32, made by transformers (tools/goldens/tiny_models.py).
Greedy completions must be transformers' greedy continuations, decoded by HF `tokenizers`."""

import json
import os
import subprocess

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
