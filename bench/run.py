#!/usr/bin/env python3
"""make bench: podserve next to llama.cpp (llama-cpp-python) on the same GGUF files, same thread count, one run.

Parts (each comparison interleaves the peers rep by rep, so machine noise hits both alike; ratios are
podserve / llama.cpp):
- pp512 / tg128 as llama-bench defines them: prompt tokens/s for a 512-token prompt at batch 512, and
  generated tokens/s for 128 tokens at batch 1, best of --reps. podserve is driven over its OpenAI HTTP API
  (its numbers include HTTP + JSON); llama.cpp runs in-process. On the Q4_1 model and on a Q8_0 file made from
  it by bench/make_models.py.
- the memory-bandwidth bound of tg: bytes of weights read per token / measured read bandwidth.
- serving at concurrency 1, 8, 32 against each server's /v1/completions (stream, fixed lengths, EOS
  suppressed): TTFT / TPOT / ITL / E2EL mean, median, p99 and output tokens/s as `vllm bench serve` reports
  them (bench/serving.py), podserve vs llama-cpp-python's OpenAI server.
- podserve cold start (process start to the first completed request) and peak RSS.
Not yet here: the HF transformers baseline and the bf16 safetensors variant (they need the safetensors loader),
offline throughput over 256 prompts, concurrency 64.
Results: bench/results/<time>.json and <time>.md (the tables printed at the end), <time>.png when matplotlib
is installed.
"""
import argparse
import datetime
import json
import os
import pathlib
import random
import socket
import subprocess
import sys
import time

import numpy as np
import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_models  # noqa: E402
import serving  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORDS = ("the quick brown fox jumps over lazy dog while small bird sings in old oak tree and river runs past "
         "mill toward sea under bright sky near green hill with tall grass").split()
