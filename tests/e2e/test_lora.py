"""Multi-LoRA through the official openai client: one server serves the tiny smollm2 model and two peft adapters
(tests/data/lora, made by tools/goldens/lora_adapters.py with transformers + peft, which also recorded each one's
greedy continuation); requests pick them by `model`, at once, and each gets peft's tokens. /v1/models lists the
adapters as vLLM does, an unknown name gets vLLM's 404, and bad adapters stop start-up with a message naming them.
A GGUF base (SmolLM2-135M Q4_1, the GGUF llama path) serves random adapters made for its shapes at test time
(tests/pyutil/random_lora.py); tests/model/lora_model_test.cpp checks that path's numbers against peft."""

import concurrent.futures
import json
import os
import pathlib
import shutil
import subprocess
import time

import httpx
import openai
import pytest

from conftest import SERVED_MODEL, error_of, free_port, require_env, start_server
from random_lora import write_random_lora

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


def test_beam_search_runs_the_adapter(lora_server):
    # Width 1 is greedy decoding (test_beam_search.py): each beam step, a request of its own, runs the adapter.
    client, g = lora_server.client(), goldens()
    n = len(g["models"]["alpha"]["greedy_ids"])
    texts = {m: complete(client, m, g["text_ids"], n).choices[0].text for m in ["alpha", BASE]}
    assert texts["alpha"] != texts[BASE]
    beam = client.completions.create(model="alpha", prompt=g["text_ids"], max_tokens=n, temperature=0, n=1,
                                     extra_body={"use_beam_search": True, "ignore_eos": True})
    assert beam.choices[0].text == texts["alpha"]


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


# A GGUF base: SmolLM2-135M Q4_1 (9 query heads over 3 K/V heads) on the GGUF llama path, with two random
# adapters on every projection of its 30 blocks.

GGUF_PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def gguf_lora_server(tmp_path_factory):
    root, model = tmp_path_factory.mktemp("gguf-lora"), require_env("PODSERVE_TEST_MODEL")
    modules = [f"{name}={write_random_lora(model, root / name, seed)}" for name, seed in [("one", 1), ("two", 2)]]
    srv = start_server(["--enable-lora", "--max-loras", "2", "--lora-modules", *modules])
    yield srv
    srv.stop()


def gguf_greedy(client: openai.OpenAI, model: str) -> list[int]:
    r = client.completions.create(model=model, prompt=GGUF_PROMPT, max_tokens=12, temperature=0, logprobs=0,
                                  extra_body={"ignore_eos": True, "return_tokens_as_token_ids": True})
    assert r.model == model
    return token_ids(r)


def test_gguf_base_applies_each_adapter(gguf_lora_server):
    client = gguf_lora_server.client()
    assert [m.id for m in client.models.list().data] == [SERVED_MODEL, "one", "two"]
    got = {m: gguf_greedy(client, m) for m in [SERVED_MODEL, "one", "two"]}
    assert got["one"] != got[SERVED_MODEL] and got["two"] != got[SERVED_MODEL] and got["one"] != got["two"], got
    assert gguf_greedy(client, SERVED_MODEL) == got[SERVED_MODEL]  # the base is untouched by the adapters' runs


def test_gguf_base_serves_two_adapters_at_once(gguf_lora_server):
    # One batch mixes both adapters and the base model: each request gets the tokens it gets alone.
    client = gguf_lora_server.client()
    alone = {m: gguf_greedy(client, m) for m in ["one", "two", SERVED_MODEL]}
    models = ["one", SERVED_MODEL, "two"] * 3
    with concurrent.futures.ThreadPoolExecutor(len(models)) as pool:
        got = list(pool.map(lambda m: gguf_greedy(client, m), models))
    assert got == [alone[m] for m in models]
    chat = client.chat.completions.create(model="two", messages=[{"role": "user", "content": "Hello"}],
                                          max_tokens=3, temperature=0)
    assert chat.model == "two" and chat.usage.completion_tokens >= 1


# Runtime loading (VLLM_ALLOW_RUNTIME_LORA_UPDATING): vLLM 0.32.0's routes, bodies, plain-text 200s and errors
# (vllm/entrypoints/openai/models/serving.py), through the openai client's raw requests.

RUNTIME = {"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"}


