"""The rest of vLLM's OpenAI-server surface, through the official openai client and httpx: X-Request-Id response
headers (--enable-request-id-headers), every served name in /v1/models, echo with logprobs (checked against
llama.cpp's logprobs on the same GGUF), prompt_logprobs for prompt batches, Content-Type checks,
continuous_usage_stats, stop_reason values, unknown fields, several API keys."""

import json
import math
import os
import pathlib
import re

import httpx
import jinja2
import openai
import pytest

from conftest import SERVED_MODEL, error_of, start_server

MESSAGES = [{"role": "user", "content": "Hi"}]
GOLDENS = json.loads((pathlib.Path(os.environ["PODSERVE_TEST_DATA"]) / "model_greedy.json").read_text())
# tests/model's tolerance between our logits and llama.cpp's on this Q4_1 file (int8 activations vs llama.cpp's).
LOGPROB_TOLERANCE = 0.75
HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def named():
    """A server with two served names and request-id headers on (vLLM's --enable-request-id-headers)."""
    srv = start_server(["--served-model-name", SERVED_MODEL, "alias-b", "--enable-request-id-headers",
                        "--disable-log-stats"])
    yield srv
    srv.stop()


# ---------------------------------------------------------------------------------------------------------------
# X-Request-Id response header

def test_request_id_header_echoed_or_generated(named, server):
    c = named.client()
    raw = c.chat.completions.with_raw_response.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=1,
                                                      extra_headers={"X-Request-Id": "my-id-1"})
    assert raw.headers["x-request-id"] == "my-id-1"
    assert raw.parse().id == "chatcmpl-my-id-1"  # the header also names the request, as vLLM
    # No header in the request: a fresh uuid4().hex-shaped id on every response.
    ids = set()
    for _ in range(2):
        raw = c.completions.with_raw_response.create(model=SERVED_MODEL, prompt="Hi", max_tokens=1)
        assert HEX32.match(raw.headers["x-request-id"]), raw.headers
        ids.add(raw.headers["x-request-id"])
    assert len(ids) == 2
    with httpx.Client(base_url=named.url, timeout=60) as h:
        # Streams, errors, routes outside /v1 and unknown routes carry it too (vLLM's middleware wraps the app).
        body = {"model": SERVED_MODEL, "prompt": "Hi", "max_tokens": 2, "stream": True}
        with h.stream("POST", "/v1/completions", json=body, headers={"X-Request-Id": "stream-id"}) as r:
            assert r.status_code == 200 and r.headers["x-request-id"] == "stream-id"
            assert [line for line in r.iter_lines() if line][-1] == "data: [DONE]"
        r = h.post("/v1/completions", json={"model": "nope", "prompt": "x"}, headers={"X-Request-Id": "e1"})
        assert r.status_code == 404 and r.headers["x-request-id"] == "e1"
        assert HEX32.match(h.get("/health").headers["x-request-id"])
        assert h.get("/no/such/route", headers={"X-Request-Id": "r404"}).headers["x-request-id"] == "r404"
    # Off by default, as in vLLM.
    assert "x-request-id" not in httpx.get(server.url + "/health").headers
    raw = server.client().completions.with_raw_response.create(model=SERVED_MODEL, prompt="Hi", max_tokens=1,
                                                               extra_headers={"X-Request-Id": "x"})
    assert "x-request-id" not in raw.headers


# ---------------------------------------------------------------------------------------------------------------
# /v1/models: one card per served name

def test_models_lists_every_served_name(named):
    models = named.client().models.list().data
    assert [m.id for m in models] == [SERVED_MODEL, "alias-b"]
    cards = httpx.get(named.url + "/v1/models").json()["data"]
    model_path = os.environ["PODSERVE_TEST_MODEL"]
    for card in cards:
        assert set(card) == {"id", "object", "created", "owned_by", "root", "parent", "max_model_len",
                             "permission"}
        assert card["object"] == "model" and card["owned_by"] == "vllm" and card["parent"] is None
        assert card["root"] == model_path
        [perm] = card["permission"]
        assert perm["object"] == "model_permission" and perm["id"].startswith("modelperm-")
        assert perm["allow_sampling"] and perm["allow_logprobs"] and not perm["allow_fine_tuning"]
        assert perm["organization"] == "*" and perm["group"] is None
    # Both names are accepted as `model`; answers report the first.
    r = named.client().completions.create(model="alias-b", prompt="Hi", max_tokens=1)
    assert r.model == SERVED_MODEL