EOS_IDS = (0, 2)  # SmolLM2: <|endoftext|>, <|im_end|>


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mib(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def read_bandwidth_gbs():
    """Single-pass read bandwidth of a buffer far larger than any cache level we expect (numpy sum, best of 5)."""
    a = np.ones(512 * 1024 * 1024 // 8, dtype=np.float64)  # 512 MiB
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        a.sum()
        best = max(best, a.nbytes / (time.perf_counter() - t0))
    return best / 1e9


def weight_bytes_per_token(model_path):
    """Bytes of weight tensors a decode step reads: every 2-D matrix once (the embedding only if it is not also
    the output matrix, where one row is read)."""
    import gguf
    reader = gguf.GGUFReader(model_path)
    names = {t.name for t in reader.tensors}
    total = 0
    for t in reader.tensors:
        if t.name == "token_embd.weight" and "output.weight" in names:
            continue
        total += int(t.n_bytes)
    return total


class Podserve:
    def __init__(self, binary, model, threads):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), PODSERVE_THREADS=str(threads))
        start = time.perf_counter()
        self.proc = subprocess.Popen([binary, "serve", "--model", model, "--port", str(self.port), "--max-model-len",
                                      "2048", "--disable-log-stats"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("podserve exited: " + self.proc.stderr.read()[-2000:])
            try:
                requests.post(self.base + "/v1/completions", json={"prompt": "Hi", "max_tokens": 1},
                              timeout=60).raise_for_status()
                break
            except requests.ConnectionError:
                time.sleep(0.01)
        self.cold_start_s = time.perf_counter() - start

    def pp(self, prompt_ids):
        t0 = time.perf_counter()
        r = requests.post(self.base + "/v1/completions",
                          json={"prompt": prompt_ids, "max_tokens": 1, "temperature": 0}).json()
        return r["usage"]["prompt_tokens"] / (time.perf_counter() - t0)

    def tg(self, first_token, n):
        body = {"prompt": [first_token], "max_tokens": n + 1, "temperature": 0, "ignore_eos": True, "stream": True}
        times = []
        with requests.post(self.base + "/v1/completions", json=body, stream=True) as resp:
            for line in resp.iter_lines():
                if line.startswith(b"data: ") and line != b"data: [DONE]" and json.loads(line[6:]).get("choices"):
                    times.append(time.perf_counter())
        return (len(times) - 1) / (times[-1] - times[0])  # the first chunk ends the prefill of the 1-token prompt

    def close(self):
        rss = peak_rss_mib(self.proc.pid)
        self.proc.terminate()
        self.proc.wait(timeout=30)
        return rss


class LlamaCpp:
    def __init__(self, model, threads):
        from llama_cpp import Llama
        self.llm = Llama(model_path=model, n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=512,
                         n_ubatch=512, verbose=False)

    def pp(self, prompt_ids):
        self.llm.reset()
        t0 = time.perf_counter()
        self.llm.eval(prompt_ids)
        return len(prompt_ids) / (time.perf_counter() - t0)

    def tg(self, first_token, n):
        self.llm.reset()
        self.llm.eval([first_token])
        t0 = time.perf_counter()
        for _ in range(n):
            self.llm.eval([int(self.llm.sample(temp=0.0))])
        return n / (time.perf_counter() - t0)


def bench_engine(binary, model, threads, reps, rng):
    """pp512 / tg128 for both engines, interleaved; returns (results, podserve cold start, podserve peak RSS)."""
    ours = Podserve(binary, model, threads)
    peer = LlamaCpp(model, threads)
    vocab = peer.llm.n_vocab()
    res = {"podserve": {"pp512": [], "tg128": []}, "llama.cpp": {"pp512": [], "tg128": []}}
    try:
        for rep in range(reps):
            # Fresh random ids each rep: an identical prompt would be served from podserve's prefix cache.
            prompt = [rng.randrange(1000, vocab - 1000) for _ in range(512)]
            first = rng.randrange(1000, vocab - 1000)
            for name, eng in (("podserve", ours), ("llama.cpp", peer)) if rep % 2 == 0 else (("llama.cpp", peer), ("podserve", ours)):
                res[name]["pp512"].append(eng.pp(prompt))
                res[name]["tg128"].append(eng.tg(first, 128))
            print(f"  rep {rep}: " + ", ".join(f"{k} pp512 {v['pp512'][-1]:.0f} tg128 {v['tg128'][-1]:.1f}"
                                              for k, v in res.items()), flush=True)
    finally:
        rss = ours.close()
        del peer
    best = {name: {k: max(v) for k, v in d.items()} for name, d in res.items()}
    return best, ours.cold_start_s, rss


def start_llama_cpp_server(model, threads):
    # interrupt_requests off: by default a new request aborts the stream in progress instead of queueing.
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", model, "--n_threads", str(threads),
                             "--n_threads_batch", str(threads), "--n_ctx", "4096", "--port", str(port),
                             "--host", "127.0.0.1", "--interrupt_requests", "False"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        if proc.poll() is not None:
            raise RuntimeError("llama_cpp.server exited: " + proc.stderr.read()[-2000:])
        try:
            if requests.get(base + "/v1/models", timeout=5).ok:
                return proc, base
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("llama_cpp.server did not start")


def bench_serving(binary, model, threads, concurrencies, input_len, output_len):
    out = {"podserve": [], "llama.cpp": []}
    ours = Podserve(binary, model, threads)
    peer_proc, peer_base = start_llama_cpp_server(model, threads)
    no_eos = {"logit_bias": {str(i): -100 for i in EOS_IDS}}
    try:
        for c in concurrencies:
            n = max(8, 2 * c)
            for name, base, extra in (("podserve", ours.base, {"ignore_eos": True}), ("llama.cpp", peer_base, no_eos)):
                r = serving.run_load(base, "", c, n, input_len, output_len, WORDS, extra=extra, seed=c, timeout=120)
                out[name].append(r)
                if "error" in r:
                    print(f"  {name:9s} c={c:2d}: {r['error']}", flush=True)
                    continue
                print(f"  {name:9s} c={c:2d}: {r['output_throughput']:7.1f} out tok/s, median TTFT "
                      f"{r['ttft_ms']['median']:7.1f} ms, median TPOT {r['tpot_ms']['median']:6.1f} ms", flush=True)
    finally:
        ours.close()
        peer_proc.terminate()
        try:
            peer_proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # still busy with requests a timed-out load left queued
            peer_proc.kill()
            peer_proc.wait()
    return out


def markdown(result):
    lines = [f"Machine: {result['machine']}; {result['threads']} threads; {result['time']}; load average at start "
             f"{result['load_average'][0]:.1f}; llama.cpp OMP_WAIT_POLICY {result['llama_cpp_omp_wait_policy']}", "",
             "| model | metric | podserve | llama.cpp | podserve/llama.cpp |", "|---|---|---|---|---|"]
    for m, r in result["engine"].items():
        for k in ("pp512", "tg128"):
            a, b = r["podserve"][k], r["llama.cpp"][k]
            lines.append(f"| {m} | {k} (tok/s) | {a:.1f} | {b:.1f} | {a / b:.2f} |")
    lines += ["", f"Read bandwidth {result['bandwidth_gbs']:.1f} GB/s (numpy, one thread).", "",
              "| model | weight bytes/token | tg bound (tok/s) | podserve tg128 | % of bound |", "|---|---|---|---|---|"]
    for m, r in result["engine"].items():
        bound = result["bandwidth_gbs"] * 1e9 / r["weight_bytes_per_token"]
        tg = r["podserve"]["tg128"]
        lines.append(f"| {m} | {r['weight_bytes_per_token'] / 1e6:.1f} MB | {bound:.0f} | {tg:.1f} | {100 * tg / bound:.0f}% |")
    if result.get("serving"):
        s = result["serving"]
        lines += ["", f"Serving ({s['input_len']} prompt + {s['output_len']} output tokens, stream):", "",
                  "| server | concurrency | output tok/s | TTFT ms mean/median/p99 | TPOT ms mean/median/p99 | "
                  "ITL ms mean/median/p99 | E2EL ms mean/median/p99 |", "|---|---|---|---|---|---|---|"]
        fmt = lambda d: f"{d['mean']:.0f} / {d['median']:.0f} / {d['p99']:.0f}"  # noqa: E731
        for name in ("podserve", "llama.cpp"):
            for r in s[name]:
                if "error" in r:
                    lines.append(f"| {name} | {r['concurrency']} | {r['error']} | | | | |")
                    continue
                lines.append(f"| {name} | {r['concurrency']} | {r['output_throughput']:.1f} | {fmt(r['ttft_ms'])} | "
                             f"{fmt(r['tpot_ms'])} | {fmt(r['itl_ms'])} | {fmt(r['e2el_ms'])} |")
        lines.append("")
        for a, b in zip(s["podserve"], s["llama.cpp"]):
            if "error" in a or "error" in b:
                continue
            lines.append(f"concurrency {a['concurrency']}: output tok/s ratio {a['output_throughput'] / b['output_throughput']:.2f}, "
                         f"median TTFT ratio {a['ttft_ms']['median'] / b['ttft_ms']['median']:.2f}")
    lines += ["", f"podserve cold start {result['cold_start_s']:.2f} s, peak RSS {result['peak_rss_mib']:.0f} MiB "
              f"(model file {result['model_file_mib']:.0f} MiB)"]
    return "\n".join(lines) + "\n"


def plot(result, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    models = list(result["engine"])
    fig, axes = plt.subplots(1, 3 if result.get("serving") else 2, figsize=(13, 4))
    for ax, k in zip(axes, ("pp512", "tg128")):
        x = np.arange(len(models))
        ax.bar(x - 0.2, [result["engine"][m]["podserve"][k] for m in models], 0.4, label="podserve")
        ax.bar(x + 0.2, [result["engine"][m]["llama.cpp"][k] for m in models], 0.4, label="llama.cpp")
        ax.set_xticks(x, models)
        ax.set_title(f"{k} (tokens/s)")
        ax.legend()
    if result.get("serving"):
        ax = axes[2]
        for name in ("podserve", "llama.cpp"):
            rs = [r for r in result["serving"][name] if "error" not in r]
            ax.plot([r["concurrency"] for r in rs], [r["output_throughput"] for r in rs], marker="o", label=name)
        ax.set_xlabel("concurrency")
        ax.set_title("serving: output tokens/s")
        ax.legend()
    fig.suptitle(f"{result['machine']}, {result['threads']} threads")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def machine_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "build/release/podserve"))
    ap.add_argument("--model", default=str(ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-q8", action="store_true", help="skip the Q8_0 model")
    ap.add_argument("--no-serving", action="store_true", help="skip the serving-load part")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--input-len", type=int, default=128)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--omp-passive", action="store_true",
                    help="run llama.cpp with OMP_WAIT_POLICY=PASSIVE: its OpenMP threads spin-wait by default, which "
                         "collapses on a machine busy with other work (1.5 tokens/s seen) but is its fast setting "
                         "on an idle one (passive: ~5x slower tg there)")
    args = ap.parse_args()
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # before llama_cpp loads libgomp
    rng = random.Random(0)
    models = {"Q4_1": args.model}
    if not args.no_q8:
        models["Q8_0"] = make_models.ensure_q8_0(args.model)
    result = {"time": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine_name(),
              "threads": args.threads, "load_average": os.getloadavg(),
              "llama_cpp_omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default (active)"), "engine": {}}
    print(f"{result['machine']}, {args.threads} threads, best of {args.reps} interleaved reps", flush=True)
    result["bandwidth_gbs"] = read_bandwidth_gbs()
    for name, path in models.items():
        print(f"pp512 / tg128 on {name} ({pathlib.Path(path).name}) ...", flush=True)
        best, cold, rss = bench_engine(args.binary, path, args.threads, args.reps, rng)
        best["weight_bytes_per_token"] = weight_bytes_per_token(path)
        result["engine"][name] = best
        if name == "Q4_1":
            result["cold_start_s"], result["peak_rss_mib"] = cold, rss
            result["model_file_mib"] = os.path.getsize(path) / 2**20
    if not args.no_serving:
        print("serving ...", flush=True)
        result["serving"] = {"input_len": args.input_len, "output_len": args.output_len,
                             **bench_serving(args.binary, args.model, args.threads, args.concurrency, args.input_len,
                                             args.output_len)}
    out_dir = ROOT / "bench/results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / result["time"].replace(":", "")
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    table = markdown(result)
    stem.with_suffix(".md").write_text(table)
    print("\n" + table)
    if plot(result, stem.with_suffix(".png")):
        print(f"plot: {stem.with_suffix('.png')}")
    print(f"wrote {stem.with_suffix('.json')}")


if __name__ == "__main__":
    sys.exit(main())