def post(srv, route: str, body) -> httpx.Response:
    """A raw POST (a str body goes as text/plain); errors come back as responses."""
    if isinstance(body, str):
        return httpx.post(srv.url + route, content=body, headers={"content-type": "text/plain"}, timeout=60)
    return httpx.post(srv.url + route, json=body, timeout=60)


def error_message(r: httpx.Response) -> str:
    body = r.json()["error"]
    assert body["code"] == r.status_code, body
    return body["message"]


@pytest.fixture(scope="module")
def runtime_server():
    srv = start_server(["--model", base_dir(), "--served-model-name", BASE, "--max-model-len", "256",
                        "--enable-lora", "--max-loras", "2", "--max-cpu-loras", "2"], env=RUNTIME)
    yield srv
    srv.stop()


def greedy(client: openai.OpenAI, model: str, golden: str) -> list[int]:
    g = goldens()
    return token_ids(complete(client, model, g["text_ids"], len(g["models"][golden]["greedy_ids"])))


def test_load_use_reload_unload(runtime_server):
    client, lora, g = runtime_server.client(), data() / "lora", goldens()
    r = post(runtime_server, "/v1/load_lora_adapter", {"lora_name": "mine", "lora_path": str(lora / "beta")})
    assert (r.status_code, r.text) == (200, "Success: LoRA adapter 'mine' added successfully.")
    cards = {m.id: m for m in client.models.list().data}
    assert list(cards) == [BASE, "mine"] and cards["mine"].root == str(lora / "beta")
    assert cards["mine"].parent == BASE and cards["mine"].max_model_len is None
    assert greedy(client, "mine", "beta") == g["models"]["beta"]["greedy_ids"]

    r = post(runtime_server, "/v1/load_lora_adapter", {"lora_name": "mine", "lora_path": str(lora / "alpha")})
    assert r.status_code == 400 and error_message(r) == (
        "The lora adapter 'mine' has already been loaded. If you want to load the adapter in place, set "
        "'load_inplace' to True.")
    # In place: the same name now runs alpha's weights (and no block cached under beta's is reused).
    r = post(runtime_server, "/v1/load_lora_adapter",
             {"lora_name": "mine", "lora_path": str(lora / "alpha"), "load_inplace": True})
    assert r.status_code == 200, r.text
    assert greedy(client, "mine", "alpha") == g["models"]["alpha"]["greedy_ids"]
    assert greedy(client, BASE, "base") == g["models"]["base"]["greedy_ids"]

    r = post(runtime_server, "/v1/unload_lora_adapter", {"lora_name": "mine"})
    assert (r.status_code, r.text) == (200, "Success: LoRA adapter 'mine' removed successfully.")
    assert [m.id for m in client.models.list().data] == [BASE]
    with pytest.raises(openai.NotFoundError) as e:
        complete(client, "mine", g["text_ids"], 1)
    assert error_of(e.value)["message"].startswith("The model `mine` does not exist.")
    r = post(runtime_server, "/v1/unload_lora_adapter", {"lora_name": "mine", "lora_int_id": 1})
    assert r.status_code == 404 and error_message(r) == "The lora adapter 'mine' cannot be found."


