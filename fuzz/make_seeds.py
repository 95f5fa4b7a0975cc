#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs, from the project's test data, into build/fuzz/seeds/<target>/.

`scripts/fuzz merge` then minimizes them (with what fuzzing found) into the committed corpus fuzz/corpus/<target>.
Sources: tests/data (the tiny GGUF and safetensors models, the chat-template goldens), the shared fixtures (chat
templates, tokenizers cut down to a few hundred tokens, llama.cpp's tokenizer inputs), and request bodies in the
shapes the e2e tests send. Multi-part inputs use the targets' separator (fuzz/support/fuzz_common.h).
Usage: fuzz/make_seeds.py [--fixtures DIR]   (default: ../shared/fixtures, as CMake's PODSERVE_FIXTURES)
"""
import argparse
import hashlib
import json
import random
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
OUT = ROOT / "build" / "fuzz" / "seeds"
SEP = b"\n--podserve-fuzz-part--\n"
MAX_SEED = 131072


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_SEED:
        return
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def gguf_seeds():
    files = sorted(DATA.glob("tiny_models/*/*.gguf")) + [DATA / "tiny-llama.gguf", DATA / "quants.gguf",
                                                          DATA / "kquants" / "blocks.gguf"]
    for f in files:
        write("gguf_file", f.read_bytes())
    rnd = random.Random(18)
    for _ in range(32):  # FuzzedDataProvider input for the structured target: any bytes decode to edits
        write("gguf_structured", bytes(rnd.randrange(256) for _ in range(rnd.randrange(8, 256))))


def safetensors_file(tensors, metadata=None):
    header, offset, data = {}, 0, b""
    for name, (dtype, shape, payload) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(payload)]}
        offset += len(payload)
        data += payload
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
    for f in sorted(DATA.glob("tiny_models/*/bf16/model.safetensors")):
        write("safetensors", f.read_bytes())
    write("safetensors", safetensors_file({"a": ("F32", [2, 3], bytes(24))}, {"format": "pt"}))
    write("safetensors", safetensors_file({"x": ("BF16", [4], bytes(8)), "y": ("F16", [0], b"")}))


def trimmed_tokenizer(path, keep):
    """A fixture tokenizer.json cut to its first `keep` tokens (merges and special tokens kept consistent)."""
    tj = json.loads(path.read_text())
    model = tj["model"]
    vocab = {t: i for t, i in model["vocab"].items() if i < keep}
    model["vocab"] = vocab
    merges = []
    for m in model.get("merges") or []:
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(m)
    model["merges"] = merges
    ids = {}
    added = []
    for i, t in enumerate(tj["added_tokens"][:8]):
        t["id"] = vocab.get(t["content"], keep + i)
        ids[t["content"]] = t["id"]
        added.append(t)
    tj["added_tokens"] = added

    def fix(pp):
        if isinstance(pp, dict):
            if pp.get("type") == "Sequence":
                for p in pp.get("processors", []):
                    fix(p)
            for name, spec in (pp.get("special_tokens") or {}).items():
                spec["ids"] = [ids.get(name, 0)]
    fix(tj.get("post_processor"))
    return json.dumps(tj, ensure_ascii=False)


def tokenizer_seeds(fixtures):
    for name, keep in (("llama2", 600), ("llama3_1", 400), ("qwen3", 400), ("gemma3", 400)):
        d = fixtures / "tokenizers" / name
        tok = trimmed_tokenizer(d / "tokenizer.json", keep).encode()
        cfg = json.loads((d / "tokenizer_config.json").read_text())
        cfg["added_tokens_decoder"] = {}
        cfg_text = json.dumps(cfg, ensure_ascii=False).encode()
        gen = json.dumps({"bos_token_id": 1, "eos_token_id": [2, 3], "temperature": 0.6, "top_p": 0.9}).encode()
        write("tokenizer_json", tok)
        write("tokenizer_json", tok + SEP + cfg_text + SEP + gen)
        write("tokenizer_json", tok + SEP + b"" + SEP + gen + SEP + b"{{ messages[0]['content'] }}")
    # Tokenizer inputs: llama.cpp's tricky strings, through every vocabulary and flag combination.
    text = (fixtures / "tokenizer_inputs.txt").read_text()
    cases = text.split("__BEGIN__\n", 1)[1].split("\n__CASE__\n")[:-1]
    for i, case in enumerate(cases):
        write("tokenize", bytes([i % 64]) + case.encode())
    for flags in range(64):
        write("tokenize", bytes([flags]) + "<|im_start|>user\nHi<|im_end|> <s>[INST] x [/INST]</s> <bos>".encode())


def jinja_seeds(fixtures):
    kwargs = [b"", b'{"enable_thinking": false}',
              b'{"messages": [{"role": "user", "content": "hi"}], "custom": [1, 2.5, null, true, {"k": "v"}]}',
              b'{"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a", '
              b'"reasoning_content": "r"}], "tools": null, "documents": [{"title": "t", "text": "x"}]}']
    templates = [p.read_bytes() for p in sorted((fixtures / "chat_templates").glob("*.jinja"))]
    goldens = json.loads((DATA / "chat_templates.json").read_text())["templates"]
    templates += [t.encode() for t in goldens.values() if isinstance(t, str)]
    for i, t in enumerate(templates):
        write("jinja", t + SEP + kwargs[i % len(kwargs)])


CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
TOOLS = [{"type": "function", "function": {"name": "f", "description": "d",
                                           "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}}]
CHAT_BODIES = [
    {"messages": CHAT},
    {"model": "SmolLM2", "messages": CHAT, "max_tokens": 5, "temperature": 0.7, "top_p": 0.9, "top_k": 40,
     "min_p": 0.05, "seed": 7, "stop": ["\n", "end"], "n": 2, "logprobs": True, "top_logprobs": 3},
    {"messages": CHAT, "stream": True, "stream_options": {"include_usage": True, "continuous_usage_stats": True}},
    {"messages": CHAT + [{"role": "assistant", "content": "Hel"}], "continue_final_message": True,
     "add_generation_prompt": False, "echo": True},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
     "chat_template_kwargs": {"enable_thinking": True, "x": [1, 2]}, "tools": TOOLS, "tool_choice": "auto"},
    {"messages": CHAT, "max_completion_tokens": 3, "frequency_penalty": 1.5, "presence_penalty": -1,
     "repetition_penalty": 1.1, "logit_bias": {"42": 10}, "stop_token_ids": [2], "ignore_eos": True,
     "min_tokens": 1, "skip_special_tokens": False, "include_stop_str_in_output": True, "best_of": 2,
     "truncate_prompt_tokens": 10, "request_id": "r1", "user": "u"},
    {"messages": CHAT, "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {
        "type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}},
    {"messages": CHAT, "response_format": {"type": "json_object"}, "stream": True},
    {"messages": CHAT, "structured_outputs": {"regex": "[a-z]{3}\\d"}},
    {"messages": CHAT, "structured_outputs": {"choice": ["yes", "no"]}, "n": 2},
    {"messages": CHAT, "structured_outputs": {"grammar": "root ::= \"a\" | \"b\""}},
    {"messages": CHAT, "guided_json": {"type": "array"}, "guided_decoding_backend": "xgrammar"},
]
COMPLETION_BODIES = [
    {"prompt": "Once upon a time"},
    {"model": "SmolLM2", "prompt": [1, 2, 3, 4], "max_tokens": 2, "echo": True, "logprobs": 2},
    {"prompt": ["a", "b"], "n": 2, "stream": True, "stream_options": {"include_usage": True}},
    {"prompt": [[5, 6], [7]], "max_tokens": 0, "echo": True, "logprobs": 0, "prompt_logprobs": 1},
    {"prompt": "x", "suffix": None, "add_special_tokens": False, "seed": -1, "temperature": 0},
]
TOKENIZE_BODIES = [{"prompt": "Hello <|im_end|>", "add_special_tokens": True, "return_token_strs": True},
                   {"messages": CHAT, "add_generation_prompt": True, "chat_template_kwargs": {"a": 1}}]
DETOKENIZE_BODIES = [{"tokens": [1, 2, 3, 100, 49151]}, {"model": "SmolLM2", "tokens": []}]


def request_seeds():
    for mode, bodies in enumerate((CHAT_BODIES, COMPLETION_BODIES, TOKENIZE_BODIES, DETOKENIZE_BODIES)):
        for b in bodies:
            write("openai_request", bytes([mode]) + json.dumps(b).encode())
    jobs = [{"prompt": "Hi", "sampling_params": {"max_tokens": 4, "temperature": 0, "n": 2}},
            {"messages": CHAT, "stream": True, "max_batch_size": 3, "min_batch_size": 1,
             "batch_size_growth_factor": 2},
            {"prompt": "Hi", "apply_chat_template": True, "sampling_params": {"stop": ["x"], "logprobs": 1}},
            {"openai_route": "/v1/chat/completions", "openai_input": CHAT_BODIES[2]},
            {"openai_route": "/v1/completions", "openai_input": COMPLETION_BODIES[1]},
            {"openai_route": "/v1/models", "openai_input": {}},
            {"openai_input": {"messages": CHAT}},
            {"route": "/v1/completions", "method": "POST", "body": {"prompt": "a"}},
            {"route": "/tokenize", "body": TOKENIZE_BODIES[1]}]
    for j in jobs:
        write("worker_job", json.dumps(j))
    runs = [{"input": {"prompt": "Hi"}},
            {"input": {"messages": CHAT}, "webhook": "http://127.0.0.1:9/hook",
             "policy": {"executionTimeout": 5000, "ttl": 60000, "lowPriority": False}}]
    for r in runs:
        write("endpoint_run", b"\x00" + json.dumps(r).encode())
    for body in ({"output": {"text": "ok"}}, {"error": "boom"}, {"output": [1, 2], "status": "IN_PROGRESS"}):
        write("endpoint_run", b"\x01" + json.dumps(body).encode())
        write("endpoint_run", b"\x02" + json.dumps(body).encode())
    for line in ("GET /v2/local/health", "POST /v2/local/purge-queue", "GET /v2/local/status/abc",
                 "POST /v2/local/cancel/abc", "POST /v2/local/retry/abc", "GET /v2/local/job-take/w?batch_size=2",
                 "GET /v2/local/job-stop/w", "GET /v2/local/ping/w?job_id=a,b&job_id=c", "GET /v2/other/run"):
        write("endpoint_run", b"\x03" + line.encode() + b"\n")


def http_seeds():
    body = json.dumps(CHAT_BODIES[0]).encode()
    auth = b"Authorization: Bearer fuzz-key\r\n"
    json_type = b"Content-Type: application/json\r\n"
    reqs = [
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\nGET /version HTTP/1.1\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + auth + json_type +
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,
        b"POST /v1/completions HTTP/1.1\r\n" + auth + json_type + b"Transfer-Encoding: chunked\r\n\r\n"
        b"10\r\n{\"prompt\": \"abc\"\r\n1\r\n}\r\n0\r\n\r\n",
        b"POST /tokenize HTTP/1.1\r\n" + json_type + b"Expect: 100-continue\r\nContent-Length: 16\r\n\r\n"
        b"{\"prompt\": \"a\"}\n",
        b"POST /v1/chat/completions HTTP/1.0\r\n" + auth + json_type + b"X-Request-Id: abc\r\nContent-Length: " +
        str(len(json.dumps(CHAT_BODIES[2]))).encode() + b"\r\n\r\n" + json.dumps(CHAT_BODIES[2]).encode(),
        b"DELETE /v1/models HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET /nope?x=1 HTTP/1.1\r\nConnection: keep-alive\r\n\r\nGET /ping HTTP/1.1\r\n\r\n",
        b"POST /detokenize HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}",
        b"POST /v1/embeddings HTTP/1.1\r\n" + auth + json_type + b"Content-Length: 70000\r\n\r\n",
    ]
    for r in reqs:
        write("http", r)


def test_constants(path, names):
    """The named module-level constants of a test file (their literals, and the constants they are built from),
    read without importing it (the tests import pytest, xgrammar, a server fixture)."""
    import ast
    scope = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
            try:
                value = eval(compile(ast.Expression(node.value), str(path), "eval"), {"__builtins__": {}}, scope)
            except Exception:  # a constant computed by a call: not a seed
                continue
            for t in node.targets:
                scope[t.id] = value
    return [scope.get(n, []) for n in names]


def structured_seeds():
    import importlib.util
    spec = importlib.util.spec_from_file_location("mask_cases", ROOT / "tests" / "structured" / "mask_cases.py")
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)
    # Mode byte: 0 JSON Schema, 1 regex, 2 EBNF, 3 choice, 4 json_object; 8: no free whitespace; 0x80: SmolLM2.
    groups = [(0, [(json.dumps(s), t) for s, t in cases.JSON_SCHEMAS]), (1, cases.REGEXES), (2, cases.GRAMMARS),
              (3, [(json.dumps(c), c) for c in cases.CHOICES]), (4, [("", ['{"a": [1, true]}', "[]"])])]
    # The schemas, regexes and grammars the xgrammar comparisons and the e2e tests use, accepted and refused.
    tests = ROOT / "tests"
    schema_cases, schema_errors = test_constants(tests / "structured" / "test_json_schema_vs_xgrammar.py",
                                                 ["CASES", "XGRAMMAR_ERRORS"])
    regexes, rejected, lenient, pattern_rejected = test_constants(
        tests / "structured" / "test_regex_vs_xgrammar.py",
        ["REGEXES", "REJECTED", "LENIENT_PATTERNS", "PATTERN_REJECTED"])
    e2e_schemas, e2e_regexes, e2e_choices = test_constants(tests / "e2e" / "test_structured_sampling.py",
                                                           ["SCHEMAS", "REGEXES", "CHOICES"])
    (person,) = test_constants(tests / "e2e" / "test_structured_outputs.py", ["PERSON"])
    groups += [
        (0, [(json.dumps(s), [json.dumps(i) for i in inst]) for _, s, inst in schema_cases]),
        (0, [(json.dumps(s), [""]) for s in schema_errors + e2e_schemas + [person]]),
        (0, [(json.dumps({"type": "string", "pattern": p}), [json.dumps(x) for x in t]) for p, t in lenient]),
        (0, [(json.dumps({"type": "string", "pattern": p}), ['"x"']) for p in pattern_rejected]),
        (1, regexes + [(r, [""]) for r in rejected + e2e_regexes + [r"\(\d{3}\) \d{3}-\d{4}"]]),
        (2, [('root ::= num " + " num " = " num\nnum ::= [1-9] [0-9]?', ["12 + 3 = 15"]), ("root ::= [a", [""])]),
        (3, [(json.dumps(c), c) for c in e2e_choices + [[]]]),
    ]
    for mode, items in groups:
        for i, (spec_text, strings) in enumerate(items):
            for j, text in enumerate(strings[:2]):
                flags = mode | (8 if (i + j) % 3 == 2 else 0) | (0x80 if (i + j) % 4 == 3 else 0)
                write("structured", bytes([flags]) + spec_text.encode() + SEP + text.encode())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=Path, default=ROOT.parent / "shared" / "fixtures")
    args = parser.parse_args()
    gguf_seeds()
    safetensors_seeds()
    tokenizer_seeds(args.fixtures)
    jinja_seeds(args.fixtures)
    request_seeds()
    http_seeds()
    structured_seeds()
    for d in sorted(OUT.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")


if __name__ == "__main__":
    main()