# ---------------------------------------------------------------------------------------------------------------
# echo with logprobs (completions)

def _robust_completion_case():
    """A llama.cpp golden whose first greedy token is clearly the argmax (margin well over the tolerance)."""
    for case in GOLDENS["cases"]:
        if not case["chat"] and case["top2_margins"][0] >= 2 * LOGPROB_TOLERANCE:
            return case
    pytest.fail("the goldens need a completion case with a clear first token")


def _check_offsets(lp, text):
    assert lp.text_offset[0] == 0
    for i in range(1, len(lp.tokens)):
        assert lp.text_offset[i] == lp.text_offset[i - 1] + len(lp.tokens[i - 1])
    if "\ufffd" not in "".join(lp.tokens):
        assert "".join(lp.tokens) == text


def test_echo_with_logprobs_matches_llama_cpp(client):
    case = _robust_completion_case()
    first = case["first_top_logits"][0]  # llama.cpp: the most likely token after the prompt and its logprob
    prompt = case["prompt_tokens"] + [first["id"]]
    r = client.completions.create(model=SERVED_MODEL, prompt=prompt, max_tokens=3, temperature=0, echo=True,
                                  logprobs=2, extra_body={"ignore_eos": True})
    choice = r.choices[0]
    lp = choice.logprobs
    n_prompt = len(prompt)
    assert r.usage.prompt_tokens == n_prompt and r.usage.completion_tokens == 3
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == n_prompt + 3
    # Nothing predicts the first prompt token: null logprob and null top_logprobs, as vLLM.
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    assert choice.text.startswith(case["prompt"])
    _check_offsets(lp, choice.text)
    # The last prompt token is llama.cpp's greedy choice after the prompt: same logprob (within the model tier's
    # tolerance), and the most likely entry at that position.
    pos = n_prompt - 1
    assert abs(lp.token_logprobs[pos] - first["logprob"]) <= LOGPROB_TOLERANCE, (lp.token_logprobs[pos], first)
    assert math.isclose(max(lp.top_logprobs[pos].values()), lp.token_logprobs[pos], abs_tol=1e-5)
    assert lp.tokens[pos] in lp.top_logprobs[pos]
    for i in range(1, len(lp.tokens)):
        assert lp.token_logprobs[i] <= 0 and 1 <= len(lp.top_logprobs[i]) <= 3
    # The prompt part equals the prompt's logprobs (vLLM fills prompt_logprobs too), the rest equals the same
    # request without echo.
    prompt_lps = choice.model_extra["prompt_logprobs"]
    assert len(prompt_lps) == n_prompt and prompt_lps[0] is None
    for i in range(1, n_prompt):
        entry = prompt_lps[i][str(prompt[i])]
        assert math.isclose(entry["logprob"], lp.token_logprobs[i], abs_tol=1e-4)
        assert entry["decoded_token"] == lp.tokens[i]
    plain = client.completions.create(model=SERVED_MODEL, prompt=prompt, max_tokens=3, temperature=0, logprobs=2,
                                      extra_body={"ignore_eos": True})
    assert choice.text == "".join(lp.tokens[:n_prompt]) + plain.choices[0].text or "\ufffd" in choice.text
    assert lp.tokens[n_prompt:] == plain.choices[0].logprobs.tokens
    for a, b in zip(lp.token_logprobs[n_prompt:], plain.choices[0].logprobs.token_logprobs):
        assert math.isclose(a, b, abs_tol=1e-4)