def test_load_and_unload_errors(runtime_server, tmp_path):
    client, lora = runtime_server.client(), data() / "lora"
    for body in [{"lora_name": "x"}, {"lora_path": str(lora / "alpha")}, {"lora_name": "", "lora_path": "p"}]:
        r = post(runtime_server, "/v1/load_lora_adapter", body)
        assert r.status_code == 400 and error_message(r) == "Both 'lora_name' and 'lora_path' must be provided."
    r = post(runtime_server, "/v1/load_lora_adapter", {"lora_name": BASE, "lora_path": str(lora / "alpha")})
    assert r.status_code == 400 and error_message(r) == f"The lora adapter '{BASE}' conflicts with a served base model."
    missing = tmp_path / "missing"
    r = post(runtime_server, "/v1/load_lora_adapter", {"lora_name": "x", "lora_path": str(missing)})
    assert r.status_code == 404 and error_message(r) == f"Loading lora x failed: No adapter found for {missing}"
    # An adapter vLLM refuses (DoRA): a 400 naming it (vLLM: its engine's text as a 500), and nothing is served.
    dora = tmp_path / "dora"
    dora.mkdir()
    config = json.loads((lora / "alpha" / "adapter_config.json").read_text())
    (dora / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    (dora / "adapter_model.safetensors").write_bytes((lora / "alpha" / "adapter_model.safetensors").read_bytes())
    r = post(runtime_server, "/v1/load_lora_adapter", {"lora_name": "d", "lora_path": str(dora)})
    assert r.status_code == 400 and error_message(r).startswith("Loading lora d failed: "), r.text
    assert "d" not in [m.id for m in client.models.list().data]
    r = post(runtime_server, "/v1/load_lora_adapter", {"lora_name": "x", "lora_path": 3})
    assert r.status_code == 400, r.text
    r = post(runtime_server, "/v1/load_lora_adapter", "{not json")
    assert r.status_code == 400 and error_message(r) == "Unsupported Media Type: Only 'application/json' is allowed"
    r = post(runtime_server, "/v1/unload_lora_adapter", {})
    assert r.status_code == 400
    assert error_message(r) == "'lora_name' needs to be provided to unload a LoRA adapter."


def test_unload_while_running_lets_the_request_finish(runtime_server):
    # vLLM's unload drops the name only: a request already running keeps its adapter to the end.
    client, lora, g = runtime_server.client(), data() / "lora", goldens()
    assert post(runtime_server, "/v1/load_lora_adapter", {"lora_name": "run", "lora_path": str(lora / "alpha")}).status_code == 200
    expected = g["models"]["alpha"]["greedy_ids"]
    stream = client.completions.create(model="run", prompt=g["text_ids"], max_tokens=len(expected), temperature=0,
                                       logprobs=0, stream=True,
                                       extra_body={"ignore_eos": True, "return_tokens_as_token_ids": True})
    got = []
    for i, chunk in enumerate(stream):
        if i == 0:
            r = post(runtime_server, "/v1/unload_lora_adapter", {"lora_name": "run"})
            assert r.status_code == 200, r.text
        if chunk.choices and chunk.choices[0].logprobs:
            got += [int(t.removeprefix("token_id:")) for t in chunk.choices[0].logprobs.tokens]
    assert got == expected
    assert "run" not in [m.id for m in client.models.list().data]


def test_routes_404_without_the_variable(lora_server):
    # vLLM adds the routes only with VLLM_ALLOW_RUNTIME_LORA_UPDATING.
    for body in [{"lora_name": "x", "lora_path": "y"}, "not json"]:
        r = post(lora_server, "/v1/load_lora_adapter", body)
        assert r.status_code == 404, r.text


def test_lora_requests_info_gauge_as_vllm(runtime_server):
    # vLLM 0.32.0's gauge: labels max_lora, waiting_lora_adapters, running_lora_adapters (no model_name), one
    # child per adapter list seen, set to the Unix time it was last seen; both lists name every adapter with an
    # unfinished request.
    client, lora = runtime_server.client(), data() / "lora"
    assert post(runtime_server, "/v1/load_lora_adapter", {"lora_name": "gauge", "lora_path": str(lora / "beta")}).status_code == 200
    before = time.time()
    complete(client, "gauge", goldens()["text_ids"], 2)
    text = httpx.get(runtime_server.url + "/metrics").text
    assert "# HELP vllm:lora_requests_info Running stats on lora requests.\n# TYPE vllm:lora_requests_info gauge\n" in text
    samples = {line.split("{", 1)[1].rsplit("} ", 1)[0]: float(line.rsplit(" ", 1)[1])
               for line in text.splitlines() if line.startswith("vllm:lora_requests_info{")}
    busy = 'max_lora="2",waiting_lora_adapters="gauge",running_lora_adapters="gauge"'
    idle = 'max_lora="2",waiting_lora_adapters="",running_lora_adapters=""'
    assert busy in samples and idle in samples, samples
    assert before - 1 <= samples[busy] <= samples[idle] <= time.time() + 1


def test_no_lora_gauge_without_lora(server):
    assert "vllm:lora_requests_info" not in httpx.get(server.url + "/metrics").text


def test_max_cpu_loras_keeps_the_most_recently_used(tmp_path):
    # vLLM's LRU of loaded adapters (MAX_CPU_LORAS): an adapter it dropped is read again from its path when a
    # request needs it. Watched from outside: after its files are replaced, a dropped adapter runs the new
    # weights, one still held runs the old.
    lora, g = data() / "lora", goldens()
    for cpu_loras, expected in [(1, "beta"), (2, "alpha")]:
        moving = tmp_path / f"moving{cpu_loras}"
        shutil.copytree(lora / "alpha", moving)
        srv = start_server(["--model", base_dir(), "--served-model-name", BASE, "--max-model-len", "256",
                            "--enable-lora", "--max-loras", "1", "--max-cpu-loras", str(cpu_loras),
                            "--lora-modules", f"moving={moving}", f"beta={lora / 'beta'}"])
        try:
            client = srv.client()
            assert greedy(client, "beta", "beta") == g["models"]["beta"]["greedy_ids"]  # beta is the newest
            for name in ["adapter_config.json", "adapter_model.safetensors"]:
                shutil.copyfile(lora / "beta" / name, moving / name)
            assert greedy(client, "moving", expected) == g["models"][expected]["greedy_ids"], cpu_loras
        finally:
            srv.stop()


# vLLM's filesystem LoRA resolver (VLLM_LORA_RESOLVER_CACHE_DIR; vllm/plugins/lora_resolvers/filesystem_resolver.py):
# with runtime updating on, an unknown `model` is looked up as a directory of the cache whose adapter_config.json
# is a LoRA of this --model, loaded, and served under that name from then on.

def resolver_cache(root: pathlib.Path) -> pathlib.Path:
    """A resolver cache: `found` (peft's alpha, made for --model as given), `other` (alpha for another base) and
    `broken` (alpha's config, weights that are not safetensors)."""
    cache = root / "cache"
    for name, base in [("found", base_dir()), ("other", "some/other-model"), ("broken", base_dir())]:
        shutil.copytree(data() / "lora" / "alpha", cache / name)
        cfg = json.loads((cache / name / "adapter_config.json").read_text())
        cfg["base_model_name_or_path"] = base
        (cache / name / "adapter_config.json").write_text(json.dumps(cfg))
    (cache / "broken" / "adapter_model.safetensors").write_bytes(b"not safetensors")
    return cache


def test_filesystem_resolver_loads_an_unknown_adapter(tmp_path):
    cache, g = resolver_cache(tmp_path), goldens()
    srv = start_server(["--model", base_dir(), "--served-model-name", BASE, "--max-model-len", "256",
                        "--enable-lora"], env={**RUNTIME, "VLLM_LORA_RESOLVER_CACHE_DIR": str(cache)})
    try:
        client = srv.client()
        assert [m.id for m in client.models.list().data] == [BASE]
        assert greedy(client, "found", "alpha") == g["models"]["alpha"]["greedy_ids"]  # peft's tokens
        cards = {m.id: m for m in client.models.list().data}
        assert list(cards) == [BASE, "found"] and cards["found"].root == str(cache / "found")
        for name in ["other", "missing", "../cache/found"]:  # another base, no directory, outside the cache
            with pytest.raises(openai.NotFoundError) as e:
                complete(client, name, g["text_ids"], 1)
            assert error_of(e.value)["message"].startswith(f"The model `{name}` does not exist."), name
        with pytest.raises(openai.BadRequestError) as e:
            complete(client, "broken", g["text_ids"], 1)
        assert error_of(e.value)["message"] == "LoRA adapter 'broken' was found but could not be loaded."
    finally:
        srv.stop()


def test_filesystem_resolver_needs_runtime_updating_and_its_plugin(tmp_path):
    cache, g = resolver_cache(tmp_path), goldens()
    for env in [{"VLLM_LORA_RESOLVER_CACHE_DIR": str(cache)},  # no VLLM_ALLOW_RUNTIME_LORA_UPDATING
                {**RUNTIME, "VLLM_LORA_RESOLVER_CACHE_DIR": str(cache), "VLLM_PLUGINS": "some_other_plugin"}]:
        srv = start_server(["--model", base_dir(), "--served-model-name", BASE, "--max-model-len", "256",
                            "--enable-lora"], env=env)
        try:
            with pytest.raises(openai.NotFoundError):
                complete(srv.client(), "found", g["text_ids"], 1)
        finally:
            srv.stop()
    r = subprocess.run([require_env("PODSERVE_BINARY"), "serve", "--model", base_dir(), "--port", str(free_port()),
                        "--enable-lora"], capture_output=True, text=True, timeout=120,
                       env={"PATH": os.environ.get("PATH", "/usr/bin"), **RUNTIME,
                            "VLLM_LORA_RESOLVER_CACHE_DIR": str(tmp_path / "nope")})
    assert r.returncode != 0
    assert "VLLM_LORA_RESOLVER_CACHE_DIR must be set to a valid directory for Filesystem Resolver plugin to " \
           "function" in r.stdout + r.stderr
