"""Sampled structured outputs at temperature 1: for each of 32 JSON schemas, 100 samples (one request, n=100),
every one must validate with `jsonschema`; regex samples must `re.fullmatch`; choice samples must be one of the
choices. The tiny random model (tests/data/tiny-llama.gguf) makes the walks wide and the run fast; whitespace
between JSON tokens is off (--structured-outputs-config) and every schema is bounded, so every sample ends
within max_tokens. Seeds make the run repeatable.

xgrammar 0.2.8 (so vLLM) lets a string with minLength/maxLength hold raw control characters other than CR and LF,
which strict JSON forbids; podserve's grammar is xgrammar's, so samples are parsed with json.loads(strict=False)
before validation (src/structured/README.md)."""

import json
import os
import re

import jsonschema
import pytest
from conftest import start_server

S = {"type": "string", "maxLength": 6}
SCHEMAS = [
    {"type": "boolean"}, {"type": "null"}, {"enum": ["a", "b", 1, None]}, {"const": "fixed"},
    {"type": "integer", "minimum": -50, "maximum": 50}, {"type": "integer", "minimum": 1000, "maximum": 1010},
    {"type": "number", "minimum": 0, "maximum": 1}, {"type": "number", "minimum": -2.5, "maximum": 2.5},
    S, {"type": "string", "minLength": 2, "maxLength": 4}, {"type": "string", "pattern": "^[a-c]{2,3}$"},
    {"type": "string", "format": "date"}, {"type": "string", "format": "uuid"}, {"type": "string", "format": "ipv4"},
    {"type": "string", "format": "time"},
    {"type": "array", "items": {"type": "boolean"}, "maxItems": 3},
    {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}, "minItems": 1, "maxItems": 4},
    {"type": "array", "prefixItems": [S, {"type": "integer", "minimum": 0, "maximum": 5}], "items": False},
    {"type": "object", "properties": {"a": S}, "required": ["a"]},
    {"type": "object", "properties": {"a": S, "b": {"type": "boolean"}}, "required": ["b"]},
    {"type": "object", "properties": {"x": {"type": "integer", "minimum": 0, "maximum": 3},
                                      "y": {"type": "integer", "minimum": 0, "maximum": 3}},
     "required": ["x", "y"], "additionalProperties": False},
    {"type": "object", "properties": {"kind": {"enum": ["circle", "square"]},
                                      "size": {"type": "number", "minimum": 0, "maximum": 10}},
     "required": ["kind", "size"]},
    {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 9}, S]},
    {"oneOf": [{"type": "object", "properties": {"t": {"const": "a"}}, "required": ["t"]},
               {"type": "object", "properties": {"t": {"const": "b"}, "v": {"type": "boolean"}}, "required": ["t", "v"]}]},
    {"type": ["integer", "null"], "minimum": 0, "maximum": 99},
    {"type": "object", "properties": {"tags": {"type": "array", "items": {"enum": ["x", "y", "z"]}, "maxItems": 3}},
     "required": ["tags"]},
    {"type": "object", "properties": {"inner": {"type": "object", "properties": {"v": {"type": "boolean"}},
                                                "required": ["v"]}}, "required": ["inner"]},
    {"$defs": {"p": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 9}},
                     "required": ["n"]}},
     "type": "object", "properties": {"first": {"$ref": "#/$defs/p"}, "second": {"$ref": "#/$defs/p"}},
     "required": ["first", "second"]},
    {"type": "object", "properties": {"name": S, "age": {"type": "integer", "minimum": 0, "maximum": 120},
                                      "born": {"type": "string", "format": "date"}},
     "required": ["name", "age"]},
    {"type": "object", "properties": {"q": {"type": "string", "pattern": "^[0-9]{3}$"}}, "required": ["q"]},
    {"type": "object", "properties": {}, "additionalProperties": False},
    {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1, "maximum": 9},
                                      "ok": {"type": "boolean"}, "note": {"type": ["string", "null"], "maxLength": 4}},
     "required": ["id", "ok", "note"]},
]
REGEXES = [r"[a-f]{3}-\d{2}", r"(yes|no|maybe)!?", r"\d{1,3}(\.\d{1,2})?", r"[A-Z][a-z]{0,5} [A-Z]\."]
CHOICES = [["alpha", "beta", "gamma"], ["0", "00", "000"], ["é", "e", "ē"]]
SAMPLES = 100


@pytest.fixture(scope="module")
def tiny(request):
    os.environ.setdefault("PODSERVE_TEST_DATA", "")
    model = os.path.join(os.environ["PODSERVE_TEST_DATA"], "tiny-llama.gguf")
    srv = start_server(["--model", model, "--max-model-len", "512",
                        "--structured-outputs-config", '{"disable_any_whitespace": true}'])
    yield srv
    srv.stop()


def samples(client, extra, seed, max_tokens=300):
    r = client.completions.create(model="podserve-test-model", prompt="Output:", n=SAMPLES, temperature=1,
                                  seed=seed, max_tokens=max_tokens, extra_body=extra)
    assert len(r.choices) == SAMPLES
    return r.choices


def test_case_counts():
    assert len(SCHEMAS) >= 30


@pytest.mark.parametrize("index", range(len(SCHEMAS)))
def test_json_schema_samples_validate(tiny, index):
    schema = SCHEMAS[index]
    for c in samples(tiny.client(), {"structured_outputs": {"json": schema}}, seed=index):
        assert c.finish_reason == "stop", (schema, c.text)
        jsonschema.validate(json.loads(c.text, strict=False), schema)


@pytest.mark.parametrize("index", range(len(REGEXES)))
def test_regex_samples_fullmatch(tiny, index):
    for c in samples(tiny.client(), {"structured_outputs": {"regex": REGEXES[index]}}, seed=100 + index):
        assert c.finish_reason == "stop" and re.fullmatch(REGEXES[index], c.text), c.text


@pytest.mark.parametrize("index", range(len(CHOICES)))
def test_choice_samples_are_choices(tiny, index):
    texts = {c.text for c in samples(tiny.client(), {"structured_outputs": {"choice": CHOICES[index]}},
                                     seed=200 + index, max_tokens=10)}
    assert texts <= set(CHOICES[index]), texts
