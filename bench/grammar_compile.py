"""Grammar compile time per schema per vocabulary (issue 15, structured-tools.md §2.7: at most 50 ms on a 128k
vocabulary): the structured_masks driver (tests/structured, the compiler the engine uses) compiles each schema
cold, in a fresh process per rep, after one warm-up compile; prints user CPU ms (best of reps: the machine may be
shared) and wall ms. Usage: bench/grammar_compile.py BUILD_DIR [--reps N] [--fixtures DIR]."""

import argparse
import json
import os
import pathlib
import subprocess

from structured import NESTED_SCHEMA  # bench/structured.py: the schema its serving figures use

ROOT = pathlib.Path(__file__).resolve().parent.parent

SCHEMAS = {
    "nested": NESTED_SCHEMA,
    "flat": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
             "required": ["city", "days"]},
    "numbers": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"},
                                                 "tags": {"type": "array", "items": {"type": "string"}}}},
    "json_object": None,
}
VOCABS = [("Llama 3.1", "llama3_1", 128256), ("Qwen3", "qwen3", 151936)]


def run(driver, tokenizer_dir, vocab_size, kind, spec):
    proc = subprocess.Popen([driver], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def call(req):
        proc.stdin.write(json.dumps(req) + "\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    call({"tokenizer": tokenizer_dir, "name": "v", "vocab_size": vocab_size})
    call({"vocab": "v", "kind": "regex", "spec": "warm", "walks": []})
    req = {"vocab": "v", "kind": kind, "walks": []}
    if spec is not None:
        req["spec"] = json.dumps(spec)
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
    args = ap.parse_args()
    driver = str(pathlib.Path(args.build_dir) / "tests" / "structured_masks")
    print("| vocabulary | schema | CPU ms (best) | wall ms (best) |\n|---|---|---|---|")
    for label, rel, vocab_size in VOCABS:
        tokenizer_dir = str(pathlib.Path(args.fixtures) / "tokenizers" / rel)
        for name, schema in SCHEMAS.items():
            kind = "json_object" if schema is None else "json"
            runs = [run(driver, tokenizer_dir, vocab_size, kind, schema) for _ in range(args.reps)]
            print(f"| {label} ({vocab_size}) | {name} | {min(r[0] for r in runs):.1f} | {min(r[1] for r in runs):.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
