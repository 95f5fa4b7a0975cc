"""`podserve endpoint` with `podserve worker` processes doing the work, driven by the official `runpod` and `openai`
clients. The reference for every answer is `podserve serve` on the same model and flags (itself checked against
llama.cpp by the model tier): the OpenAI passthrough must give the same JSON content, and the native G1 contract
(§2.2/2.3) the same text and real token counts as /v1/completions."""

import json
import os
import subprocess
import tempfile
import time

import openai
import pytest
import requests

from conftest import ENDPOINT_ID, start_endpoint
from podserve_testutil import free_port, require_env

SERVED = "podserve-test-model"
ENGINE_FLAGS = ["--max-model-len", "2048", "--served-model-name", SERVED, "--kv-cache-memory", "0.25", "--seed", "0"]
PROMPT = "The capital of France is"
MESSAGES = [{"role": "user", "content": "Name three colors."}]


@pytest.fixture(scope="module")
def reference():
    """`podserve serve` on the same model: the answers the worker must reproduce."""
    binary, model = require_env("PODSERVE_BINARY"), require_env("PODSERVE_TEST_MODEL")
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="podserve-ref-", suffix=".log", delete=False)
    p = subprocess.Popen([binary, "serve", "--model", model, "--host", "127.0.0.1", "--port", str(port)]
                         + ENGINE_FLAGS, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.1)
    yield openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0)
    p.terminate()
    p.wait(timeout=30)


@pytest.fixture(scope="module")
def ep():
    binary, model = require_env("PODSERVE_BINARY"), require_env("PODSERVE_TEST_MODEL")
    command = " ".join([binary, "worker", "--model", model] + ENGINE_FLAGS)
    e = start_endpoint(["--workers-min", "1", "--workers-max", "1", "--worker-command", command])
    yield e
    e.stop()
    e.cleanup()


def oai(ep) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{ep.base}/openai/v1", api_key="none", max_retries=0, timeout=120)


def test_native_prompt_matches_completions(ep, reference):
    ref = reference.completions.create(model=SERVED, prompt=PROMPT, max_tokens=12, temperature=0)
    out = ep.client().run_sync({"prompt": PROMPT, "sampling_params": {"max_tokens": 12, "temperature": 0}},
                               timeout=120)
    assert out == [{"choices": [{"tokens": [ref.choices[0].text]}],
                    "usage": {"input": ref.usage.prompt_tokens, "output": ref.usage.completion_tokens}}]


def test_native_streaming_batches_grow_and_add_up(ep, reference):
    ref = reference.completions.create(model=SERVED, prompt=PROMPT, max_tokens=20, temperature=0)
    job = ep.client().run({"prompt": PROMPT, "stream": True,
                           "sampling_params": {"max_tokens": 20, "temperature": 0, "ignore_eos": True}})
    items = list(job.stream())
    sizes = [len(i["choices"][0]["tokens"]) for i in items]
    assert sizes[:3] == [1, 3, 9]  # the worker's batch growth 1, 3, 9, 27, ...
    assert "".join(t for i in items for t in i["choices"][0]["tokens"]) == ref.choices[0].text
    assert items[-1]["usage"] == {"input": ref.usage.prompt_tokens, "output": 20}
    assert ep.status(job.job_id)["output"] == items


def test_openai_models(ep):
    models = oai(ep).models.list()
    assert [m.id for m in models.data] == [SERVED]


def test_openai_chat_and_completions_match_serve(ep, reference):
    client = oai(ep)
    chat = client.chat.completions.create(model=SERVED, messages=MESSAGES, max_tokens=16, temperature=0)
    ref_chat = reference.chat.completions.create(model=SERVED, messages=MESSAGES, max_tokens=16, temperature=0)
    assert chat.choices[0].message.content == ref_chat.choices[0].message.content
    assert chat.usage == ref_chat.usage
    comp = client.completions.create(model=SERVED, prompt=PROMPT, max_tokens=16, temperature=0)
    ref_comp = reference.completions.create(model=SERVED, prompt=PROMPT, max_tokens=16, temperature=0)
    assert comp.choices[0].text == ref_comp.choices[0].text
    assert comp.usage == ref_comp.usage


