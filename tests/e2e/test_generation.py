"""Chat and completions through the official openai client: shapes, streaming, usage, stops, seeds."""

import json

import pytest

from conftest import MAX_MODEL_LEN, SERVED_MODEL

CHAT = [{"role": "user", "content": "Write one short sentence about the sea."}]


def test_health_and_models(server, client, raw):
    r = raw.get("/health")
    assert r.status_code == 200 and r.content == b""
    models = client.models.list().data
    assert [m.id for m in models] == [SERVED_MODEL]
    card = raw.get("/v1/models").json()["data"][0]
    assert card["object"] == "model" and card["owned_by"] == "vllm"
    assert card["max_model_len"] == MAX_MODEL_LEN
    assert card["parent"] is None and card["permission"][0]["object"] == "model_permission"


def test_chat_non_streaming(client):
    r = client.chat.completions.create(model=SERVED_MODEL, messages=CHAT, temperature=0, max_tokens=12)
    assert r.id.startswith("chatcmpl-") and r.object == "chat.completion" and r.model == SERVED_MODEL
    choice = r.choices[0]
    assert choice.index == 0 and choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert 1 <= r.usage.completion_tokens <= 12


def test_chat_length_finish_counts_tokens(client):
    r = client.chat.completions.create(model=SERVED_MODEL, messages=CHAT, temperature=0, max_tokens=5,
                                       extra_body={"ignore_eos": True})
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 5
    assert r.usage.total_tokens == r.usage.prompt_tokens + 5


def test_model_may_be_omitted(client):
    # vLLM accepts a request without `model`; the response names the served model.
    r = client.post("/chat/completions", cast_to=object,
                    body={"messages": CHAT, "max_tokens": 2, "temperature": 0})
    assert r["model"] == SERVED_MODEL


def test_capital_of_france(client):
    r = client.chat.completions.create(
        model=SERVED_MODEL, temperature=0, max_tokens=20,
        # "You are a helpful AI assistant." gives "The" a 0.66 margin; with "...a helpful assistant." llama.cpp's
        # own top-2 ("The"/"La") are 0.09 apart, so last-bit differences of any kernel could flip the answer.
        messages=[{"role": "system", "content": "You are a helpful AI assistant."},
                  {"role": "user", "content": "What is the capital of France?"}])
    assert "Paris" in r.choices[0].message.content


def test_chat_stream_equals_non_stream(client):
    kwargs = dict(model=SERVED_MODEL, messages=CHAT, temperature=0, max_tokens=16)
    full = client.chat.completions.create(**kwargs)
    chunks = list(client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [full.choices[0].finish_reason]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    # Usage only on the last chunk, which has no choices.
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage == full.usage
    assert all(c.id == chunks[0].id and c.object == "chat.completion.chunk" for c in chunks)


def test_completions_stream_equals_non_stream(client):
    kwargs = dict(model=SERVED_MODEL, prompt="The capital of France is", temperature=0, max_tokens=12)
    full = client.completions.create(**kwargs)
    assert full.id.startswith("cmpl-") and full.object == "text_completion"
    assert "Paris" in full.choices[0].text
    assert full.usage.total_tokens == full.usage.prompt_tokens + full.usage.completion_tokens
    chunks = list(client.completions.create(**kwargs, stream=True))
    assert "".join(c.choices[0].text for c in chunks) == full.choices[0].text
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == [
        full.choices[0].finish_reason]


def test_completions_default_max_tokens_is_16(client):
    r = client.completions.create(model=SERVED_MODEL, prompt="Once upon a time", temperature=0,
                                  extra_body={"ignore_eos": True})
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 16


def test_completions_token_id_prompt(client):
    r = client.completions.create(model=SERVED_MODEL, prompt=[504, 3575, 282], temperature=0, max_tokens=3)
    assert r.usage.prompt_tokens == 3


def test_stop_string(client):
    kwargs = dict(model=SERVED_MODEL, prompt="Count: one, two, three,", temperature=0, max_tokens=20)
    eos = {"ignore_eos": True}
    free = client.completions.create(**kwargs, extra_body=eos).choices[0].text
    # Stop on a piece of what the model says anyway: the output must end right before it.
    stop = free.strip()[2:6] if len(free.strip()) >= 6 else free.strip()
    assert stop, free
    r = client.completions.create(**kwargs, stop=[stop], extra_body=eos)
    choice = r.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.model_extra.get("stop_reason") == stop
    assert choice.text == free[:free.index(stop)]
    # include_stop_str_in_output keeps it.
    r = client.completions.create(**kwargs, stop=stop, extra_body=eos | {"include_stop_str_in_output": True})
    assert r.choices[0].text == free[:free.index(stop) + len(stop)]


def test_seed_reproducible_at_temperature_1(client):
    kwargs = dict(model=SERVED_MODEL, messages=CHAT, temperature=1.0, max_tokens=12, seed=1234)
    a = client.chat.completions.create(**kwargs).choices[0].message.content
    b = client.chat.completions.create(**kwargs).choices[0].message.content
    assert a == b


def test_raw_sse_framing(raw):
    body = {"model": SERVED_MODEL, "messages": CHAT, "max_tokens": 4, "temperature": 0, "stream": True}
    with raw.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = r.read().decode()
    events = text.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    for event in events[:-2]:
        assert event.startswith("data: ")
        payload = json.loads(event[len("data: "):])
        assert payload["object"] == "chat.completion.chunk"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_keep_alive_connection_reused(raw, path):
    body = ({"messages": CHAT} if "chat" in path else {"prompt": "Hi"}) | {"max_tokens": 2, "temperature": 0}
    for _ in range(3):
        assert raw.post(path, json=body).status_code == 200
