"""Structural tags against xgrammar 0.2.8 (structured-tools.md §2.8): the SAME structural-tag JSON is compiled by
xgrammar (`GrammarCompiler.compile_structural_tag`, as vLLM's xgrammar backend does) and by podserve
(tests/structured/structured_masks, kind "structural_tag"), and walks of token ids (canonical and longest-match
tokenizations of valid and invalid outputs, random walks over xgrammar's own masks) must give the same allowed
tokens before every token, reject at the same token and agree on termination. The tool-call shapes are built by
xgrammar's own builtin (`get_model_structural_tag`: llama, deepseek_r1) and by vLLM's hermes builder (copied
shape, see HERMES below). Invalid specifications must fail in both; formats podserve does not build yet must
fail with a message naming them (never compile unconstrained)."""

import json

import pytest

from test_masks_vs_xgrammar import MaskDriver, Vocab, assert_walks_match, walks_for
from xgr import xgr

C = lambda v: {"type": "const_string", "value": v}  # noqa: E731
T = lambda b, c, e: {"type": "tag", "begin": b, "content": c, "end": e}  # noqa: E731
ANY = {"type": "any_text"}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
           "required": ["city"]}
TIME = {"type": "object", "properties": {"tz": {"type": "string", "enum": ["UTC", "CET"]}}, "required": ["tz"]}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER, "strict": True}},
         {"type": "function", "function": {"name": "get_time", "parameters": TIME, "strict": True}}]


def st(fmt):
    return {"type": "structural_tag", "format": fmt}


def hermes(tools, choice):
    """vLLM's _hermes_style_structural_tag (vllm/tool_parsers/structural_tag_registry.py), strict tools."""
    tags = []
    for t in tools:
        f = t["function"]
        for begin, end in (("<tool_call>\n{\"name\": \"", "}\n</tool_call>"), ("<tool_call>{\"name\": \"", "}</tool_call>")):
            tags.append(T(begin + f["name"] + '", "arguments": ', {"type": "json_schema", "json_schema": f["parameters"]}, end))
    if choice == "auto":
        return st({"type": "triggered_tags", "triggers": ["<tool_call>"], "tags": tags})
    return st({"type": "tags_with_separator", "tags": tags, "separator": "", "at_least_one": True,
               "stop_after_first": choice == "forced"})


def builtin(model, choice, parallel=True):
    tool_choice = choice if choice != "forced" else {"type": "function", "function": {"name": "get_time"}}
    tag = xgr.get_model_structural_tag(model, tools=TOOLS, tool_choice=tool_choice, reasoning="disabled",
                                       parallel_tool_calls=parallel)
    return json.loads(tag.model_dump_json())


W = '{"city": "Paris", "days": 3}'
DS_CALL = "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{\"tz\": \"UTC\"}\n```<｜tool▁call▁end｜>"

