"""Bad requests get vLLM's status codes, error shape and messages, and the server keeps answering."""

import json
import socket
import time

import openai
import pytest

from conftest import MAX_MODEL_LEN, SERVED_MODEL, error_of

MESSAGES = [{"role": "user", "content": "Hi"}]




def assert_still_serving(client):
    r = client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=2, temperature=0)
    assert r.choices[0].message.content is not None


def test_malformed_json_is_400(raw, client):
    r = raw.post("/v1/chat/completions", content=b'{"messages": [', headers={"content-type": "application/json"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == "BadRequestError" and err["code"] == 400
    r = raw.post("/v1/completions", content=b"not json at all")
    assert r.status_code == 400
    assert_still_serving(client)


@pytest.mark.parametrize("body,param,fragment", [
    ({"model": SERVED_MODEL}, "messages", "messages"),
    ({"model": SERVED_MODEL, "messages": MESSAGES, "max_tokens": -1}, "max_tokens", "at least 1"),
    ({"model": SERVED_MODEL, "messages": MESSAGES, "temperature": "hot"}, "temperature", "number"),
    ({"model": SERVED_MODEL, "messages": MESSAGES, "top_p": 0}, "top_p", "top_p"),
    ({"model": SERVED_MODEL, "messages": MESSAGES, "kv_transfer_params": {"a": 1}}, "kv_transfer_params",
     "not supported"),
    ({"model": SERVED_MODEL, "messages": MESSAGES, "tools": []}, "tools", "must not be an empty array"),
    # vLLM without --enable-auto-tool-choice: tools promote tool_choice to "auto", which it refuses.
    ({"model": SERVED_MODEL, "messages": MESSAGES, "tools": [{"type": "function", "function": {"name": "f"}}]},
     None, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'),
    ({"model": SERVED_MODEL, "messages": MESSAGES, "stream_options": {"include_usage": True}}, "stream_options",
     "stream=True"),
])
def test_bad_chat_fields_are_400(client, body, param, fragment):
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/chat/completions", cast_to=object, body=body)
    err = error_of(info.value)
    assert err["param"] == param
    assert fragment in err["message"]
    assert_still_serving(client)


def test_bad_completion_fields_are_400(client):
    for body, param in [({"model": SERVED_MODEL}, "prompt"),
                        ({"model": SERVED_MODEL, "prompt": "x", "suffix": "y"}, "suffix"),
                        ({"model": SERVED_MODEL, "prompt": [10 ** 9]}, "prompt")]:
        with pytest.raises(openai.BadRequestError) as info:
            client.post("/completions", cast_to=object, body=body)
        assert error_of(info.value)["param"] == param, body


def test_prompt_longer_than_context_is_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model=SERVED_MODEL, prompt="hello " * (MAX_MODEL_LEN + 100), max_tokens=4)
    err = error_of(info.value)
    assert err["param"] == "input_tokens"
    assert f"maximum context length is {MAX_MODEL_LEN} tokens" in err["message"]
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=MAX_MODEL_LEN)
    err = error_of(info.value)
    assert err["param"] == "max_tokens"
    assert "'max_tokens' or 'max_completion_tokens' is too large" in err["message"]
    assert_still_serving(client)


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES, max_tokens=2)
    err = error_of(info.value)
    assert err["message"] == "The model `no-such-model` does not exist."
    assert err["param"] == "model" and err["type"] == "NotFoundError"
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="no-such-model", prompt="x", max_tokens=2)
    assert_still_serving(client)


def test_unknown_route_and_wrong_method(raw):
    r = raw.get("/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == 404
    r = raw.delete("/v1/models")
    assert r.status_code == 405 and r.json()["error"]["code"] == 405
    r = raw.get("/v1/chat/completions")
    assert r.status_code == 405


def test_error_quoting_invalid_utf8_is_still_json(server):
    # The 404 quotes the path, which is bytes: they reach the body as U+FFFD, never as invalid UTF-8.
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(b"GET /v1/x\xff\xfe\xc3( HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404"), answer
    err = json.loads(body.decode("utf-8"))["error"]
    assert err["code"] == 404 and err["message"] == "Route GET /v1/x\ufffd\ufffd\ufffd( not found", err
    # The access log escapes those bytes as nginx does: the log stays UTF-8 (other tests read it as text).
    deadline = time.monotonic() + 10
    while '"GET /v1/x\\xFF\\xFE\\xC3( HTTP/1.1" 404' not in open(server.log_path, encoding="utf-8").read():
        assert time.monotonic() < deadline, open(server.log_path, "rb").read()[-2000:]
        time.sleep(0.05)


def test_errors_and_generations_alternate_on_one_connection(raw):
    # Keep-alive with a 400 before each generation: once hung when the disconnect watcher saw a stale
    # readiness report on a multi-threaded server.
    bad = {"model": SERVED_MODEL, "messages": MESSAGES, "max_tokens": -1}
    good = {"model": SERVED_MODEL, "messages": MESSAGES, "max_tokens": 1, "temperature": 0}
    for _ in range(25):
        assert raw.post("/v1/chat/completions", json=bad, timeout=20).status_code == 400
        assert raw.post("/v1/chat/completions", json=good, timeout=20).status_code == 200
