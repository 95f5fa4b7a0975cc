"""src/structured/json_schema.cpp against xgrammar 0.2.8's own converter (Grammar.from_json_schema).

For each schema, podserve's EBNF is compiled by xgrammar (Grammar.from_ebnf) and must accept the same
strings as the grammar xgrammar builds from the schema, under vLLM's two settings (any whitespace; and
disable_any_whitespace: no whitespace, separators (",", ":")): hand-written valid instances (checked with
jsonschema, so the cases are right), the same instances re-spaced and mutated (every prefix live in both or
neither), and random walks of each grammar's language accepted by the other."""

import json
import random

import jsonschema
import pytest

from xgr import assert_same_language, compile_grammar, live_prefix, mutations, xgr

MODES = {
    "any_whitespace": {"options": {}, "xgr": {"any_whitespace": True}},
    "compact": {"options": {"any_whitespace": False, "separators": [",", ":"]},
                "xgr": {"any_whitespace": False, "separators": (",", ":")}},
}
# xgrammar's other layouts (vLLM never asks for them): default separators (", ", ": ") and indent 2,
# compared on a few cases.
OTHER_MODES = {
    "spaced": {"options": {"any_whitespace": False}, "xgr": {"any_whitespace": False}},
    "indent": {"options": {"any_whitespace": False, "indent": 2}, "xgr": {"any_whitespace": False, "indent": 2}},
}
OTHER_MODE_CASES = {"nested_order", "prefix_items", "pattern_properties", "bare_object", "min_max_properties",
                    "recursive_tree"}

