"""LoRA adapters named by Hub repo id, as vLLM's get_adapter_absolute_path takes them: LORA_MODULES and
/v1/load_lora_adapter resolve `org/name` through the Hub cache (downloaded from the stand-in Hub), the adapter
serves peft's greedy tokens (tests/data/lora/goldens.json), and the real huggingface_hub finds what podserve
downloaded. An id the Hub does not have is vLLM's 404."""

import json
import os

import httpx

from conftest import hub_env, run_hf
from fake_hub import Repo
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
