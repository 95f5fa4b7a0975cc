#!/usr/bin/env python3
"""Why llama-cpp-python's OpenAI server streams slower than llama.cpp decodes: one streaming /v1/completions
request at a time against several configurations of `python -m llama_cpp.server` (started as bench/run.py
starts it, each varying one thing), interleaved request by request so the machine's noise hits all alike, next
to the same library driven in this process (create_completion with stream=True, and a bare `eval` loop, the
decode floor). Per configuration: best and median TPOT (ms between streamed tokens, as bench/serving.py), TTFT,
and the CPU time per streamed token of the process that decodes (all its threads: the server's from /proc, this
process's for the in-process rows, which include the prompt), which shows spinning and per-token Python work
independently of how busy the machine is.

Usage (the interpreter needs llama-cpp-python[server] and httpx):
  bench/llama_server_probe.py [--model M] [--threads 2] [--reps 5] [--output-len 64] [--configs a,b,...]
"""
import argparse
import json
import os
import pathlib
import random
import statistics
import sys
import time

import httpx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import peers  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORDS = ("the quick brown fox jumps over lazy dog while small bird sings in old oak tree and river runs past "
         "mill toward sea under bright sky near green hill with tall grass").split()
EOS_BIAS = {"logit_bias": {"0": -100, "2": -100}}  # SmolLM2's end-of-generation ids, as bench/run.py sends


def configs(threads):
    """name -> (extra server flags, extra env, extra request fields). "bench" is bench/run.py's configuration;
    each other one changes one thing from it."""
    passive = {"OMP_WAIT_POLICY": "PASSIVE"}
    return {
        "bench": ([], {}, EOS_BIAS),
        "no-bias": ([], {}, {}),
        "logits_all-True": (["--logits_all", "True"], {}, EOS_BIAS),  # the server's default
        "n_ctx-512": (["--n_ctx", "512"], {}, EOS_BIAS),
        "omp-passive": ([], passive, EOS_BIAS),
        "n_threads-1": (["--n_threads", "1"], {}, EOS_BIAS),
    }


def server_cmd(model, threads, port, extra):
    # argparse keeps the last of a repeated flag, so `extra` overrides the defaults.
    return [sys.executable, "-m", "llama_cpp.server", "--model", model, "--n_threads", str(threads),
            "--n_threads_batch", str(threads), "--n_ctx", "4096", "--port", str(port), "--host", "127.0.0.1",
            "--interrupt_requests", "False", "--logits_all", "False", "--verbose", "False", *extra]


def cpu_seconds(pid):
    """utime + stime of every thread of `pid`."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stream_http(base, body):
    """(TTFT s, token times) of one streaming request."""
    t0 = time.perf_counter()
    times = []
    with httpx.stream("POST", base + "/v1/completions", json=body, timeout=600) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                c = json.loads(line[6:])
                if c.get("choices") and c["choices"][0].get("text"):
                    times.append(time.perf_counter())
    return times[0] - t0, times


def stream_in_process(llm, body):
    t0 = time.perf_counter()
    times = []
    bias = {int(k): v for k, v in body.get("logit_bias", {}).items()} or None
    for c in llm.create_completion(body["prompt"], max_tokens=body["max_tokens"], temperature=0, stream=True,
                                   logit_bias=bias):
        if c["choices"][0]["text"]:
            times.append(time.perf_counter())
    return times[0] - t0, times


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--input-len", type=int, default=128)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--configs", default="bench,no-bias,logits_all-True,omp-passive,n_threads-1")
    ap.add_argument("--no-in-process", action="store_true")
    args = ap.parse_args()
    table = configs(args.threads)
    names = args.configs.split(",")
    servers = {}
    for name in names:
        flags, env, _ = table[name]
        port = peers.free_port()
        servers[name] = peers.ServerProcess(name, server_cmd(args.model, args.threads, port, flags), port,
                                            dict(os.environ, **env)).start()
    llm = None
    if not args.no_in_process:
        from llama_cpp import Llama
        llm = Llama(model_path=args.model, n_ctx=4096, n_threads=args.threads, n_threads_batch=args.threads,
                    verbose=False)
    rng = random.Random(0)
    stats = {n: {"ttft": [], "tpot": [], "cpu_per_token": [], "tokens": []} for n in
             [*names, *(["in-process stream", "in-process eval"] if llm else [])]}
    try:
        for rep in range(args.reps + 1):  # rep 0 warms every server up and is not recorded
            prompt = " ".join(rng.choice(WORDS) for _ in range(args.input_len))
            order = list(stats)
            rng.shuffle(order)
            for name in order:
                body = {"prompt": prompt, "max_tokens": args.output_len, "temperature": 0, "stream": True}
                c0 = time.process_time()  # this process's CPU time, all threads (llama.cpp's included)
                if name == "in-process eval":
                    llm.reset()
                    llm.eval(llm.tokenize(prompt.encode()))
                    times = []
                    for i in range(args.output_len):
                        llm.eval([1000 + i])
                        times.append(time.perf_counter())
                    ttft, cpu = float("nan"), time.process_time() - c0
                elif name == "in-process stream":
                    ttft, times = stream_in_process(llm, {**body, **EOS_BIAS})
                    cpu = time.process_time() - c0
                else:
                    body.update(table[name][2])
                    pid = servers[name].proc.pid
                    c0 = cpu_seconds(pid)
                    ttft, times = stream_http(servers[name].base, body)
                    cpu = cpu_seconds(pid) - c0
                if rep == 0 or len(times) < 2:
                    continue
                s = stats[name]
                s["ttft"].append(ttft)
                s["tpot"].append((times[-1] - times[0]) / (len(times) - 1))
                s["tokens"].append(len(times))
                if cpu is not None:
                    s["cpu_per_token"].append(cpu / len(times))
            print(f"rep {rep} done, load average {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    finally:
        for s in servers.values():
            s.stop()
    print(f"threads {args.threads}, {args.input_len} prompt words, {args.output_len} tokens, {args.reps} reps, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| configuration | TPOT best ms | TPOT median ms | TTFT best ms | CPU ms/token (median) | tokens |")
    print("|---|---|---|---|---|---|")
    for name, s in stats.items():
        if not s["tpot"]:
            continue
        cpu = f"{1e3 * statistics.median(s['cpu_per_token']):.1f}" if s["cpu_per_token"] else "-"
        print(f"| {name} | {1e3 * min(s['tpot']):.2f} | {1e3 * statistics.median(s['tpot']):.2f} | "
              f"{1e3 * min(s['ttft']):.0f} | {cpu} | {min(s['tokens'])}-{max(s['tokens'])} |")


if __name__ == "__main__":
    main()
