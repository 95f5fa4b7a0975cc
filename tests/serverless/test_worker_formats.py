"""Job inputs and outputs of `podserve worker` (worker-vllm.md §2, the classic "G1" contract): native outputs
with real token counts (HF `tokenizers` on the model's vocabulary, jinja2 for the chat template), OpenAI routes
that answer exactly what `podserve serve` answers, raw SSE vs parsed chunk batches, bad inputs, --test_input."""

import json

import httpx
import pytest

from conftest import SERVED_MODEL, Worker

PROMPT = "The capital of France is"
MESSAGES = [{"role": "user", "content": "What is the capital city of France?"}]


@pytest.fixture()
def worker_env(job_server):
    return job_server.worker_env()


def run_jobs(job_server, start_worker, jobs, env=None):
    """Runs {id: input} on one worker; returns {id: job-done body}."""
    for job_id, job_input in jobs.items():
        job_server.add_job(job_id, job_input)
    start_worker(job_server.worker_env() | (env or {}))
    return {job_id: job_server.wait_done(job_id).json() for job_id in jobs}


def strip_volatile(obj):
    """Drops the fields that differ between two answers to the same request (ids, timestamps)."""
    if isinstance(obj, dict):
        return {k: strip_volatile(v) for k, v in obj.items() if k not in ("id", "created")}
    if isinstance(obj, list):
        return [strip_volatile(v) for v in obj]
    return obj


def sse_events(text):
    return [e + "\n\n" for e in text.split("\n\n") if e]


def test_native_outputs_and_token_counts(job_server, start_worker, serve, hf_tokenizer, chat_template_render):
    sp = {"max_tokens": 40, "temperature": 0}
    results = run_jobs(job_server, start_worker, {
        "prompt": {"prompt": PROMPT, "sampling_params": sp},
        "messages": {"messages": MESSAGES, "sampling_params": sp},
        "templated": {"prompt": MESSAGES[0]["content"], "apply_chat_template": True, "sampling_params": sp},
        "default-max": {"prompt": PROMPT, "sampling_params": {"temperature": 0, "ignore_eos": True}},
        "n2": {"prompt": PROMPT, "sampling_params": {"max_tokens": 5, "n": 2, "temperature": 0}},
    })
    ref = httpx.post(serve + "/v1/completions", json={"prompt": PROMPT, "max_tokens": 40, "temperature": 0},
                     timeout=120).json()
    out = results["prompt"]["output"]
    assert len(out) == 1
    assert out[0]["choices"] == [{"tokens": [ref["choices"][0]["text"]]}]
    assert out[0]["usage"] == {"input": len(hf_tokenizer.encode(PROMPT, add_special_tokens=False).ids),
                               "output": ref["usage"]["completion_tokens"]}

    rendered = chat_template_render(MESSAGES)
    chat_ref = httpx.post(serve + "/v1/chat/completions", json={"messages": MESSAGES, "max_tokens": 40,
                                                                "temperature": 0}, timeout=120).json()
    for key in ("messages", "templated"):
        out = results[key]["output"]
        assert out[0]["choices"] == [{"tokens": [chat_ref["choices"][0]["message"]["content"]]}]
        assert out[0]["usage"]["input"] == len(hf_tokenizer.encode(rendered, add_special_tokens=False).ids)
        assert out[0]["usage"]["output"] == chat_ref["usage"]["completion_tokens"]

    # max_tokens defaults to 100 in the native format (vLLM's own default is 16).
    assert results["default-max"]["output"][0]["usage"]["output"] == 100
    n2 = results["n2"]["output"][0]
    assert len(n2["choices"]) == 2 and n2["usage"]["output"] == 10


def test_native_stream_batches(job_server, start_worker, serve):
    results = run_jobs(job_server, start_worker, {
        "s": {"prompt": PROMPT, "stream": True,
              "sampling_params": {"max_tokens": 60, "temperature": 0, "ignore_eos": True}},
        "custom": {"prompt": PROMPT, "stream": True, "min_batch_size": 2, "max_batch_size": 10,
                   "batch_size_growth_factor": 2,
                   "sampling_params": {"max_tokens": 30, "temperature": 0, "ignore_eos": True}},
    })
    streams = job_server.of_kind("stream", "s")
    items = [s.json()["output"] for s in streams]
    assert results["s"]["output"] == items  # the aggregate is the streamed items, in order
    sizes = [len(i["choices"][0]["tokens"]) for i in items]
    assert sizes == [1, 3, 9, 27, 20]  # batch growth 1, 3, 9, 27, 50 (the last one partial)
    outputs = [i["usage"]["output"] for i in items]
    assert outputs == [1, 4, 13, 40, 60]  # real running token counts
    ref = httpx.post(serve + "/v1/completions", json={"prompt": PROMPT, "max_tokens": 60, "temperature": 0,
                                                      "ignore_eos": True}, timeout=120).json()
    assert "".join(t for i in items for t in i["choices"][0]["tokens"]) == ref["choices"][0]["text"]
    assert all(i["usage"]["input"] == ref["usage"]["prompt_tokens"] for i in items)
    custom = [len(i["choices"][0]["tokens"]) for i in results["custom"]["output"]]
    assert custom == [2, 4, 8, 10, 6]


