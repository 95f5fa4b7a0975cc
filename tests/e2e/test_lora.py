"""Multi-LoRA through the official openai client: one server serves the tiny smollm2 model and two peft adapters
(tests/data/lora, made by tools/goldens/lora_adapters.py with transformers + peft, which also recorded each one's
greedy continuation); requests pick them by `model`, at once, and each gets peft's tokens. /v1/models lists the
adapters as vLLM does, an unknown name gets vLLM's 404, and bad adapters stop start-up with a message naming them."""

import concurrent.futures
import json
import os
import pathlib
import subprocess

import openai
import pytest

from conftest import error_of, free_port, require_env, start_server

BASE = "tiny-smollm2"


def data() -> pathlib.Path:
    return pathlib.Path(require_env("PODSERVE_TEST_DATA"))


def goldens() -> dict:
    return json.loads((data() / "lora" / "goldens.json").read_text())


def base_dir() -> str:
    return str(data() / "tiny_models" / "smollm2" / "f32")


def start_lora_server(max_loras: int):
    lora = data() / "lora"
    beta = json.dumps({"name": "beta", "path": str(lora / "beta"), "base_model_name": BASE})
    return start_server(["--model", base_dir(), "--served-model-name", BASE, "--max-model-len", "256",
                         "--enable-lora", "--lora-modules", f"alpha={lora / 'alpha'}", beta,
                         "--max-loras", str(max_loras)])


@pytest.fixture(scope="module")
def lora_server():
    srv = start_lora_server(2)
    yield srv
    srv.stop()


def complete(client: openai.OpenAI, model: str, ids: list[int], n_tokens: int):
    return client.completions.create(model=model, prompt=ids, max_tokens=n_tokens, temperature=0, logprobs=0,
                                     extra_body={"ignore_eos": True, "return_tokens_as_token_ids": True})


def token_ids(response) -> list[int]:
    """The generated ids (peft's goldens are ids: these random models emit partial UTF-8 sequences)."""
    return [int(t.removeprefix("token_id:")) for t in response.choices[0].logprobs.tokens]


def test_models_lists_adapters_as_vllm(lora_server):
    cards = {m.id: m for m in lora_server.client().models.list().data}
    assert list(cards) == [BASE, "alpha", "beta"]
    assert cards[BASE].parent is None and cards[BASE].root == base_dir()
    assert cards["alpha"].root == str(data() / "lora" / "alpha")
    assert cards["alpha"].parent == BASE and cards["beta"].parent == BASE
    assert cards["alpha"].max_model_len is None and cards[BASE].max_model_len == 256


def test_each_model_gets_pefts_tokens_one_after_another(lora_server):
    # The prompt is longer than a KV block, so base, alpha, beta and base again on the same prompt would share a
    # cached block if the prefix cache did not key it by adapter; each must still get its own greedy tokens.
    g = goldens()
    client = lora_server.client()
    for model in ["base", "alpha", "beta", "base", "alpha"]:
        expected = g["models"][model]
        r = complete(client, BASE if model == "base" else model, g["text_ids"], len(expected["greedy_ids"]))
        assert token_ids(r) == expected["greedy_ids"], model
        assert r.model == (BASE if model == "base" else model)  # the response echoes the adapter's name


def test_mixed_batch_serves_each_model_its_tokens(lora_server):
    run_mixed(lora_server.client())


def test_max_loras_one_still_serves_every_adapter():
    # One adapter per step: alpha's and beta's requests take turns (the scheduler skips the other adapter's),
    # the base model's run with either.
    srv = start_lora_server(1)
    try:
        run_mixed(srv.client())
    finally:
        srv.stop()


def run_mixed(client: openai.OpenAI):
    g = goldens()
    models = ["alpha", "base", "beta"] * 3
    with concurrent.futures.ThreadPoolExecutor(len(models)) as pool:
        futures = [pool.submit(complete, client, BASE if m == "base" else m, g["text_ids"],
                               len(g["models"][m]["greedy_ids"])) for m in models]
        got = [token_ids(f.result()) for f in futures]
    assert got == [g["models"][m]["greedy_ids"] for m in models]


def test_chat_with_an_adapter_echoes_its_name(lora_server):
    r = lora_server.client().chat.completions.create(model="beta", messages=[{"role": "user", "content": "Hello"}],
                                                     max_tokens=3, temperature=0)
    assert r.model == "beta"
    assert r.usage.completion_tokens >= 1


def test_unknown_model_is_vllms_404(lora_server):
    with pytest.raises(openai.NotFoundError) as e:
        lora_server.client().completions.create(model="gamma", prompt="Hi", max_tokens=1)
    err = error_of(e.value)
    assert err["message"].startswith("The model `gamma` does not exist."), err
    assert err["param"] == "model"


def start_up_error(args: list[str], model: str | None = None) -> str:
    r = subprocess.run([require_env("PODSERVE_BINARY"), "serve", "--model", model or base_dir(), "--port",
                        str(free_port()), *args], capture_output=True, text=True, timeout=120,
                       env={"PATH": os.environ.get("PATH", "/usr/bin")})
    assert r.returncode != 0, r.stdout + r.stderr
    return r.stdout + r.stderr


def test_bad_adapters_stop_start_up(tmp_path):
    out = start_up_error(["--enable-lora", "--lora-modules", f"x={tmp_path / 'missing'}"])
    assert "Loading lora x failed: No adapter found for" in out, out
    out = start_up_error(["--enable-lora", "--lora-modules", f"a={data() / 'lora' / 'alpha'}", "--max-lora-rank", "1"])
    assert "Loading lora a failed: LoRA rank 8 is greater than max_lora_rank 1." in out, out
    out = start_up_error(["--max-lora-rank", "4"])
    assert "1, 8, 16, 32, 64, 128, 256, 320, 512" in out, out


def test_gguf_llama_path_refuses_lora_at_start_up():
    # The llama GGUF fast path does not apply adapters yet: a clear start-up error, never a silent base model.
    out = start_up_error(["--enable-lora"], model=require_env("PODSERVE_TEST_MODEL"))
    assert "ENABLE_LORA" in out and "does not apply LoRA adapters" in out, out
