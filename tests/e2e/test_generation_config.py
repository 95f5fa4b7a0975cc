"""GENERATION_CONFIG / OVERRIDE_GENERATION_CONFIG as vLLM 0.32, through the openai client: a folder's
generation_config.json (tests/data/generation_configs, made by tools/goldens/generation_configs.py, whose expected
defaults and log dict come from transformers' to_diff_dict() and vLLM's get_diff_sampling_param) fills the fields
a request leaves unset, its max_new_tokens caps every request, and vLLM's warning names the defaults."""

import json
import os
import pathlib
import subprocess

import pytest

from conftest import SERVED_MODEL, free_port, require_env, start_server

PROMPT = "The capital of France is"


def case(name: str) -> pathlib.Path:
    return pathlib.Path(require_env("PODSERVE_TEST_DATA")) / "generation_configs" / name


@pytest.fixture(scope="module")
def greedy_server():
    srv = start_server(["--generation-config", str(case("greedy_short"))])
    yield srv
    srv.stop()


def test_folder_defaults_apply_to_unset_fields(greedy_server, server):
    c = greedy_server.client()
    messages = [{"role": "user", "content": PROMPT}]
    # No temperature, no max_tokens: the folder's temperature 0.0 and max_new_tokens 5.
    r = c.chat.completions.create(model=SERVED_MODEL, messages=messages)
    assert r.usage.completion_tokens <= 5
    ref = server.client().chat.completions.create(model=SERVED_MODEL, messages=messages, temperature=0,
                                                  max_tokens=5)
    assert r.choices[0].message.content == ref.choices[0].message.content
    assert r.choices[0].finish_reason == ref.choices[0].finish_reason
    # A request's own values win; the folder's max_new_tokens still caps (vLLM's override_max_tokens).
    r = c.completions.create(model=SERVED_MODEL, prompt=PROMPT, temperature=1.0, seed=11, max_tokens=16,
                             extra_body={"ignore_eos": True})
    ref = server.client().completions.create(model=SERVED_MODEL, prompt=PROMPT, temperature=1.0, seed=11,
                                             max_tokens=5, extra_body={"ignore_eos": True})
    assert r.usage.completion_tokens == 5
    assert r.choices[0].text == ref.choices[0].text


def test_warning_line_is_vllms(greedy_server, server):
    expected = json.loads(case("expected.json").read_text())["greedy_short"]["log"]
    log = open(greedy_server.log_path).read()
    line = (f"Default vLLM sampling parameters have been overridden by {case('greedy_short')}: `{expected}`. "
            "If this is not intended, please relaunch vLLM instance with `--generation-config vllm`.")
    assert log.count(line) == 1, log[-3000:]
    # The GGUF model has no generation_config.json: no defaults, no warning.
    assert "Default vLLM sampling parameters" not in open(server.log_path).read()


def test_override_on_top_of_vllm_defaults():
    srv = start_server(["--generation-config", "vllm"],
                       env={"OVERRIDE_GENERATION_CONFIG": '{"temperature": 0, "max_new_tokens": 2}'})
    try:
        r = srv.client().completions.create(model=SERVED_MODEL, prompt=PROMPT, max_tokens=10,
                                            extra_body={"ignore_eos": True})
        assert r.usage.completion_tokens == 2  # the override's max_new_tokens caps under vllm too
        again = srv.client().completions.create(model=SERVED_MODEL, prompt=PROMPT, extra_body={"ignore_eos": True})
        assert again.choices[0].text == r.choices[0].text  # temperature 0: the same tokens
    finally:
        srv.stop()


@pytest.mark.parametrize("env, message", [
    ({"OVERRIDE_GENERATION_CONFIG": '{"temperature": -1}'}, "OVERRIDE_GENERATION_CONFIG: temperature must be"),
    ({"OVERRIDE_GENERATION_CONFIG": "[1]"}, "OVERRIDE_GENERATION_CONFIG"),
    ({"GENERATION_CONFIG": "/nonexistent/folder"}, "GENERATION_CONFIG"),
])
def test_bad_generation_config_stops_start_up(env, message):
    r = subprocess.run([require_env("PODSERVE_BINARY"), "serve", "--model", require_env("PODSERVE_TEST_MODEL"),
                        "--port", str(free_port())], capture_output=True, text=True, timeout=120,
                       env={"PATH": os.environ.get("PATH", "/usr/bin"), **env})
    assert r.returncode != 0
    assert message in r.stdout + r.stderr, (r.stdout + r.stderr)[-2000:]


def test_generation_config_eos_ids_stop_requests(server, tmp_path):
    """A folder's eos_token_id becomes a stop token id of every request that does not ignore EOS (vLLM's
    SamplingParams.update_from_generation_config): the same answer as asking for that stop_token_ids by hand."""
    plain = server.client()
    base = plain.completions.create(model=SERVED_MODEL, prompt=PROMPT, max_tokens=12, temperature=0,
                                    extra_body={"return_token_ids": True, "ignore_eos": True})
    ids = base.choices[0].token_ids
    # The first token that does not occur earlier: greedy decoding reaches it at that index and stops there.
    at = next(i for i in range(2, len(ids)) if ids[i] not in ids[:i])
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [ids[at]]}))
    srv = start_server(["--generation-config", str(tmp_path)])
    try:
        r = srv.client().completions.create(model=SERVED_MODEL, prompt=PROMPT, max_tokens=12, temperature=0,
                                            extra_body={"return_token_ids": True})
        ref = plain.completions.create(model=SERVED_MODEL, prompt=PROMPT, max_tokens=12, temperature=0,
                                       extra_body={"return_token_ids": True, "stop_token_ids": [ids[at]]})
        assert r.choices[0].token_ids == ids[:at + 1] == ref.choices[0].token_ids
        assert r.choices[0].text == ref.choices[0].text
        assert (r.choices[0].finish_reason, r.choices[0].stop_reason) == ("stop", ids[at])
        # ignore_eos: the generation config's EOS ids do not stop it either.
        r = srv.client().completions.create(model=SERVED_MODEL, prompt=PROMPT, max_tokens=12, temperature=0,
                                            extra_body={"return_token_ids": True, "ignore_eos": True})
        assert r.choices[0].token_ids == ids
    finally:
        srv.stop()