def test_env_batch_sizes_documented_names(job_server, start_worker):
    results = run_jobs(job_server, start_worker, {
        "s": {"prompt": PROMPT, "stream": True,
              "sampling_params": {"max_tokens": 20, "temperature": 0, "ignore_eos": True}},
    }, env={"DEFAULT_BATCH_SIZE": "8", "DEFAULT_MIN_BATCH_SIZE": "2", "DEFAULT_BATCH_SIZE_GROWTH_FACTOR": "2"})
    assert [len(i["choices"][0]["tokens"]) for i in results["s"]["output"]] == [2, 4, 8, 6]


def test_openai_routes_match_serve(job_server, start_worker, serve):
    chat = {"model": SERVED_MODEL, "messages": MESSAGES, "max_tokens": 30, "temperature": 0}
    comp = {"model": SERVED_MODEL, "prompt": PROMPT, "max_tokens": 30, "temperature": 0}
    results = run_jobs(job_server, start_worker, {
        "chat": {"openai_route": "/v1/chat/completions", "openai_input": chat},
        "comp": {"openai_route": "/v1/completions", "openai_input": comp},
        "models": {"openai_route": "/v1/models", "openai_input": {}},
        "newer-input-only": {"openai_input": chat},
        "newer-route": {"route": "/v1/completions", "body": comp},
    })
    chat_ref = httpx.post(serve + "/v1/chat/completions", json=chat, timeout=120).json()
    comp_ref = httpx.post(serve + "/v1/completions", json=comp, timeout=120).json()
    models_ref = httpx.get(serve + "/v1/models", timeout=30).json()
    assert strip_volatile(results["chat"]["output"]) == [strip_volatile(chat_ref)]
    assert strip_volatile(results["comp"]["output"]) == [strip_volatile(comp_ref)]
    assert strip_volatile(results["models"]["output"]) == [strip_volatile(models_ref)]
    assert strip_volatile(results["newer-input-only"]["output"]) == [strip_volatile(chat_ref)]
    assert strip_volatile(results["newer-route"]["output"]) == [strip_volatile(comp_ref)]


def serve_stream(serve, path, body):
    with httpx.stream("POST", serve + path, json=body, timeout=120) as r:
        assert r.status_code == 200
        return "".join(r.iter_text())


@pytest.mark.parametrize("raw", ["1", "0"])
def test_openai_stream_raw_and_parsed(job_server, start_worker, serve, raw):
    body = {"model": SERVED_MODEL, "prompt": PROMPT, "max_tokens": 40, "temperature": 0, "ignore_eos": True,
            "stream": True, "stream_options": {"include_usage": True}}
    results = run_jobs(job_server, start_worker, {"s": {"openai_route": "/v1/completions", "openai_input": body}},
                       env={"RAW_OPENAI_OUTPUT": raw})
    items = results["s"]["output"]
    assert items == [s.json()["output"] for s in job_server.of_kind("stream", "s")]
    ref_events = sse_events(serve_stream(serve, "/v1/completions", body))
    ref_chunks = [json.loads(e[len("data: "):]) for e in ref_events if e != "data: [DONE]\n\n"]
    assert ref_events[-1] == "data: [DONE]\n\n"
    if raw == "1":
        # Strings of whole SSE events, 1, 3, 9, 27, ... per item, the last one ending with [DONE].
        assert all(isinstance(i, str) for i in items)
        assert [len(sse_events(i)) for i in items] == [1, 3, 9, 27, len(ref_events) - 40]
        got = sse_events("".join(items))
        assert got[-1] == "data: [DONE]\n\n"
        assert [strip_volatile(json.loads(e[6:])) for e in got[:-1]] == strip_volatile(ref_chunks)
    else:
        # Lists of parsed chunks, [DONE] dropped.
        assert all(isinstance(i, list) for i in items)
        assert [len(i) for i in items] == [1, 3, 9, 27, len(ref_chunks) - 40]
        assert strip_volatile([c for i in items for c in i]) == strip_volatile(ref_chunks)


def test_chat_stream_matches_serve(job_server, start_worker, serve):
    body = {"model": SERVED_MODEL, "messages": MESSAGES, "max_tokens": 20, "temperature": 0, "stream": True}
    results = run_jobs(job_server, start_worker, {"c": {"openai_route": "/v1/chat/completions",
                                                        "openai_input": body}})
    got = sse_events("".join(results["c"]["output"]))
    ref = sse_events(serve_stream(serve, "/v1/chat/completions", body))
    assert len(got) == len(ref)
    assert [strip_volatile(json.loads(e[6:])) if e != "data: [DONE]\n\n" else e for e in got] == \
           [strip_volatile(json.loads(e[6:])) if e != "data: [DONE]\n\n" else e for e in ref]