def test_echo_with_logprobs_max_tokens_0_and_stream(client):
    prompt = "The capital of France is"
    only = client.completions.create(model=SERVED_MODEL, prompt=prompt, max_tokens=0, echo=True, logprobs=1)
    c = only.choices[0]
    assert c.text == prompt and c.finish_reason == "length"
    assert len(c.logprobs.tokens) == only.usage.prompt_tokens and only.usage.completion_tokens == 0
    assert c.logprobs.token_logprobs[0] is None and all(x <= 0 for x in c.logprobs.token_logprobs[1:])
    _check_offsets(c.logprobs, c.text)
    full = client.completions.create(model=SERVED_MODEL, prompt=prompt, max_tokens=4, temperature=0, echo=True,
                                     logprobs=1, extra_body={"ignore_eos": True})
    stream = list(client.completions.create(model=SERVED_MODEL, prompt=prompt, max_tokens=4, temperature=0,
                                            echo=True, logprobs=1, stream=True, extra_body={"ignore_eos": True}))
    text, tokens, offsets, lps = "", [], [], []
    for chunk in stream:
        for ch in chunk.choices:
            text += ch.text
            if ch.logprobs:
                tokens += ch.logprobs.tokens
                offsets += ch.logprobs.text_offset
                lps += ch.logprobs.token_logprobs
    assert text == full.choices[0].text
    assert tokens == full.choices[0].logprobs.tokens
    assert offsets == full.choices[0].logprobs.text_offset  # offsets run on across the echo
    assert lps[0] is None
    for a, b in zip(lps[1:], full.choices[0].logprobs.token_logprobs[1:]):
        assert math.isclose(a, b, abs_tol=1e-4)
    # A batch with n=2: each choice's logprobs begin with its own prompt.
    prompts = ["One two three", "Red green"]
    batch = client.completions.create(model=SERVED_MODEL, prompt=prompts, n=2, max_tokens=1, temperature=0,
                                      echo=True, logprobs=0)
    assert [ch.index for ch in batch.choices] == [0, 1, 2, 3]
    for ch in batch.choices:
        p = prompts[ch.index // 2]
        assert ch.text.startswith(p) and "".join(ch.logprobs.tokens).startswith(p)


# ---------------------------------------------------------------------------------------------------------------
# prompt_logprobs with a batch of prompts

def test_prompt_logprobs_for_prompt_batches(client):
    prompts = ["The sky is blue", "Two plus two is four"]
    singles = [client.completions.create(model=SERVED_MODEL, prompt=p, max_tokens=1, temperature=0,
                                         extra_body={"prompt_logprobs": 1}) for p in prompts]
    batch = client.completions.create(model=SERVED_MODEL, prompt=prompts, n=2, max_tokens=1, temperature=0,
                                      extra_body={"prompt_logprobs": 1})
    assert [c.index for c in batch.choices] == [0, 1, 2, 3]
    for c in batch.choices:
        expected = singles[c.index // 2].choices[0].model_extra["prompt_logprobs"]
        got = c.model_extra["prompt_logprobs"]
        assert len(got) == len(expected) and got[0] is None
        for g, e in zip(got[1:], expected[1:]):
            assert list(g) == list(e)  # same token ids, the prompt token first
            for tid in g:
                assert math.isclose(g[tid]["logprob"], e[tid]["logprob"], abs_tol=1e-4)
                assert g[tid]["decoded_token"] == e[tid]["decoded_token"]


# ---------------------------------------------------------------------------------------------------------------
# Content-Type (vLLM's validate_json_request)

@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonx",
                                          "application/json-patch+json"])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize"])
def test_non_json_content_type_is_400(raw, content_type, path):
    body = {"model": SERVED_MODEL, "messages": MESSAGES, "prompt": "Hi", "tokens": [1], "max_tokens": 1}
    headers = {"content-type": content_type} if content_type is not None else {}
    r = raw.post(path, content=json.dumps(body).encode(), headers=headers)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["message"] == "Unsupported Media Type: Only 'application/json' is allowed"
    assert err["type"] == "BadRequestError" and err["code"] == 400


def test_json_content_type_variants_accepted(raw):
    body = json.dumps({"model": SERVED_MODEL, "prompt": "Hi", "max_tokens": 1}).encode()
    for ct in ["application/json", "Application/JSON", "application/json; charset=utf-8", "application/json;"]:
        r = raw.post("/v1/completions", content=body, headers={"content-type": ct})
        assert r.status_code == 200, (ct, r.text)


# ---------------------------------------------------------------------------------------------------------------
# Review of the field families

def test_continuous_usage_stats(client):
    chunks = list(client.completions.create(
        model=SERVED_MODEL, prompt="Once upon a time", max_tokens=4, temperature=0, stream=True,
        stream_options={"include_usage": True, "continuous_usage_stats": True}, extra_body={"ignore_eos": True}))
    content = [c for c in chunks if c.choices]
    assert content and all(c.usage is not None for c in content)
    completion = [c.usage.completion_tokens for c in content]
    assert completion == sorted(completion) and completion[-1] == 4
    assert all(c.usage.total_tokens == c.usage.prompt_tokens + c.usage.completion_tokens for c in content)
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4
    # include_usage alone: usage only on the final chunk (vLLM's tests assert this).
    chunks = list(client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=3,
                                                 stream=True, stream_options={"include_usage": True}))
    assert all(c.usage is None for c in chunks[:-1]) and chunks[-1].usage is not None


