"""Structured outputs end to end, with the official `openai` client (structured-tools.md §1): response_format
json_schema / json_object, structured_outputs {json, regex, choice, grammar}, the older guided_* fields, chat and
completions, streamed and not, n > 1; vLLM's 400s for bad schemas, regexes and grammars, and its streaming timing
(a 200, then one error event and [DONE]); an abort in the middle of a constrained stream frees the KV cache and the
grammar state (/metrics). Outputs are checked with `jsonschema`, `re.fullmatch` and the choice list."""

import json
import re
import time

import httpx
import jsonschema
import openai
import pytest
from conftest import SERVED_MODEL, error_of

PERSON = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 120},
                                           "pets": {"type": "array", "items": {"enum": ["cat", "dog"]}, "maxItems": 2}},
          "required": ["name", "age"]}
MESSAGES = [{"role": "user", "content": "Describe a person as JSON."}]


def metrics(server) -> dict:
    out = {}
    for line in httpx.get(server.url + "/metrics", timeout=30).text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name.split("{")[0]] = out.get(name.split("{")[0], 0.0) + float(value)
    return out


def test_json_schema_answers_parse_and_validate(client):
    r = client.chat.completions.create(
        model=SERVED_MODEL, messages=MESSAGES, max_tokens=200, n=2, temperature=1, seed=3,
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}})
    for choice in r.choices:
        assert choice.finish_reason == "stop", choice
        jsonschema.validate(json.loads(choice.message.content), PERSON)


def test_json_schema_streamed(client):
    stream = client.chat.completions.create(
        model=SERVED_MODEL, messages=MESSAGES, max_tokens=200, stream=True, temperature=0.8, seed=1,
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}})
    text, finish = "", None
    for chunk in stream:
        for c in chunk.choices:
            text += c.delta.content or ""
            finish = c.finish_reason or finish
    assert finish == "stop"
    jsonschema.validate(json.loads(text), PERSON)


def test_json_object_and_legacy_guided_json(client):
    r = client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=300, temperature=0,
                                       response_format={"type": "json_object"})
    if r.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(r.choices[0].message.content), dict)
    else:
        assert r.choices[0].message.content.lstrip().startswith("{")
    r = client.completions.create(model=SERVED_MODEL, prompt="A person:", max_tokens=200, temperature=1, seed=5,
                                  extra_body={"guided_json": PERSON})
    assert r.choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(r.choices[0].text), PERSON)


def test_regex_choice_grammar(client):
    r = client.completions.create(model=SERVED_MODEL, prompt="Phone:", max_tokens=20, temperature=1, seed=2, n=3,
                                  extra_body={"structured_outputs": {"regex": r"\(\d{3}\) \d{3}-\d{4}"}})
    for c in r.choices:
        assert re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", c.text), c.text
    r = client.chat.completions.create(model=SERVED_MODEL, messages=[{"role": "user", "content": "Is the sky blue?"}],
                                       max_tokens=5, temperature=1, n=4,
                                       extra_body={"structured_outputs": {"choice": ["yes", "no"]}})
    assert {c.message.content for c in r.choices} <= {"yes", "no"}
    r = client.completions.create(model=SERVED_MODEL, prompt="Sum:", max_tokens=30, temperature=1, seed=9,
                                  extra_body={"guided_grammar": 'root ::= num " + " num " = " num\nnum ::= [1-9] [0-9]?'})
    assert re.fullmatch(r"[1-9][0-9]? \+ [1-9][0-9]? = [1-9][0-9]?", r.choices[0].text), r.choices[0].text


def test_structural_tag_answers(client):
    # xgrammar's structural tags (response_format and structured_outputs): a tag around a JSON Schema, then a
    # separated list of tags.
    tag = {"type": "structural_tag", "format": {"type": "sequence", "elements": [
        {"type": "tag", "begin": "<person>", "content": {"type": "json_schema", "json_schema": PERSON}, "end": "</person>"},
        {"type": "tags_with_separator", "separator": ",", "at_least_one": True, "tags": [
            {"type": "tag", "begin": "<n>", "content": {"type": "regex", "pattern": "[0-9]{1,3}"}, "end": "</n>"}]}]}}
    r = client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=200, n=2, temperature=1,
                                       seed=5, response_format=tag)
    for choice in r.choices:
        assert choice.finish_reason == "stop", choice
        m = re.fullmatch(r"<person>(.*)</person>(<n>[0-9]{1,3}</n>)(,<n>[0-9]{1,3}</n>)*", choice.message.content, re.S)
        assert m, choice.message.content
        jsonschema.validate(json.loads(m.group(1)), PERSON)
    r = client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=100, temperature=1, seed=6,
                                       extra_body={"structured_outputs": {"structural_tag": json.dumps(tag)}})
    assert re.fullmatch(r"<person>.*</person><n>.*", r.choices[0].message.content, re.S)


