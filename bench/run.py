#!/usr/bin/env python3
"""make bench: podserve next to llama.cpp (llama-cpp-python) on the same GGUF, same thread count, one run.

Measures, for each engine: prompt processing (pp: prompt tokens/s for a ~512-token prompt) and generation
(tg: generated tokens/s over 128 tokens, batch 1, greedy, ignore_eos), plus podserve's cold start (process
start to the first completed request) and peak RSS. podserve is driven over its OpenAI HTTP API (so its
numbers include HTTP + JSON); llama.cpp in-process. Results: bench/results/<time>.json and a markdown table.
This is the first slice of the benchmark suite; the serving-load runs come with the CPU performance issue.
"""
import argparse
import datetime
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import requests

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROMPT_WORDS = ("the quick brown fox jumps over the lazy dog while a small bird sings in the old oak tree "
                "and the river runs past the mill toward the sea ").split()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def long_prompt(n_words):
    return " ".join(PROMPT_WORDS[i % len(PROMPT_WORDS)] for i in range(n_words))


def peak_rss_mib(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def bench_podserve(binary, model, threads, reps):
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    start = time.perf_counter()
    proc = subprocess.Popen([binary, "serve", "--model", model, "--port", str(port), "--max-model-len", "2048"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("podserve exited: " + proc.stderr.read()[-2000:])
            try:
                requests.post(base + "/v1/completions", json={"prompt": "Hi", "max_tokens": 1}, timeout=60).raise_for_status()
                break
            except requests.ConnectionError:
                time.sleep(0.02)
        cold_start = time.perf_counter() - start
        pp, tg = [], []
        for rep in range(reps):
            # A different first word each time: an identical prompt would be served from the prefix cache.
            prompt = f"Run {rep} {time.time_ns()}: " + long_prompt(420)
            t0 = time.perf_counter()
            r = requests.post(base + "/v1/completions", json={"prompt": prompt, "max_tokens": 1, "temperature": 0}).json()
            pp.append(r["usage"]["prompt_tokens"] / (time.perf_counter() - t0))
            body = {"prompt": "Once upon a time", "max_tokens": 128, "temperature": 0, "ignore_eos": True, "stream": True}
            first, count = None, 0
            with requests.post(base + "/v1/completions", json=body, stream=True) as resp:
                for line in resp.iter_lines():
                    if line.startswith(b"data: ") and line != b"data: [DONE]":
                        chunk = json.loads(line[6:])
                        if chunk.get("choices"):
                            count += 1
                            if first is None:
                                first = time.perf_counter()
            tg.append((count - 1) / (time.perf_counter() - first))
        return {"pp_tokens_per_s": max(pp), "tg_tokens_per_s": max(tg), "cold_start_s": cold_start,
                "peak_rss_mib": peak_rss_mib(proc.pid), "prompt_tokens": r["usage"]["prompt_tokens"]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bench_llama_cpp(model, threads, reps, n_prompt):
    from llama_cpp import Llama
    llm = Llama(model_path=model, n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=512, verbose=False)
    prompt_tokens = llm.tokenize(long_prompt(420).encode(), add_bos=False)[:n_prompt]
    pp, tg = [], []
    for _ in range(reps):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt_tokens)
        pp.append(len(prompt_tokens) / (time.perf_counter() - t0))
        llm.reset()
        llm.eval(llm.tokenize(b"Once upon a time", add_bos=False))
        t0 = time.perf_counter()
        for _ in range(128):
            tok = llm.sample(temp=0.0)
            llm.eval([tok])
        tg.append(128 / (time.perf_counter() - t0))
    return {"pp_tokens_per_s": max(pp), "tg_tokens_per_s": max(tg)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "build/release/podserve"))
    ap.add_argument("--model", default=str(ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    print(f"benchmarking {pathlib.Path(args.model).name} with {args.threads} threads, best of {args.reps}", flush=True)
    print("podserve ...", flush=True)
    ours = bench_podserve(args.binary, args.model, args.threads, args.reps)
    print("llama.cpp (llama-cpp-python) ...", flush=True)
    peer = bench_llama_cpp(args.model, args.threads, args.reps, ours["prompt_tokens"])
    result = {"time": datetime.datetime.now().isoformat(timespec="seconds"), "model": pathlib.Path(args.model).name,
              "threads": args.threads, "podserve": ours, "llama_cpp": peer,
              "ratios": {k: ours[k] / peer[k] for k in ("pp_tokens_per_s", "tg_tokens_per_s")}}
    out_dir = ROOT / "bench/results"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{result['time'].replace(':', '')}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\n| metric | podserve | llama.cpp | podserve/llama.cpp |\n|---|---|---|---|")
    for k in ("pp_tokens_per_s", "tg_tokens_per_s"):
        print(f"| {k} | {ours[k]:.1f} | {peer[k]:.1f} | {result['ratios'][k]:.2f} |")
    print(f"\npodserve cold start {ours['cold_start_s']:.2f} s, peak RSS {ours['peak_rss_mib']:.0f} MiB; wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