WEATHER = {"type": "object", "properties": {
    "location": {"type": "string", "description": "City and country"},
    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location"]}

# (name, schema, valid instances)
CASES = [
    ("weather_tool", WEATHER, [{"location": "Paris, FR"}, {"location": "Tokyo", "unit": "celsius"}]),
    ("search_tool", {"type": "object", "properties": {
        "query": {"type": "string"}, "max_results": {"type": "integer", "minimum": 1, "maximum": 50},
        "safe": {"type": "boolean"}}, "required": ["query", "max_results"], "additionalProperties": False},
     [{"query": "llm", "max_results": 10}, {"query": "", "max_results": 50, "safe": True}]),
    ("calendar_event", {"type": "object", "properties": {
        "title": {"type": "string"}, "start": {"type": "string", "format": "date-time"},
        "attendees": {"type": "array", "items": {"type": "string", "format": "email"}},
        "duration_minutes": {"type": "integer", "minimum": 5, "maximum": 480}},
        "required": ["title", "start"]},
     [{"title": "Sync", "start": "2024-05-01T10:00:00Z", "attendees": ["a@b.co", "x.y@mail.example.org"]},
      {"title": "1:1", "start": "2024-12-31T23:59:60.5+01:00", "duration_minutes": 30}]),
    ("nested_order", {"type": "object", "properties": {
        "customer": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                     "required": ["id"]},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}, "required": ["sku", "qty"]},
            "minItems": 1},
        "note": {"type": ["string", "null"]}}, "required": ["customer", "items"]},
     [{"customer": {"id": 7}, "items": [{"sku": "A-1", "qty": 2}]},
      {"customer": {"id": -3, "name": "Bo"}, "items": [{"sku": "x", "qty": 1}, {"sku": "y", "qty": 99}], "note": None}]),
    ("enum_mixed", {"enum": ["red", 1, None, True, 2.5, {"k": [1, "v"]}, "q\"\\\né"]},
     ["red", 1, None, True, 2.5, {"k": [1, "v"]}, "q\"\\\né"]),
    ("const_object", {"const": {"a": 1, "b": [True, None]}}, [{"a": 1, "b": [True, None]}]),
    ("anyof", {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 3}, {"type": "null"}]}, [5, "abc", None]),
    ("oneof", {"oneOf": [{"type": "object", "properties": {"cat": {"const": "meow"}}, "required": ["cat"]},
                         {"type": "object", "properties": {"dog": {"const": "woof"}}, "required": ["dog"]}]},
     [{"cat": "meow"}, {"dog": "woof"}]),
    ("allof_one", {"allOf": [{"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}]},
     [{"x": 1.5}, {"x": -2e10}]),
    ("type_array", {"type": ["integer", "boolean", "null"]}, [1, True, None, -40]),
    ("defs_ref", {"$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                                      "required": ["x", "y"]}},
                  "type": "object", "properties": {"a": {"$ref": "#/$defs/point"}, "b": {"$ref": "#/$defs/point"}},
                  "required": ["a"]},
     [{"a": {"x": 1, "y": 2}}, {"a": {"x": 0.5, "y": -1}, "b": {"x": 3, "y": 4e2}}]),
    ("definitions_ref", {"definitions": {"tag": {"type": "string", "enum": ["a", "b"]}},
                         "type": "array", "items": {"$ref": "#/definitions/tag"}}, [["a", "b", "a"], []]),
    ("recursive_tree", {"$defs": {"node": {"type": "object", "properties": {
        "value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
        "required": ["value"]}}, "$ref": "#/$defs/node"},
     [{"value": 1}, {"value": 1, "children": [{"value": 2, "children": []}, {"value": 3}]}]),
    ("recursive_root", {"type": "object", "properties": {"name": {"type": "string"},
                                                         "next": {"$ref": "#"}}, "required": ["name"]},
     [{"name": "a"}, {"name": "a", "next": {"name": "b", "next": {"name": "c"}}}]),
    ("additional_schema", {"type": "object", "properties": {"id": {"type": "integer"}},
                           "additionalProperties": {"type": "string"}},
     [{"id": 1, "x": "y"}, {"other": "v"}, {}]),
    ("additional_true", {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"],
                         "additionalProperties": True}, [{"id": 1}, {"id": 1, "idx": [1, {"a": None}]}]),
    ("unevaluated_props", {"type": "object", "unevaluatedProperties": {"type": "integer"}}, [{}, {"a": 1, "b": 2}]),
    ("bare_object", {"type": "object"}, [{}, {"a": [1, 2, {"b": None}], "c": "d"}]),
    ("empty_properties", {"type": "object", "properties": {}}, [{}]),
    ("bare_array", {"type": "array"}, [[], [1, "a", [None]]]),
    ("any_value", {}, [1, "s", [True], {"a": {}}]),
    ("min_max_properties", {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"},
                                                             "c": {"type": "integer"}},
                            "minProperties": 1, "maxProperties": 2},
     [{"a": 1}, {"b": 2, "c": 3}, {"a": 1, "c": 3}]),
    ("min_properties_additional", {"type": "object", "properties": {"a": {"type": "integer"}},
                                   "additionalProperties": {"type": "boolean"}, "minProperties": 2, "maxProperties": 3},
     [{"a": 1, "b": True}, {"x": False, "y": True, "z": False}]),
    ("pattern_properties", {"type": "object", "patternProperties": {"^x-[a-z]+$": {"type": "integer"}},
                            "maxProperties": 3}, [{}, {"x-a": 1, "x-bc": 2}]),
    ("property_names", {"type": "object", "propertyNames": {"pattern": "^[a-z]{1,8}$"},
                        "additionalProperties": {"type": "number"}}, [{}, {"abc": 1.5, "z": 0}]),
    ("property_names_enum", {"type": "object", "propertyNames": {"enum": ["k1", "k2"]}, "minProperties": 1},
     [{"k1": 1}, {"k2": None, "k1": "x"}]),
    ("items_bounds", {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4},
     [[1, 2], [1, 2, 3, 4]]),
    ("prefix_items", {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}],
                      "items": {"type": "boolean"}, "maxItems": 4}, [[], ["a"], ["a", 1, True, False]]),
    ("prefix_items_closed", {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "integer"}],
                             "minItems": 2, "items": False}, [[1, 2]]),
    ("unevaluated_items", {"type": "array", "prefixItems": [{"type": "integer"}],
                           "unevaluatedItems": {"type": "null"}}, [[1, None, None], []]),
    ("int_range", {"type": "integer", "minimum": -15, "maximum": 123}, [-15, 0, 9, 10, 99, 123]),
    ("int_min_only", {"type": "integer", "minimum": 7}, [7, 10, 12345678]),
    ("int_exclusive", {"type": "integer", "exclusiveMinimum": -100, "exclusiveMaximum": 100}, [-99, 0, 99]),
    ("int_negative", {"type": "integer", "minimum": -1000, "maximum": -10}, [-1000, -500, -10]),
    ("int_max_only", {"type": "integer", "maximum": 42}, [-7, 0, 42]),
    ("number_range", {"type": "number", "minimum": -1.5, "maximum": 2.25}, [-1.5, 0, 2.25, 1.125, -0.000001]),
    ("number_exclusive", {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, [0.5, 0.000001, 0.999999]),
    ("number_min_only", {"type": "number", "minimum": 3}, [3, 3.5, 1000.25]),
    ("number_max_only", {"type": "number", "maximum": -0.5}, [-0.5, -10, -1.75]),
    ("string_lengths", {"type": "string", "minLength": 2, "maxLength": 5}, ["ab", "abcde", "é中x"]),
    ("string_min_only", {"type": "string", "minLength": 3}, ["abc", "abcdefgh"]),
    ("pattern_phone", {"type": "string", "pattern": "^\\+?[0-9]{1,3}-[0-9]{3}-[0-9]{4}$"}, ["+1-555-1234", "44-123-4567"]),
    ("pattern_slug", {"type": "string", "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$"}, ["my-slug-2", "a"]),
    ("pattern_classes", {"type": "string", "pattern": "\\w+\\s\\d{2}\\.?[^x]"}, ["ab 12.y", "_ 00z"]),
    ("format_date_time", {"type": "object", "properties": {"d": {"type": "string", "format": "date"},
                                                           "t": {"type": "string", "format": "time"}}},
     [{"d": "2024-02-29", "t": "12:30:00Z"}, {"t": "23:59:59.123-05:30"}]),
    ("format_uuid_ipv4", {"type": "array", "prefixItems": [{"type": "string", "format": "uuid"},
                                                           {"type": "string", "format": "ipv4"}]},
     [["123e4567-e89b-12d3-a456-426614174000", "192.168.0.1"], ["00000000-0000-0000-0000-000000000000", "255.255.255.255"]]),
    ("format_ipv6", {"type": "string", "format": "ipv6"}, ["::1", "2001:db8::ff00:42:8329", "::ffff:192.0.2.128", "1:2:3:4:5:6:7:8"]),
    ("format_hostname", {"type": "string", "format": "hostname"}, ["example.com", "a-b.c0"]),
    ("format_uri", {"type": "string", "format": "uri"}, ["https://example.com/a/b?x=1#frag", "mailto:a@b.c", "urn:isbn:0451450523"]),
    ("format_uri_reference", {"type": "string", "format": "uri-reference"}, ["../a/b?q", "//host/p", "#f", ""]),
    ("format_uri_template", {"type": "string", "format": "uri-template"}, ["http://x/{id}", "/s{?q,lang}", "{+path:3}/x{.a*}"]),
    ("format_duration", {"type": "string", "format": "duration"}, ["P1Y2M3DT4H5M6S", "PT1M", "P3W", "P1D"]),
    ("format_json_pointer", {"type": "object", "properties": {"p": {"type": "string", "format": "json-pointer"},
                                                              "r": {"type": "string", "format": "relative-json-pointer"}}},
     [{"p": "/a~1b/0", "r": "1/x"}, {"p": "", "r": "0#"}]),
    ("format_email", {"type": "string", "format": "email"}, ["user.name+tag@example.co.uk", "x@y"]),
    ("escaped_keys", {"type": "object", "properties": {"a\"b": {"type": "integer"}, "c\\d\n": {"type": "integer"},
                                                       "é中": {"type": "string"}}, "required": ["é中"]},
     [{"a\"b": 1, "c\\d\n": 2, "é中": "x"}, {"é中": ""}]),
    ("unicode_key_prefixes", {"type": "object", "properties": {"ab": {"type": "integer"}, "abc": {"type": "integer"}},
                              "additionalProperties": {"type": "null"}}, [{"ab": 1, "a": None}, {"abcd": None}]),
    ("non_strict_extra", {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
     [{"a": 1}]),
    ("deep_nesting", {"type": "object", "properties": {"l1": {"type": "object", "properties": {"l2": {
        "type": "array", "items": {"type": "object", "properties": {"l3": {"type": "array", "items": {
            "type": "integer", "minimum": 0, "maximum": 9}}}, "required": ["l3"]}}}, "required": ["l2"]}},
        "required": ["l1"]},
     [{"l1": {"l2": [{"l3": [0, 9]}, {"l3": []}]}}]),
    ("ignored_keywords", {"type": "object", "properties": {"n": {"type": "integer", "not": {"const": 3}}},
                          "if": {"required": ["n"]}, "then": {}, "dependentRequired": {"n": []}}, [{"n": 4}, {}]),
    ("title_description_only", {"title": "T", "description": "D", "type": "string"}, ["x", ""]),
]


def _texts(instances, mode, rng):
    texts = []
    for inst in instances:
        compact = json.dumps(inst, ensure_ascii=False, separators=(",", ":"))
        texts += [compact, json.dumps(inst, ensure_ascii=False), json.dumps(inst, indent=2, ensure_ascii=False),
                  json.dumps(inst), json.dumps(inst, ensure_ascii=False, separators=(",", ":"))]
        texts += mutations(compact, rng, 25, '"\\,:{}[]0-1.eE aZ\n\t')
    texts += ["", "null", "{}", "[]", '""', "0", "-0", "1e5", "{\"\":0}"]
    return texts


ALL_MODES = {**MODES, **OTHER_MODES}


@pytest.mark.parametrize("name,schema,instances,mode",
                         [c + (m,) for c in CASES for m in MODES] +
                         [c + (m,) for c in CASES if c[0] in OTHER_MODE_CASES for m in OTHER_MODES],
                         ids=[f"{m}-{c[0]}" for c in CASES for m in MODES] +
                         [f"{m}-{c[0]}" for c in CASES if c[0] in OTHER_MODE_CASES for m in OTHER_MODES])
def test_same_language_as_xgrammar(driver, name, schema, instances, mode):
    for inst in instances:  # the cases themselves are right
        jsonschema.validate(inst, schema, format_checker=None)
    options = dict(ALL_MODES[mode]["options"])
    strict = name != "non_strict_extra"
    if not strict:
        options["strict_mode"] = False
    ours = driver.schema(schema, **options)
    assert "ebnf" in ours, ours
    theirs = xgr.Grammar.from_json_schema(json.dumps(schema), strict_mode=strict, **ALL_MODES[mode]["xgr"])
    rng = random.Random(name)
    assert_same_language(compile_grammar(xgr.Grammar.from_ebnf(ours["ebnf"])), compile_grammar(theirs),
                         _texts(instances, mode, rng), rng_seed=hash(name) % 1000, label=f"{name}/{mode}")


def test_additional_key_equal_to_declared_name_quirk(driver):
    """xgrammar 0.2.8 builds the "any key but the declared ones" grammar from the declared names' UTF-8 bytes
    taken as code points, so a declared non-ASCII name stays usable as an additional key (with the additional
    properties' schema): {"é": 2} below, which JSON Schema rejects ("é" must be a string). podserve excludes
    the declared names exactly."""
    schema = {"type": "object", "properties": {"é": {"type": "string"}}, "additionalProperties": {"type": "integer"}}
    text = '{"é":2}'
    assert not jsonschema.Draft202012Validator(schema).is_valid(json.loads(text))
    theirs = compile_grammar(xgr.Grammar.from_json_schema(json.dumps(schema)))
    ours = compile_grammar(xgr.Grammar.from_ebnf(driver.schema(schema)["ebnf"]))
    assert live_prefix(theirs, text) == (len(text), True)
    assert live_prefix(ours, text)[1] is False
    for ok in ['{"é":"x"}', '{"éa":2}', '{"e":2,"f":3}']:
        assert live_prefix(ours, ok) == (len(ok), True) == live_prefix(theirs, ok)


# Schemas xgrammar 0.2.8 refuses (Grammar.from_json_schema raises): podserve refuses them too, with vLLM's
# "Failed to transform json schema into a grammar: ..." prefix.
XGRAMMAR_ERRORS = [
    False,
    {"type": "foo"},
    {"type": "integer", "minimum": 5, "maximum": 3},
    {"type": "integer", "minimum": 1.5},
    {"type": "integer", "maximum": 1e30},
    {"type": "number", "exclusiveMinimum": 1, "maximum": 1},
    {"type": "integer", "minimum": "x"},
    {"type": "object", "minProperties": 1},
    {"type": "object", "properties": {"a": {}}, "minProperties": 2},
    {"type": "array", "items": {}, "minItems": 3, "maxItems": 2},
    {"$ref": "#/$defs/missing"},
    {"type": "string", "pattern": "(a"},
    {"type": "string", "pattern": "é(?=b)"},
    {"type": "object", "properties": {"a": {"type": "integer", "minimum": 3, "maximum": 1}}},
]


@pytest.mark.parametrize("schema", XGRAMMAR_ERRORS, ids=[json.dumps(s) for s in XGRAMMAR_ERRORS])
def test_rejected_like_xgrammar(driver, schema):
    with pytest.raises(Exception):
        xgr.testing._get_matcher_from_grammar(xgr.Grammar.from_json_schema(json.dumps(schema)))
    answer = driver.schema(schema)
    assert answer.get("error", "").startswith("Failed to transform json schema into a grammar: "), answer


def test_json_object_is_any_object(driver):
    """structured_outputs.json_object: vLLM compiles {"type": "object"} (both whitespace settings)."""
    for mode in MODES.values():
        ours = driver.call({"json_object": True, "options": mode["options"]})["ebnf"]
        theirs = xgr.Grammar.from_json_schema('{"type": "object"}', **mode["xgr"])
        texts = ['{}', '{"a": [1, {"b": null}]}', '{"a":1,"b":"c"}', '[]', '1', '{"a" 1}', '{,}']
        assert_same_language(compile_grammar(xgr.Grammar.from_ebnf(ours)), compile_grammar(theirs), texts,
                             label="json_object")