def test_stop_reason_values(client):
    # llama.cpp's greedy continuation (goldens) with a clear second token: stopping on that token id gives
    # finish_reason "stop" and stop_reason = the id (an int); length and EOS give stop_reason null.
    case = next(c for c in GOLDENS["cases"] if not c["chat"] and min(c["top2_margins"][:2]) >= 0.5)
    stop_id = case["greedy_tokens"][1]
    kwargs = dict(model=SERVED_MODEL, prompt=case["prompt_tokens"], temperature=0, max_tokens=8)
    r = client.completions.create(**kwargs, extra_body={"ignore_eos": True, "stop_token_ids": [stop_id]})
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].model_extra["stop_reason"] == stop_id
    r = client.completions.create(**kwargs, extra_body={"ignore_eos": True})
    assert r.choices[0].finish_reason == "length" and r.choices[0].model_extra["stop_reason"] is None
    r = client.chat.completions.create(model=SERVED_MODEL, messages=[{"role": "user", "content": "Say hi."}],
                                       temperature=0, max_tokens=200)
    assert r.choices[0].finish_reason == "stop" and r.choices[0].model_extra["stop_reason"] is None  # EOS


def test_unknown_fields_are_accepted_and_logged(named):
    r = named.client().chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=1,
                                               extra_body={"no_such_field_xyz": 1, "another_one": [1]})
    assert r.choices[0].finish_reason in ("stop", "length")
    log = named.log_tail(400)
    assert "The following fields were present in the request but ignored" in log
    assert "'no_such_field_xyz'" in log and "'another_one'" in log


def test_several_api_keys():
    srv = start_server(["--api-key", "key-one", "--api-key", "key-two", "--disable-log-stats"])
    try:
        for key in ("key-one", "key-two"):
            r = srv.client(api_key=key).completions.create(model=SERVED_MODEL, prompt="Hi", max_tokens=1)
            assert r.choices[0].finish_reason in ("stop", "length")
        for bad in ("key-on", "key-one2", "key-twokey-one", "", "Bearer key-one"):
            with pytest.raises(openai.AuthenticationError):
                srv.client(api_key=bad or "x").models.list()
        r = httpx.post(srv.url + "/v1/completions", json={"prompt": "Hi"})  # no Authorization header
        assert r.status_code == 401 and r.json() == {"error": "Unauthorized"}
        assert httpx.post(srv.url + "/tokenize", json={"prompt": "Hi"}).status_code == 200  # open, as in vLLM
    finally:
        srv.stop()


# A custom template with the worker's variables: the rendered prompt is checked against jinja2's rendering.
CUSTOM_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                   "{% if add_generation_prompt %}<|im_start|>bot\n{% endif %}")


def test_worker_env_vars_configure_the_api():
    srv = start_server(["--disable-log-stats"], env={
        "OPENAI_SERVED_MODEL_NAME_OVERRIDE": "env-served-name", "OPENAI_RESPONSE_ROLE": "bot",
        "CUSTOM_CHAT_TEMPLATE": CUSTOM_TEMPLATE, "ENABLE_REQUEST_ID_HEADERS": "true"})
    try:
        with httpx.Client(base_url=srv.url, timeout=60) as h:
            assert [m["id"] for m in h.get("/v1/models").json()["data"]] == ["env-served-name"]
            body = {"model": "env-served-name", "messages": MESSAGES, "max_tokens": 2, "temperature": 0}
            r = h.post("/v1/chat/completions", json=body, headers={"X-Request-Id": "env-id"})
            assert r.status_code == 200 and r.headers["x-request-id"] == "env-id"
            assert r.json()["choices"][0]["message"]["role"] == "bot" and r.json()["model"] == "env-served-name"
            # The prompt is the custom template's rendering (jinja2 renders the same text).
            rendered = jinja2.Environment().from_string(CUSTOM_TEMPLATE).render(messages=MESSAGES,
                                                                              add_generation_prompt=True)
            chat_ids = h.post("/tokenize", json={"messages": MESSAGES}).json()["tokens"]
            text_ids = h.post("/tokenize", json={"prompt": rendered, "add_special_tokens": False}).json()["tokens"]
            assert chat_ids == text_ids
            assert r.json()["usage"]["prompt_tokens"] == len(text_ids)
            with h.stream("POST", "/v1/chat/completions", json=body | {"stream": True}) as s:
                events = [line for line in s.iter_lines() if line.startswith("data: {")]
            assert json.loads(events[0][len("data: "):])["choices"][0]["delta"]["role"] == "bot"
    finally:
        srv.stop()