@pytest.mark.parametrize("extra,message", [
    ({"structured_outputs": {"grammar": "root ::= [a"}}, "Invalid grammar specification."),
    ({"structured_outputs": {"regex": "(a"}}, "Failed to transform regex into a grammar: "),
    ({"structured_outputs": {"json": {"type": "object", "properties": {"a": {"type": "integer", "multipleOf": 2}}}}},
     "The provided JSON schema contains features not supported by xgrammar."),
    ({"structured_outputs": {"choice": []}}, "Choice '[]' cannot be an empty list"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nope"}}}},
     "Failed to transform json schema into a grammar: "),
])
def test_bad_constraints_are_vllm_400s(client, raw, extra, message):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=5, extra_body=extra)
    assert error_of(info.value)["message"].startswith(message), error_of(info.value)
    # Streaming: vLLM has sent its 200 by the time the engine rejects the constraint: one error event, [DONE].
    body = {"model": SERVED_MODEL, "messages": MESSAGES, "max_tokens": 5, "stream": True, **extra}
    r = raw.post("/v1/chat/completions", json=body)
    assert r.status_code == 200
    events = [line[len("data: "):] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and len(events) == 2, events
    error = json.loads(events[0])["error"]
    assert error["code"] == 400 and error["message"].startswith(message)


# vLLM 0.32 checks structural tags while it parses the request (validate_structural_tag_payload): a 400 naming the
# field, before any answer starts, streamed or not, chat or completions.
@pytest.mark.parametrize("extra,message", [
    ({"structured_outputs": {"structural_tag": json.dumps({"type": "structural_tag", "format": {"type": "nope"}})}},
     "Invalid structured_outputs structural_tag specification. (parameter=structured_outputs)"),
    ({"structured_outputs": {"structural_tag": " "}},
     "Invalid structured_outputs structural_tag specification. (parameter=structured_outputs)"),
    ({"response_format": {"type": "structural_tag", "format": {"type": "sequence", "elements": []}}},
     "Invalid response_format structural_tag specification. (parameter=response_format)"),
])
def test_bad_structural_tags_are_request_stage_400s(raw, extra, message):
    for route, body in [("/v1/chat/completions", {"messages": MESSAGES}), ("/v1/completions", {"prompt": "Hi"})]:
        for stream in (False, True):
            r = raw.post(route, json={"model": SERVED_MODEL, "max_tokens": 5, "stream": stream, **body, **extra})
            assert r.status_code == 400, (route, stream, r.text)
            error = r.json()["error"]
            assert error["message"] == message and error["param"] == message.split("parameter=")[1][:-1], error


def test_request_stage_errors_are_plain_400s(raw):
    body = {"model": SERVED_MODEL, "messages": MESSAGES, "stream": True,
            "structured_outputs": {"json": {"type": "object"}, "regex": "a"}}
    r = raw.post("/v1/chat/completions", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == \
        "You can only use one kind of constraints for structured outputs ('json', 'regex' or 'choice')."


def test_abort_mid_constrained_stream_frees_everything(server):
    body = {"model": SERVED_MODEL, "prompt": "Words:", "max_tokens": 1500, "stream": True, "temperature": 1,
            "ignore_eos": True, "structured_outputs": {"grammar": "root ::= [a-z ]+"}}
    with httpx.Client(base_url=server.url, timeout=60) as c:
        with c.stream("POST", "/v1/completions", json=body) as r:
            assert r.status_code == 200
            seen = 0
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    seen += 1
                    if seen == 5:
                        m = metrics(server)
                        assert m["podserve:structured_output_matchers"] == 1
                        break  # closing the stream aborts the request
    deadline = time.monotonic() + 30
    while True:
        m = metrics(server)
        if m["vllm:num_requests_running"] == 0 and m["podserve:structured_output_matchers"] == 0:
            break
        assert time.monotonic() < deadline, m
        time.sleep(0.1)
    assert m["vllm:kv_cache_usage_perc"] == 0
    assert m["vllm:request_success_total"] >= 0
