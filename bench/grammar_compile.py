"""Grammar compile time per schema per vocabulary (issue 15, structured-tools.md §2.7: at most 50 ms on a 128k
vocabulary): the structured_masks driver (tests/structured, the compiler the engine uses) compiles each schema
cold, in a fresh process per rep, after one warm-up compile; prints user CPU ms (best of reps: the machine may be
shared) and wall ms. Also the tool-call structural tags (free text between triggers is xgrammar's TagDispatch, the
costly kind to compile): hermes / llama / deepseek_r1 shapes for tool_choice required and auto, built as the
structural-tag tests build them (vLLM's hermes builder, xgrammar's get_model_structural_tag), on SmolLM2's vocabulary
(the GGUF's) and the 128k ones. Usage: bench/grammar_compile.py BUILD_DIR [--reps N] [--fixtures DIR] [--model GGUF]
[--only schemas|tags]."""

import argparse
import json
import os
import pathlib
import subprocess
import sys

from structured import NESTED_SCHEMA  # bench/structured.py: the schema its serving figures use

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "structured"))

SCHEMAS = {
    "nested": NESTED_SCHEMA,
    "flat": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
             "required": ["city", "days"]},
    "numbers": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"},
                                                 "tags": {"type": "array", "items": {"type": "string"}}}},
    "json_object": None,
}
VOCABS = [("Llama 3.1", "llama3_1", 128256), ("Qwen3", "qwen3", 151936)]


def tool_tags():
    """(name, structural tag) for the tool-call shapes: the same builders (and tools) the xgrammar tests use."""
    from test_structural_tags_vs_xgrammar import TOOLS, builtin, hermes

    return [("hermes required", hermes(TOOLS, "required")), ("hermes auto", hermes(TOOLS, "auto")),
            ("llama required", builtin("llama", "required")), ("llama auto", builtin("llama", "auto")),
            ("deepseek_r1 required", builtin("deepseek_r1", "required")),
            ("deepseek_r1 auto", builtin("deepseek_r1", "auto"))]


def run(driver, source, vocab_size, kind, spec):
    proc = subprocess.Popen([driver], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def call(req):
        proc.stdin.write(json.dumps(req) + "\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    call({**source, "name": "v", "vocab_size": vocab_size})
    call({"vocab": "v", "kind": "regex", "spec": "warm", "walks": []})
    req = {"vocab": "v", "kind": kind, "walks": []}
    if spec is not None:
        req["spec"] = spec if isinstance(spec, str) else json.dumps(spec)
    out = call(req)
    proc.stdin.close()
    proc.wait()
    if "error" in out:
        raise RuntimeError(out["error"])
    return out["compile_cpu_ms"], out["compile_ms"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--fixtures", default=os.environ.get("PODSERVE_FIXTURES", "/work/shared/fixtures"))
    ap.add_argument("--model", default=os.environ.get("PODSERVE_TEST_MODEL",
                                                      str(ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf")))
    ap.add_argument("--only", choices=["schemas", "tags"])
    args = ap.parse_args()
    os.environ.setdefault("PODSERVE_TEST_MODEL", args.model)  # the test modules read it at import
    os.environ.setdefault("PODSERVE_FIXTURES", args.fixtures)
    driver = str(pathlib.Path(args.build_dir) / "tests" / "structured_masks")

    def row(label, vocab_size, source, name, kind, spec):
        runs = [run(driver, source, vocab_size, kind, spec) for _ in range(args.reps)]
        print(f"| {label} ({vocab_size}) | {name} | {min(r[0] for r in runs):.1f} | {min(r[1] for r in runs):.1f} |",
              flush=True)

    print("| vocabulary | schema / tag | CPU ms (best) | wall ms (best) |\n|---|---|---|---|")
    big = [(label, vocab_size, {"tokenizer": str(pathlib.Path(args.fixtures) / "tokenizers" / rel)})
           for label, rel, vocab_size in VOCABS]
    if args.only != "tags":
        for label, vocab_size, source in big:
            for name, schema in SCHEMAS.items():
                row(label, vocab_size, source, name, "json_object" if schema is None else "json", schema)
    if args.only != "schemas":
        for label, vocab_size, source in [("SmolLM2", 49152, {"gguf": args.model})] + big:
            for name, tag in tool_tags():
                row(label, vocab_size, source, name, "structural_tag", tag)


if __name__ == "__main__":
    main()