BAD_INPUTS = {
    "no-prompt": ({"sampling_params": {"max_tokens": 5}}, "must contain 'prompt' or 'messages'"),
    "unknown-sampling": ({"prompt": "hi", "sampling_params": {"max_tokenz": 5}}, "unknown parameter 'max_tokenz'"),
    "wrong-type-prompt": ({"prompt": 42}, "'prompt' must be a string"),
    "wrong-type-sampling": ({"prompt": "hi", "sampling_params": {"temperature": "hot"}}, "temperature"),
    "wrong-type-stream": ({"prompt": "hi", "stream": "yes"}, "'stream' must be a boolean"),
    "not-an-object": ("just a string", "must be a JSON object"),
    "unknown-route": ({"openai_route": "/v1/unknown", "openai_input": {"x": 1}}, "Invalid route '/v1/unknown'"),
    "unsupported-sampling": ({"prompt": "hi", "sampling_params": {"extra_args": {"x": 1}}},
                             "'extra_args' is not supported"),
    "too-long": ({"prompt": "hi", "sampling_params": {"max_tokens": 5000}}, "maximum context length is 2048"),
}


def test_bad_inputs_fail_and_worker_keeps_serving(job_server, start_worker):
    jobs = {k: v[0] for k, v in BAD_INPUTS.items()}
    jobs["good-after"] = {"prompt": PROMPT, "sampling_params": {"max_tokens": 4, "temperature": 0}}
    results = run_jobs(job_server, start_worker, jobs)
    for name, (_, fragment) in BAD_INPUTS.items():
        body = results[name]
        assert list(body) == ["error"], (name, body)
        assert isinstance(body["error"], str) and fragment in body["error"], (name, body)
        assert not job_server.of_kind("stream", name)
    assert results["good-after"]["output"][0]["usage"]["output"] == 4


def test_openai_error_is_the_classic_repr(job_server, start_worker):
    results = run_jobs(job_server, start_worker, {
        "wrong-model": {"openai_route": "/v1/chat/completions",
                        "openai_input": {"model": "nope", "messages": MESSAGES}},
    })
    # The SDK's str() of vLLM's error dict (worker-vllm.md §2.6).
    assert results["wrong-model"] == {"error": "{'message': 'The model `nope` does not exist.', "
                                               "'type': 'NotFoundError', 'param': 'model', 'code': 404}"}


def test_local_test_input_modes(tmp_path):
    job = {"input": {"prompt": PROMPT, "sampling_params": {"max_tokens": 6, "temperature": 0}}}
    w = Worker({}, args=["--test_input", json.dumps(job)])
    out, _ = w.process.communicate(timeout=120)
    assert w.process.returncode == 0, w.log_text()
    result = json.loads(out)
    assert result["output"][0]["usage"]["output"] == 6

    (tmp_path / "test_input.json").write_text(json.dumps(job))
    w2 = Worker({}, cwd=tmp_path)
    out2, _ = w2.process.communicate(timeout=120)
    assert w2.process.returncode == 0, w2.log_text()
    assert json.loads(out2) == result

    w3 = Worker({}, args=["--test_input", json.dumps({"input": {"prompt": 1}})])
    out3, _ = w3.process.communicate(timeout=120)
    assert w3.process.returncode == 1
    assert "'prompt' must be a string" in json.loads(out3)["error"]


def test_worker_env_vars_reach_the_routes(job_server, start_worker):
    """OPENAI_SERVED_MODEL_NAME_OVERRIDE, OPENAI_RESPONSE_ROLE and CUSTOM_CHAT_TEMPLATE, as the vLLM worker reads them."""
    template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}<reply>"
    job_server.add_job("models", {"openai_route": "/v1/models", "openai_input": {}})
    job_server.add_job("chat", {"openai_route": "/v1/chat/completions",
                                "openai_input": {"model": "my-endpoint-model", "messages": MESSAGES,
                                                 "max_tokens": 3, "temperature": 0}})
    job_server.add_job("tok", {"route": "/tokenize", "body": {"messages": MESSAGES}})
    start_worker(job_server.worker_env() | {"OPENAI_SERVED_MODEL_NAME_OVERRIDE": "my-endpoint-model",
                                            "OPENAI_RESPONSE_ROLE": "bot", "CUSTOM_CHAT_TEMPLATE": template},
                 served_name=None)
    models = job_server.wait_done("models").json()["output"][0]
    assert [m["id"] for m in models["data"]] == ["my-endpoint-model"]
    chat = job_server.wait_done("chat").json()["output"][0]
    assert chat["model"] == "my-endpoint-model"
    assert chat["choices"][0]["message"]["role"] == "bot"
    tok = job_server.wait_done("tok").json()["output"][0]
    rendered = "<user>" + MESSAGES[0]["content"] + "\n<reply>"
    assert tok["count"] == len(tok["tokens"]) and tok["count"] > 0
    job_server.add_job("plain", {"route": "/tokenize", "body": {"prompt": rendered}})
    assert job_server.wait_done("plain").json()["output"][0]["tokens"] == tok["tokens"]
