"""Structured outputs in `make bench` (issue 15): podserve's TPOT with a nested json_schema constraint next to the
same requests unconstrained, at concurrency 1 and 32, reps interleaved (target: at most 10% more); and the grammar
compile time of a typical schema on SmolLM2's 49k vocabulary and Llama 3.1's 128k (target: at most 50 ms, cached
after), cold and cached, wall and CPU time, measured by the structured_masks driver (tests/structured) that links
the same compiler the engine uses."""

import json
import pathlib
import subprocess

import peers
import serving

ROOT = pathlib.Path(__file__).resolve().parent.parent

# A typical nested tool-call / extraction schema: strings, an integer range, an enum, an array of objects.
NESTED_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "role": {"enum": ["admin", "user", "guest"]},
        "address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"},
                                                     "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
                    "required": ["street", "city"]},
        "friends": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "since": {"type": "integer", "minimum": 1900, "maximum": 2100}},
            "required": ["name"]}},
    },
    "required": ["name", "age", "address", "friends"],
}
VOCABS = [("SmolLM2 (49152)", "gguf", None, 49152),
          ("Llama 3.1 (128256)", "tokenizer", "tokenizers/llama3_1", 128256)]


def compile_times(driver, model, fixtures, reps):
    """Per vocabulary: the first compile (cold), then a cached one, best of `reps` fresh processes."""
    out = {}
    for label, kind, rel, vocab_size in VOCABS:
        source = model if kind == "gguf" else str(pathlib.Path(fixtures) / rel)
        best = None
        for _ in range(reps):
            proc = subprocess.Popen([driver], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

            def call(req):
                proc.stdin.write(json.dumps(req) + "\n")
                proc.stdin.flush()
                return json.loads(proc.stdout.readline())

            call({kind: source, "name": "v", "vocab_size": vocab_size})
            request = {"vocab": "v", "kind": "json", "spec": json.dumps(NESTED_SCHEMA), "walks": []}
            cold, cached = call(request), call(request)
            proc.stdin.close()
            proc.wait()
            if "error" in cold:
                raise RuntimeError(cold["error"])
            run = {"cold_ms": cold["compile_ms"], "cold_cpu_ms": cold["compile_cpu_ms"], "cached_ms": cached["compile_ms"]}
            if best is None or run["cold_cpu_ms"] < best["cold_cpu_ms"]:
                best = run
        out[label] = best
    return out


def tpot(args, gguf_model, reps):
    """Median TPOT (ms) per concurrency, constrained and not, best of `reps` interleaved runs."""
    port = peers.free_port()
    server = peers.ServerProcess("podserve", [args.binary, "serve", "--model", gguf_model, "--port", str(port),
                                              "--max-model-len", "2048", "--disable-log-stats"], port)
    plain = {"ignore_eos": True}
    constrained = {"ignore_eos": True, "response_format": {
        "type": "json_schema", "json_schema": {"name": "person", "schema": NESTED_SCHEMA}}}
    out = {}
    server.start()
    try:
        for c in (1, 32):
            n = max(8, c)  # one wave at c=32: what is compared is the per-token cost, not queueing
            rows = {"unconstrained": [], "json_schema": []}
            for _ in range(reps):
                for name, extra in (("unconstrained", plain), ("json_schema", constrained)):
                    r = serving.run_load(server.base, "", c, n, args.input_len, args.output_len, ["word", "text"],
                                         extra=extra, seed=c, timeout=args.serving_timeout)
                    if "error" in r:
                        raise RuntimeError(f"structured bench c={c} {name}: {r['error']}")
                    rows[name].append(r["tpot_ms"]["median"])
            out[c] = {name: min(v) for name, v in rows.items()}
    finally:
        server.stop()
    return out


def bench_structured(args, gguf_model, log):
    reps = 1 if args.quick else max(2, args.reps)
    driver = str(pathlib.Path(args.binary).parent / "tests/structured_masks")
    result = {"compile": compile_times(driver, gguf_model, args.fixtures, reps)}
    for label, t in result["compile"].items():
        log(f"  compile {label}: {t['cold_ms']:.1f} ms wall, {t['cold_cpu_ms']:.1f} ms CPU; cached {t['cached_ms']:.3f} ms")
    result["tpot"] = tpot(args, gguf_model, reps)
    for c, t in result["tpot"].items():
        log(f"  TPOT c={c}: {t['json_schema']:.2f} ms constrained vs {t['unconstrained']:.2f} ms "
            f"({100 * (t['json_schema'] / t['unconstrained'] - 1):+.1f}%)")
    return result


def markdown(s):
    lines = ["Structured outputs (nested json_schema, bench/structured.py):", "",
             "| grammar compile | cold wall ms | cold CPU ms | cached ms |", "|---|---|---|---|"]
    for label, t in s["compile"].items():
        lines.append(f"| {label} | {t['cold_ms']:.1f} | {t['cold_cpu_ms']:.1f} | {t['cached_ms']:.3f} |")
    lines += ["", "| concurrency | TPOT ms unconstrained | TPOT ms json_schema | overhead |", "|---|---|---|---|"]
    for c, t in s["tpot"].items():
        lines.append(f"| {c} | {t['unconstrained']:.2f} | {t['json_schema']:.2f} | "
                     f"{100 * (t['json_schema'] / t['unconstrained'] - 1):+.1f}% |")
    return lines
