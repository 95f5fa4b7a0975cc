"""Fixtures for the Hub tests: the stand-in Hub (fake_hub.py) with a few repos of real files, a fresh cache per
test, and helpers to run `podserve download` / `podserve serve` and the real huggingface_hub against them.

Run through ctest (`ctest -L e2e`), which sets PODSERVE_BINARY and PODSERVE_TEST_DATA.
"""

import hashlib
import json
import os
import random
import subprocess
import sys
import textwrap

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from fake_hub import TOKEN, FakeHub, Repo  # noqa: E402
from podserve_testutil import free_port, require_env

GGUF_REPO = "podserve-test/tiny-gguf"
ST_REPO = "podserve-test/tiny-st"
GATED_REPO = "podserve-test/gated"
BAD_ETAG_REPO = "podserve-test/bad-etag"
BIG_REPO = "podserve-test/big"
NESTED_REPO = "podserve-test/nested"
NESTED_FILE = "sub dir/x+y.gguf"
DUMMY_REPO = "podserve-test/tiny-config"  # served with LOAD_FORMAT=dummy: its weights must not be fetched
BIG_SIZE = 3 * 1024 * 1024 + 12345




def _read(name: str) -> bytes:
    with open(os.path.join(require_env("PODSERVE_TEST_DATA"), name), "rb") as f:
        return f.read()


def _tiny_model_files() -> dict:
    """The tiny SmolLM2 of tests/data/tiny_models: real config, tokenizer and weights."""
    folder = os.path.join("tiny_models", "smollm2", "f32")
    return {name: _read(os.path.join(folder, name))
            for name in ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                         "model.safetensors"]}


def _st_repo_files() -> dict:
    """A transformers-style repo: real tokenizer and configs, weights as an index + two shards (opaque bytes:
    only their transfer is tested here), plus files a model does not need."""
    rng = random.Random(7)
    shard1 = bytes(rng.getrandbits(8) for _ in range(70000))
    shard2 = bytes(rng.getrandbits(8) for _ in range(50000))
    index = {"metadata": {"total_size": len(shard1) + len(shard2)},
             "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                            "b.weight": "model-00002-of-00002.safetensors"}}
    return {
        "config.json": json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}).encode(),
        "generation_config.json": b'{"bos_token_id": 1, "eos_token_id": 2}',
        "tokenizer.json": _read("tokenizer_smollm2.json"),
        "tokenizer_config.json": b'{"model_max_length": 2048}',
        "model.safetensors.index.json": json.dumps(index).encode(),
        "model-00001-of-00002.safetensors": shard1,
        "model-00002-of-00002.safetensors": shard2,
        "pytorch_model.bin": b"not wanted: safetensors are preferred",
        "README.md": b"# tiny\n",
        "onnx/model.onnx": b"not wanted",
    }


@pytest.fixture
def hub():
    gguf = _read("tiny-llama.gguf")
    big = random.Random(1).randbytes(BIG_SIZE)
    h = FakeHub()
    h.add(Repo(GGUF_REPO, {"tiny-llama.gguf": gguf, "README.md": b"# tiny gguf\n"}))
    h.add(Repo(ST_REPO, _st_repo_files()))
    h.add(Repo(DUMMY_REPO, _tiny_model_files()))
    h.add(Repo(GATED_REPO, {"tiny-llama.gguf": gguf}, gated=True))
    h.add(Repo(BAD_ETAG_REPO, {"tiny-llama.gguf": gguf}, wrong_etag=True))
    h.add(Repo(BIG_REPO, {"big.gguf": big}))
    nested = Repo(NESTED_REPO, {NESTED_FILE: gguf, "README.md": b"# nested\n"})
    nested.refs["refs/pr/1"] = nested.commit
    h.add(nested)
    h.start()
    yield h
    h.stop()


@pytest.fixture
def cache(tmp_path):
    return str(tmp_path / "hf-cache")


def hub_env(hub, cache, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "HUGGING", "TRANSFORMERS_", "MODEL_", "TOKENIZER_"))}
    env.update(HF_ENDPOINT=hub.url if hub else "http://127.0.0.1:9", HF_HUB_CACHE=cache,
               HF_HOME=os.path.join(os.path.dirname(cache), "hf-home"), PODSERVE_HUB_MAX_RETRIES="2")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def podserve(*args, env, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([require_env("PODSERVE_BINARY"), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def run_hf(code: str, env: dict) -> dict:
    """Runs `code` with the real huggingface_hub in a fresh interpreter (its settings are read from the
    environment at import); the code assigns `result`, which comes back as JSON."""
    script = "import json\n" + textwrap.dedent(code) + "\nprint('RESULT=' + json.dumps(result))\n"
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    line = [l for l in r.stdout.splitlines() if l.startswith("RESULT=")][-1]
    return json.loads(line[len("RESULT="):])


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


__all__ = ["TOKEN", "hub_env", "podserve", "run_hf", "sha256", "free_port"]