# (name, structural tag, texts to walk: valid and invalid outputs)
CASES = [
    ("const", st(C("hello world")), ["hello world", "hello", "hello world!"]),
    ("sequence_regex_schema", st({"type": "sequence", "elements": [
        C("n="), {"type": "regex", "pattern": "[0-9]{1,3}"}, C(";"), {"type": "json_schema", "json_schema": WEATHER}]}),
     ['n=42;{"city": "x"}', "n=1234;{}", 'n=7;{"days": 1}']),
    ("or_grammar", st({"type": "or", "elements": [C("yes"), {"type": "grammar", "grammar": 'root ::= "no" r\nr ::= [a-z]*'},
                                                  {"type": "json_schema", "json_schema": True}]}),
     ["yes", "nope", '[1, {"a": null}]', "maybe"]),
    ("tag_any_text", st(T("<a>", ANY, "</a>")), ["<a>hi there</a>", "<a></a", "<a>x</a>y", "<a><</a>"]),
    ("tag_any_text_ends", st(T("<think>", ANY, ["</think>", "</t>"])), ["<think>ok</t>", "<think>a</think>", "<think></th"]),
    ("tag_seq_any_text", st(T("<a>", {"type": "sequence", "elements": [C("x"), ANY]}, "</a>")), ["<a>xyz</a>", "<a>y</a>"]),
    ("tag_or_any_text", st(T("<a>", {"type": "or", "elements": [C("x"), ANY]}, "</a>")), ["<a>x</a>", "<a>abc</a>"]),
    ("triggered", st({"type": "triggered_tags", "triggers": ["<f"], "tags": [
        T("<f1>", C("X"), "</f>"), T("<f2>", {"type": "json_schema", "json_schema": TIME}, "</f>")]}),
     ["text <f1>X</f> more <f2>{\"tz\": \"CET\"}</f> end", "<f3>", "a <f1>Y</f>", "<<f1>X</f>", "plain text"]),
    ("triggered_at_least_one", st({"type": "triggered_tags", "triggers": ["<f"], "tags": [T("<f1>", C("X"), "</f>")],
                                   "at_least_one": True}), ["<f1>X</f> then text", "text <f1>X</f>", ""]),
    ("triggered_stop_after_first", st({"type": "triggered_tags", "triggers": ["<f"], "tags": [T("<f1>", C("X"), "</f>")],
                                       "stop_after_first": True}), ["a<f1>X</f>", "a<f1>X</f>b", "none"]),
    ("triggered_exactly_one", st({"type": "triggered_tags", "triggers": ["<f"], "tags": [T("<f1>", C("X"), "</f>")],
                                  "at_least_one": True, "stop_after_first": True}), ["<f1>X</f>", "<f1>X</f><f1>X</f>"]),
    ("triggered_excludes", st({"type": "triggered_tags", "triggers": ["<f", "[["], "tags": [
        T("<f1>", ANY, "</f>"), T("[[x]", C("!"), "]]")], "excludes": ["zz", "<think>"]}),
     ["ab <f1>free zz text</f> [[x]!]] c", "a zz b", "<thin <think>", "z<f1></f>z"]),
    ("triggered_in_tag", st(T("<a>", {"type": "triggered_tags", "triggers": ["<f"], "tags": [T("<f1>", C("X"), "</f>")]}, "</a>")),
     ["<a>t <f1>X</f> u</a>", "<a>t</a>", "<a><f2</a>"]),
    ("separator", st({"type": "tags_with_separator", "separator": ",", "tags": [T("<f1>", C("X"), "</f>"), T("<g>", ANY, "</g>")]}),
     ["<f1>X</f>,<g>any</g>,<f1>X</f>", "", "<f1>X</f><f1>X</f>", "<g>a</g>,"]),
    ("separator_at_least_one", st({"type": "tags_with_separator", "separator": "\n", "tags": [T("<f1>", C("X"), "</f>")],
                                   "at_least_one": True}), ["<f1>X</f>\n<f1>X</f>", ""]),
    ("separator_stop_after_first", st({"type": "tags_with_separator", "separator": "", "tags": [T("<f1>", C("X"), "</f>")],
                                       "stop_after_first": True}), ["<f1>X</f>", "<f1>X</f><f1>X</f>", ""]),
    ("unicode_trigger", st({"type": "triggered_tags", "triggers": ["<｜tool"], "tags": [T("<｜tool｜>", C("é"), "<｜end｜>")]}),
     ["héllo <｜tool｜>é<｜end｜> ok", "<｜tol"]),
    # Free text whose trigger states share bytes (the mask cache reuses one state's split below a byte for the
    # others): triggers with a common prefix, a trigger overlapping itself, triggers sharing a UTF-8 lead byte,
    # multi-byte text around them.
    ("triggers_shared_prefix", st({"type": "triggered_tags", "triggers": ["<fa", "<fb", "aab"], "tags": [
        T("<fa>", C("X"), "</f>"), T("<fb>", ANY, "</f>"), T("aab!", C("Y"), ";")]}),
     ["x <fa>X</f> <fb>y</f> <f<fa>X</f>", "aaab!Y; aab", "<fc>", "aa<fb>é</f>"]),
    ("triggers_utf8_lead", st({"type": "triggered_tags", "triggers": ["é<", "è<"], "tags": [
        T("é<1>", C("é"), "</>"), T("è<2>", ANY, "</>")]}),
     ["café é<1>é</> très è<2>日本</> ✓", "ê< é<2>", "éè<2>x</>"]),
    ("legacy", {"type": "structural_tag", "structures": [{"begin": "<function=f>", "schema": WEATHER, "end": "</function>"}],
                "triggers": ["<function="]}, ["x <function=f>" + W + "</function> y", "<function=g>"]),
    ("hermes_required", hermes(TOOLS, "required"),
     ['<tool_call>\n{"name": "get_weather", "arguments": ' + W + '}\n</tool_call><tool_call>{"name": "get_time", '
      '"arguments": {"tz": "UTC"}}</tool_call>', 'text <tool_call>', '<tool_call>{"name": "other"']),
    ("hermes_named", hermes(TOOLS[1:], "forced"), ['<tool_call>{"name": "get_time", "arguments": {"tz": "CET"}}</tool_call>']),
    ("hermes_auto", hermes(TOOLS, "auto"), ['Sure. <tool_call>{"name": "get_time", "arguments": {"tz": "UTC"}}</tool_call>']),
    ("llama_required", builtin("llama", "required"),
     ['{"name": "get_weather", "parameters": ' + W + '} and then', 'hi {"name": "get_time"']),
    ("llama_named", builtin("llama", "forced"), ['{"name": "get_time", "parameters": {"tz": "UTC"}}']),
    ("llama_auto_single", builtin("llama", "auto", parallel=False), ['x {"name": "get_time", "parameters": {"tz": "UTC"}}']),
    ("deepseek_required", builtin("deepseek_r1", "required"),
     ["<｜tool▁calls▁begin｜>" + DS_CALL + "\n" + DS_CALL + "<｜tool▁calls▁end｜>", "<｜tool▁calls▁begin｜><｜tool▁calls▁end｜>"]),
    ("deepseek_named", builtin("deepseek_r1", "forced"), ["<｜tool▁calls▁begin｜>" + DS_CALL + "<｜tool▁calls▁end｜>"]),
]

