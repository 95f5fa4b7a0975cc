"""The smaller vLLM routes (/tokenize, /detokenize, /ping, /version, /v1/embeddings) and request fields
(continue_final_message, truncate_prompt_tokens, suffix, response_format, request ids, echo, prompt batches),
through the official openai client (sync and async) and httpx for the routes outside /v1."""

import asyncio

import httpx
import openai
import pytest

from conftest import MAX_MODEL_LEN, SERVED_MODEL, error_of

MESSAGES = [{"role": "user", "content": "Hi"}]




def test_ping_and_version(raw):
    assert raw.get("/ping").status_code == 200
    assert raw.post("/ping").status_code == 200
    r = raw.get("/version")
    assert r.status_code == 200
    version = r.json()["version"]
    assert isinstance(version, str) and version.count(".") == 2


def test_tokenize_completion_form_round_trips(raw):
    r = raw.post("/tokenize", json={"model": SERVED_MODEL, "prompt": "Hello world", "return_token_strs": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["max_model_len"] == MAX_MODEL_LEN
    assert body["count"] == len(body["tokens"]) == len(body["token_strs"]) > 0
    assert all(isinstance(t, int) for t in body["tokens"])
    plain = raw.post("/tokenize", json={"prompt": "Hello world", "add_special_tokens": False}).json()
    assert plain["token_strs"] is None
    d = raw.post("/detokenize", json={"model": SERVED_MODEL, "tokens": plain["tokens"]})
    assert d.status_code == 200, d.text
    assert d.json() == {"prompt": "Hello world"}


def test_tokenize_chat_form_matches_chat_usage(raw, client):
    r = raw.post("/tokenize", json={"messages": MESSAGES, "add_generation_prompt": True})
    assert r.status_code == 200, r.text
    chat = client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=1, temperature=0)
    assert r.json()["count"] == chat.usage.prompt_tokens
    without = raw.post("/tokenize", json={"messages": MESSAGES, "add_generation_prompt": False}).json()
    assert without["count"] < r.json()["count"]
    both = raw.post("/tokenize", json={"messages": MESSAGES, "continue_final_message": True})
    assert both.status_code == 400
    assert "Cannot set both `continue_final_message` and `add_generation_prompt` to True." in both.text


def test_detokenize_out_of_vocab_is_400(raw):
    r = raw.post("/detokenize", json={"tokens": [1, 10 ** 9]})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["param"] == "tokens" and "out of vocabulary" in err["message"]
    assert raw.post("/detokenize", json={}).status_code == 400


def test_embeddings_is_a_clear_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model=SERVED_MODEL, input="hello")
    assert "does not support Embeddings API" in error_of(info.value)["message"]


def test_continue_final_message_continues_the_assistant_turn(raw, client):
    msgs = MESSAGES + [{"role": "assistant", "content": "The capital of France is"}]
    body = {"messages": msgs, "add_generation_prompt": False, "continue_final_message": True}
    rendered = raw.post("/tokenize", json=body | {"return_token_strs": True}).json()
    text = raw.post("/detokenize", json={"tokens": rendered["tokens"]}).json()["prompt"]
    assert text.endswith("The capital of France is")
    r = client.chat.completions.create(model=SERVED_MODEL, messages=msgs, max_tokens=2, temperature=0,
                                       extra_body={"add_generation_prompt": False, "continue_final_message": True})
    assert r.usage.prompt_tokens == rendered["count"]
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=SERVED_MODEL, messages=msgs, max_tokens=2,
                                       extra_body={"continue_final_message": True})
    assert error_of(info.value)["message"] == \
        "Cannot set both `continue_final_message` and `add_generation_prompt` to True."


def test_truncate_prompt_tokens(client):
    r = client.completions.create(model=SERVED_MODEL, prompt="one two three four five six seven eight nine ten",
                                  max_tokens=1, temperature=0, extra_body={"truncate_prompt_tokens": 3})
    assert r.usage.prompt_tokens == 3
    # A prompt longer than the context is fine once truncated.
    r = client.completions.create(model=SERVED_MODEL, prompt="hello " * (MAX_MODEL_LEN + 10), max_tokens=1,
                                  extra_body={"truncate_prompt_tokens": 8})
    assert r.usage.prompt_tokens == 8
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model=SERVED_MODEL, prompt="x", max_tokens=1,
                                  extra_body={"truncate_prompt_tokens": MAX_MODEL_LEN + 1})
    assert "truncate_prompt_tokens value is greater than max_model_len" in error_of(info.value)["message"]


def test_suffix_and_response_format(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model=SERVED_MODEL, prompt="x", suffix="y", max_tokens=1)
    assert error_of(info.value)["message"] == "suffix is not currently supported"
    r = client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=1,
                                       response_format={"type": "text"})
    assert r.choices[0].finish_reason is not None
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=1,
                                       response_format={"type": "json"})
    assert error_of(info.value)["param"] == "response_format.type"


