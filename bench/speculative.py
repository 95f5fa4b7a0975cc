#!/usr/bin/env python3
"""make bench-speculative: podserve's decode speed with speculative decoding next to plain decoding, on a repetitive
workload where it pays (code edits and answers that quote the prompt), one request at a time (the latency case
speculation is for), greedy, over podserve's OpenAI API.

Configurations: plain; ngram (k=4, lookup 2..5); draft_model (--draft, default the Q4_1 GGUF drafting for the
--model target, k=3). Reps are interleaved (plain, ngram, draft, plain, ...) so machine noise hits all alike. Every
configuration must give the same greedy text as plain decoding (checked). Reports output tokens/s per configuration
(best and median over the reps), the ratio to plain, and the acceptance counters from /metrics.

    bench/speculative.py --binary build/release/podserve --model TARGET.gguf [--draft DRAFT.gguf] [--reps 3]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import re

import httpx

PROMPTS = [
    "Rename the function `load_items` to `read_items` everywhere in this code and print the whole result:\n"
    "def load_items(path):\n    with open(path) as f:\n        return [line.strip() for line in f]\n\n"
    "def count_items(path):\n    return len(load_items(path))\n\n"
    "def first_item(path):\n    items = load_items(path)\n    return items[0] if items else None\n\nResult:\n",
    "Copy this list and add a fourth line in the same style:\n- apples: 3 boxes, delivered Monday\n"
    "- pears: 5 boxes, delivered Tuesday\n- plums: 2 boxes, delivered Wednesday\nList:\n",
    "Quote the sentence exactly, then summarize it: \"The committee met on Thursday and agreed to move the budget "
    "vote to next month after a long debate about the new bridge.\"\nQuote: \"",
    "<ul>\n<li>Home</li>\n<li>About</li>\n<li>Contact</li>\n</ul>\nThe same list with a Blog item after Home:\n<ul>\n",
]


def start(binary, model, port, env):
    log = tempfile.NamedTemporaryFile(prefix="podserve-spec-bench-", suffix=".log", delete=False)
    p = subprocess.Popen([binary, "serve", "--model", model, "--port", str(port), "--host", "127.0.0.1",
                          "--max-model-len", "2048", "--disable-log-stats"], stdout=log, stderr=subprocess.STDOUT,
                         env={**os.environ, **env})
    for _ in range(600):
        if p.poll() is not None:
            sys.exit(f"podserve exited: see {log.name}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return p
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit("podserve did not start")


def counters(port):
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    out = {}
    for name in ("num_drafts", "num_draft_tokens", "num_accepted_tokens"):
        m = re.search(r"vllm:spec_decode_" + name + r"_total\{[^}]*\} ([0-9.e+]+)", text)
        out[name] = float(m.group(1)) if m else 0.0
    return out


def one_pass(port, max_tokens):
    texts, tokens, seconds = [], 0, 0.0
    for prompt in PROMPTS:
        t0 = time.perf_counter()
        r = httpx.post(f"http://127.0.0.1:{port}/v1/completions", timeout=600,
                       json={"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True})
        seconds += time.perf_counter() - t0
        body = r.json()
        texts.append(body["choices"][0]["text"])
        tokens += body["usage"]["completion_tokens"]
    return texts, tokens / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--draft", default="")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=96)
    args = ap.parse_args()
    configs = {"plain": {}, "ngram": {"SPECULATIVE_CONFIG": '{"method": "ngram", "num_speculative_tokens": 4, '
                                                           '"prompt_lookup_min": 2, "prompt_lookup_max": 5}'}}
    if args.draft:
        configs["draft_model"] = {"SPECULATIVE_CONFIG": '{"model": "%s", "num_speculative_tokens": 3}' % args.draft}
    ports = {name: 18700 + i for i, name in enumerate(configs)}
    procs = {name: start(args.binary, args.model, ports[name], env) for name, env in configs.items()}
    try:
        rates = {name: [] for name in configs}
        reference = None
        for _ in range(args.reps):
            for name in configs:
                texts, rate = one_pass(ports[name], args.max_tokens)
                if reference is None:
                    reference = texts
                assert texts == reference, f"{name}: greedy text differs from plain decoding"
                rates[name].append(rate)
        plain = max(rates["plain"])
        print(f"target {os.path.basename(args.model)}, draft {os.path.basename(args.draft) or '-'}; "
              f"{len(PROMPTS)} prompts x {args.max_tokens} tokens, one at a time, {args.reps} reps (interleaved)")
        print("| configuration | output tok/s best | median | best / plain | accepted / drafted | mean acceptance length |")
        print("|---|---|---|---|---|---|")
        for name in configs:
            c = counters(ports[name])
            acc = f"{c['num_accepted_tokens']:.0f} / {c['num_draft_tokens']:.0f}" if c["num_drafts"] else "-"
            mal = f"{1 + c['num_accepted_tokens'] / c['num_drafts']:.2f}" if c["num_drafts"] else "-"
            print(f"| {name} | {max(rates[name]):.1f} | {statistics.median(rates[name]):.1f} | "
                  f"{max(rates[name]) / plain:.2f} | {acc} | {mal} |")
    finally:
        for p in procs.values():
            p.terminate()
            p.wait(timeout=30)


if __name__ == "__main__":
    main()
