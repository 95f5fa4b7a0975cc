"""LoRA adapters named by Hub repo id, as vLLM's get_adapter_absolute_path takes them: LORA_MODULES and
/v1/load_lora_adapter resolve `org/name` through the Hub cache (downloaded from the stand-in Hub), the adapter
serves peft's greedy tokens (tests/data/lora/goldens.json), and the real huggingface_hub finds what podserve
downloaded. An id the Hub does not have is vLLM's 404."""

import json
import os
import signal
import subprocess
import threading
import time

import httpx

from conftest import hub_env, run_hf
from fake_hub import Repo
from podserve_testutil import free_port
from test_hub import serving

ALPHA_REPO = "podserve-test/lora-alpha"
BETA_REPO = "podserve-test/lora-beta"


def data(*parts: str) -> str:
    return os.path.join(os.environ["PODSERVE_TEST_DATA"], *parts)


def adapter_files(name: str) -> dict:
    files = {}
    for f in ["adapter_config.json", "adapter_model.safetensors"]:
        with open(data("lora", name, f), "rb") as fh:
            files[f] = fh.read()
    return {**files, "README.md": b"# a peft adapter\n"}


def greedy(url: str, model: str, golden: str) -> tuple[list[int], list[int]]:
    """The tokens `model` generates greedily on the goldens prompt, and peft's."""
    g = json.load(open(data("lora", "goldens.json")))
    expected = g["models"][golden]["greedy_ids"]
    r = httpx.post(f"{url}/v1/completions", timeout=60,
                   json={"model": model, "prompt": g["text_ids"], "max_tokens": len(expected), "temperature": 0,
                         "logprobs": 0, "ignore_eos": True, "return_tokens_as_token_ids": True})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == model
    return [int(t.removeprefix("token_id:")) for t in r.json()["choices"][0]["logprobs"]["tokens"]], expected


def test_adapters_by_repo_id(hub, cache):
    hub.add(Repo(ALPHA_REPO, adapter_files("alpha")))
    hub.add(Repo(BETA_REPO, adapter_files("beta")))
    env = hub_env(hub, cache, MODEL_NAME=data("tiny_models", "smollm2", "f32"), ENABLE_LORA="true",
                  LORA_MODULES=json.dumps([{"name": "alpha", "path": ALPHA_REPO}]),
                  VLLM_ALLOW_RUNTIME_LORA_UPDATING="1")
    with serving(env, cache) as (url, log):
        got, expected = greedy(url, "alpha", "alpha")
        assert got == expected
        cards = {m["id"]: m for m in httpx.get(f"{url}/v1/models").json()["data"]}
        assert cards["alpha"]["root"] == ALPHA_REPO  # the path as given, as vLLM's card

        r = httpx.post(f"{url}/v1/load_lora_adapter", json={"lora_name": "b", "lora_path": BETA_REPO})
        assert (r.status_code, r.text) == (200, "Success: LoRA adapter 'b' added successfully."), open(log).read()
        got, expected = greedy(url, "b", "beta")
        assert got == expected

        r = httpx.post(f"{url}/v1/load_lora_adapter", json={"lora_name": "x", "lora_path": "podserve-test/none"})
        assert r.status_code == 404
        assert r.json()["error"]["message"] == "Loading lora x failed: No adapter found for podserve-test/none"
    paths = [q.path for q in hub.requests]
    assert not [p for p in paths if p.endswith("README.md")], paths  # the adapter's two files only
    assert [p for p in paths if p.endswith("/adapter_model.safetensors")], paths
    # The cache is huggingface_hub's layout: it finds both adapters offline.
    found = run_hf(f"""
        from huggingface_hub import snapshot_download
        import os
        result = [sorted(os.listdir(snapshot_download(r, local_files_only=True)))
                  for r in ["{ALPHA_REPO}", "{BETA_REPO}"]]
        """, hub_env(None, cache, HF_HUB_OFFLINE="1"))
    assert found == [["adapter_config.json", "adapter_model.safetensors"]] * 2


def test_shutdown_during_a_stalled_adapter_download(hub, cache, tmp_path):
    """SIGTERM while /v1/load_lora_adapter's thread waits on a stalled Hub download: the server gives up on the
    request after its drain timeout, then joins that thread before its HTTP loop (which the thread reports to) goes
    away, and exits 0 once the download ends; it never leaves the thread running into the process's exit."""
    hub.add(Repo(BETA_REPO, adapter_files("beta")))
    stall_s = 4  # below the Hub client's 10 s stall timeout: the download ends by itself, late
    hub.cdn_stall_s = stall_s
    env = hub_env(hub, cache, MODEL_NAME=data("tiny_models", "smollm2", "f32"), ENABLE_LORA="true",
                  VLLM_ALLOW_RUNTIME_LORA_UPDATING="1", PODSERVE_SHUTDOWN_TIMEOUT="1")
    port = free_port()
    log_path = str(tmp_path / "serve.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([os.environ["PODSERVE_BINARY"], "serve", "--port", str(port), "--host", "127.0.0.1",
                                 "--max-model-len", "128"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            assert proc.poll() is None, open(log_path).read()
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        answers = []

        def load():
            try:
                r = httpx.post(f"{url}/v1/load_lora_adapter", json={"lora_name": "b", "lora_path": BETA_REPO},
                               timeout=60)
                answers.append(r.status_code)
            except httpx.HTTPError as e:  # the server may close the connection as its HTTP loop stops
                answers.append(type(e).__name__)

        client = threading.Thread(target=load)
        client.start()
        assert hub.cdn_started.wait(30), open(log_path).read()  # the adapter's weights are being downloaded
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, open(log_path).read()
        took = time.monotonic() - signalled
        client.join(timeout=30)
        assert not client.is_alive()  # the load request ended (an answer or a closed connection), no hang
    finally:
        if proc.poll() is None:
            proc.kill()
    text = open(log_path).read()
    assert "Shutting down: waiting for 1 LoRA adapter load(s) to finish" in text, text
    assert text.index("LoRA adapter load(s)") < text.index("Stopped"), text
    assert took >= stall_s - 1.5, (took, text)  # the exit waited for the download to end
    assert answers and answers[0] != 200, answers  # no success reported for a load the shutdown cut short