def test_request_id_header_wins(client):
    r = client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=1,
                                       extra_body={"request_id": "body-id"})
    assert r.id == "chatcmpl-body-id"
    r = client.completions.create(model=SERVED_MODEL, prompt="Hi", max_tokens=1,
                                  extra_body={"request_id": "body-id"}, extra_headers={"X-Request-Id": "hdr-id"})
    assert r.id == "cmpl-hdr-id"


def test_async_client_routes(server):
    async def run():
        aclient = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="EMPTY", max_retries=0, timeout=120)
        try:
            chat, cmpl = await asyncio.gather(
                aclient.chat.completions.create(
                    model=SERVED_MODEL, max_tokens=1,
                    messages=MESSAGES + [{"role": "assistant", "content": "Hello"}],
                    extra_body={"add_generation_prompt": False, "continue_final_message": True}),
                aclient.completions.create(model=SERVED_MODEL, prompt="a b c d e f", max_tokens=1,
                                           extra_body={"truncate_prompt_tokens": 2}))
            assert chat.choices[0].finish_reason is not None
            assert cmpl.usage.prompt_tokens == 2
            with pytest.raises(openai.BadRequestError):
                await aclient.embeddings.create(model=SERVED_MODEL, input="x")
        finally:
            await aclient.close()
        async with httpx.AsyncClient(base_url=server.url) as h:
            r = await h.post("/tokenize", json={"prompt": "hi"})
            assert r.status_code == 200 and r.json()["count"] >= 1

    asyncio.run(run())


def test_completion_echo(client):
    r = client.completions.create(model=SERVED_MODEL, prompt="Once upon a time", max_tokens=2, temperature=0,
                                  echo=True)
    plain = client.completions.create(model=SERVED_MODEL, prompt="Once upon a time", max_tokens=2, temperature=0)
    assert r.choices[0].text == "Once upon a time" + plain.choices[0].text
    only = client.completions.create(model=SERVED_MODEL, prompt="Once upon a time", max_tokens=0, echo=True, n=2)
    assert [c.text for c in only.choices] == ["Once upon a time"] * 2
    assert [c.index for c in only.choices] == [0, 1]
    assert only.usage.completion_tokens == 0
    stream = client.completions.create(model=SERVED_MODEL, prompt="Once upon a time", max_tokens=2, temperature=0,
                                       echo=True, stream=True)
    text = "".join(chunk.choices[0].text for chunk in stream if chunk.choices)
    assert text == r.choices[0].text


def test_chat_echo_prepends_an_assistant_last_message(client):
    msgs = MESSAGES + [{"role": "assistant", "content": "Hello"}]
    extra = {"echo": True, "add_generation_prompt": False, "continue_final_message": True}
    r = client.chat.completions.create(model=SERVED_MODEL, messages=msgs, max_tokens=2, temperature=0,
                                       extra_body=extra)
    assert r.choices[0].message.content.startswith("Hello")
    user_last = client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=1, temperature=0,
                                               extra_body={"echo": True})
    assert isinstance(user_last.choices[0].message.content, str)  # a user last message is not echoed


def test_prompt_batches_index_as_vllm(client, raw):
    prompts = ["The sky is", "One plus one is"]
    singles = [client.completions.create(model=SERVED_MODEL, prompt=p, max_tokens=2, temperature=0) for p in prompts]
    r = client.completions.create(model=SERVED_MODEL, prompt=prompts, max_tokens=2, temperature=0, n=2)
    assert [c.index for c in r.choices] == [0, 1, 2, 3]
    assert [c.text for c in r.choices] == [singles[0].choices[0].text] * 2 + [singles[1].choices[0].text] * 2
    assert r.usage.prompt_tokens == singles[0].usage.prompt_tokens + singles[1].usage.prompt_tokens
    ids = [raw.post("/tokenize", json={"prompt": p, "add_special_tokens": False}).json()["tokens"] for p in prompts]
    echo = client.completions.create(model=SERVED_MODEL, prompt=ids, max_tokens=0, echo=True)
    assert [c.text for c in echo.choices] == prompts
    stream = client.completions.create(model=SERVED_MODEL, prompt=prompts, max_tokens=2, temperature=0,
                                       stream=True, stream_options={"include_usage": True})
    texts = {0: "", 1: ""}
    usage = None
    for chunk in stream:
        for c in chunk.choices:
            texts[c.index] += c.text
        usage = chunk.usage or usage
    assert texts == {0: singles[0].choices[0].text, 1: singles[1].choices[0].text}
    assert usage.prompt_tokens == r.usage.prompt_tokens