def test_openai_streaming_relayed_as_event_stream(ep, reference):
    client = oai(ep)
    ref = reference.chat.completions.create(model=SERVED, messages=MESSAGES, max_tokens=16, temperature=0)
    chunks = list(client.chat.completions.create(model=SERVED, messages=MESSAGES, max_tokens=16, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ref.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == ref.usage.completion_tokens
    comp = list(client.completions.create(model=SERVED, prompt=PROMPT, max_tokens=16, temperature=0, stream=True))
    ref_comp = reference.completions.create(model=SERVED, prompt=PROMPT, max_tokens=16, temperature=0)
    assert "".join(c.choices[0].text for c in comp if c.choices) == ref_comp.choices[0].text
    raw = requests.post(f"{ep.base}/openai/v1/completions", json={"model": SERVED, "prompt": PROMPT, "max_tokens": 4,
                                                                  "stream": True}, timeout=120)
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.endswith("data: [DONE]\n\n")


def test_openai_stream_through_the_runpod_client(ep, reference):
    ref = reference.chat.completions.create(model=SERVED, messages=MESSAGES, max_tokens=8, temperature=0)
    job = ep.client().run({"openai_route": "/v1/chat/completions",
                           "openai_input": {"model": SERVED, "messages": MESSAGES, "max_tokens": 8, "temperature": 0,
                                            "stream": True}})
    items = list(job.stream())
    assert all(isinstance(i, str) for i in items)  # RAW_OPENAI_OUTPUT=1: raw SSE text, whole events
    assert items == ep.status(job.job_id)["output"]
    events = "".join(items).split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(e[len("data: "):]) for e in events[:-2]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == ref.choices[0].message.content
    assert chunks[-1]["choices"][0]["finish_reason"] == ref.choices[0].finish_reason


def test_openai_errors_keep_their_status(ep):
    with pytest.raises(openai.NotFoundError) as err:
        oai(ep).chat.completions.create(model="no-such-model", messages=MESSAGES, max_tokens=4)
    assert "no-such-model" in str(err.value)
    bad = requests.post(f"{ep.base}/openai/v1/embeddings", json={"input": "x"}, timeout=10)
    assert bad.status_code == 404


@pytest.mark.parametrize("job_input, words", [
    ({"sampling_params": {"max_tokens": 4}}, ["prompt", "messages"]),
    ({"prompt": "hi", "sampling_params": {"max_tokens": 4, "no_such_key": 1}}, ["no_such_key"]),
    ({"prompt": "hi", "sampling_params": {"max_tokens": "four"}}, ["max_tokens"]),
    ({"openai_route": "/v1/nope", "openai_input": {"model": SERVED}}, ["/v1/nope"]),
])
def test_bad_inputs_end_failed_and_the_worker_keeps_serving(ep, job_input, words):
    client = ep.client()
    job = client.run(job_input)
    ep.wait_until(lambda: ep.status(job.job_id)["status"] not in ("IN_QUEUE", "IN_PROGRESS"), 60, "the bad job")
    st = ep.status(job.job_id)
    assert st["status"] == "FAILED", st
    assert any(w in st["error"] for w in words), st["error"]
    assert client.run_sync({"prompt": PROMPT, "sampling_params": {"max_tokens": 2}}, timeout=60)[0]["usage"]["output"] == 2


def test_cancel_of_a_running_streaming_job(ep):
    client = ep.client()
    job = client.run({"prompt": PROMPT, "stream": True,
                      "sampling_params": {"max_tokens": 1500, "ignore_eos": True, "temperature": 0}})
    ep.wait_until(lambda: ep.status(job.job_id)["status"] == "IN_PROGRESS", 60, "the job to start")
    assert job.cancel()["status"] == "CANCELLED"
    # The worker aborts the engine request and posts nothing for it (its log shares the endpoint's); its slot
    # serves the next job.
    ep.wait_until(lambda: f"job {job.job_id}: stopped (nothing posted)" in ep.log(), 60, "the worker to stop the job")
    assert ep.status(job.job_id)["status"] == "CANCELLED"
    assert f"Job {job.job_id} COMPLETED" not in ep.log()
    assert client.run_sync({"prompt": PROMPT, "sampling_params": {"max_tokens": 2}}, timeout=60)[0]["usage"]["output"] == 2
    assert ep.health()["jobs"]["inProgress"] == 0


def test_default_worker_command_is_this_binarys_worker(endpoint_factory, reference):
    """Without --worker-command the endpoint starts `<its own binary> worker`, configured by the inherited env."""
    model = require_env("PODSERVE_TEST_MODEL")
    e = endpoint_factory(["--workers-max", "1"],
                         env={"MODEL_NAME": model, "MAX_MODEL_LEN": "2048", "KV_CACHE_MEMORY": "0.25",
                              "OPENAI_SERVED_MODEL_NAME_OVERRIDE": SERVED})
    ref = reference.completions.create(model=SERVED, prompt=PROMPT, max_tokens=6, temperature=0)
    out = e.client().run_sync({"prompt": PROMPT, "sampling_params": {"max_tokens": 6, "temperature": 0}}, timeout=120)
    assert out[0]["choices"][0]["tokens"] == [ref.choices[0].text]
    assert "' worker" in e.log()  # started as the quoted path of the binary