PARAMS = [(v, c) for v in ("smollm2", "qwen3") for c in CASES]


@pytest.fixture(scope="module")
def masks():
    d = MaskDriver()
    yield d
    d.close()


_VOCABS = {}  # this module's own: a vocabulary lives in the driver process that loaded it


def vocab(name, driver):
    if name not in _VOCABS:
        _VOCABS[name] = Vocab(name, driver)
    return _VOCABS[name]


@pytest.mark.parametrize("vocab_name,case", PARAMS, ids=[f"{v}-{c[0]}" for v, c in PARAMS])
def test_structural_tag_masks(masks, vocab_name, case):
    label, tag, texts = case
    v = vocab(vocab_name, masks)
    spec = json.dumps(tag)
    if "structures" in tag:  # vLLM's xgrammar backend: the deprecated StructuralTagItem path
        items = [xgr.StructuralTagItem(begin=s["begin"], schema=json.dumps(s["schema"]), end=s["end"])
                 for s in tag["structures"]]
        compiled = v.compiler.compile_structural_tag(items, tag["triggers"])
    else:
        compiled = v.compiler.compile_structural_tag(spec)
    walks = walks_for(compiled, v, texts, seed=len(label)) + walks_for(compiled, v, [], seed=1 + len(label))
    ours = masks.call({"vocab": v.name, "kind": "structural_tag", "spec": spec, "walks": walks})
    assert "error" not in ours, f"{label}: {ours['error']}"
    assert_walks_match(compiled, v, walks, ours["walks"], label)


INVALID = [
    st({"type": "nope"}),
    st({"type": "const_string"}),
    st({"type": "sequence", "elements": []}),
    st({"type": "or", "elements": []}),
    st({"type": "triggered_tags", "triggers": [], "tags": [T("<f1>", C("X"), "</f>")]}),
    st({"type": "triggered_tags", "triggers": ["<f"], "tags": []}),
    st({"type": "triggered_tags", "triggers": ["<g"], "tags": [T("<f1>", C("X"), "</f>")]}),
    st({"type": "triggered_tags", "triggers": ["<f", "<f1"], "tags": [T("<f1>", C("X"), "</f>")]}),
    st({"type": "tags_with_separator", "separator": ",", "tags": []}),
    st({"type": "json_schema", "json_schema": {"type": "nonsense"}}),
    st({"type": "regex", "pattern": "(a"}),
    st({"type": "grammar", "grammar": "root ::= ("}),
    {"type": "other", "format": C("x")},
    {"type": "structural_tag"},
]
UNSUPPORTED = [
    (st({"type": "json_schema", "json_schema": WEATHER, "style": "qwen_xml"}), "style 'qwen_xml'"),
    (st({"type": "optional", "content": C("x")}), "'optional' format"),
    (st({"type": "any_text", "excludes": ["x"]}), "any_text's excludes"),
    (st(T({"type": "token", "token": 1}, C("x"), "y")), "A token as a tag's begin"),
]


def test_invalid_structural_tags(masks):
    v = vocab("qwen3", masks)
    for tag in INVALID:
        with pytest.raises(Exception):
            v.compiler.compile_structural_tag(json.dumps(tag))
        got = masks.call({"vocab": v.name, "kind": "structural_tag", "spec": json.dumps(tag), "walks": []})
        assert got.get("error", "").startswith("Invalid structural tag specification."), (tag, got)


def test_unsupported_formats_are_named(masks):
    v = vocab("qwen3", masks)
    for tag, what in UNSUPPORTED:
        got = masks.call({"vocab": v.name, "kind": "structural_tag", "spec": json.dumps(tag), "walks": []})
        assert what in got.get("error", "") and "not supported by podserve" in got["error"], (tag, got)
