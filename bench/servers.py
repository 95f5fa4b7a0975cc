"""The serving part of `make bench`: every server behind one small interface, driven by the same client
(bench/serving.py) level by level, so the peers see the same load one after the other.

A Server has a name (the table's row), the model it serves, the request fields that suppress end-of-sequence on
it, and `ready(concurrency)`, which (re)starts it as that load level needs (llama-server gets as many slots as
the level's concurrency, as its users configure it). A new peer is one more Server in make_servers(). A server
that cannot start on this machine (e.g. vLLM without its venv, or its kernels' instruction set) is reported with
the reason at every level instead of ending the bench. Each start is timed: process start to the first completed
one-token request (the cold start, with the model load and any warm-up compilation).
"""
import os
import pathlib
import sys
import time

import requests

import peers
import serving

ROOT = pathlib.Path(__file__).resolve().parents[1]
EOS_IDS = (0, 2)  # SmolLM2: <|endoftext|>, <|im_end|>


class Server:
    def __init__(self, name, model, extra, make_process, per_level=False, start_timeout=600):
        """make_process(concurrency, port) -> peers.ServerProcess (not started)."""
        self.name, self.model, self.extra = name, model, extra
        self.make_process, self.per_level, self.start_timeout = make_process, per_level, start_timeout
        self.proc, self.level = None, None
        self.start_s = []  # each start's cold start, seconds

    def ready(self, concurrency):
        if self.proc is not None and (not self.per_level or self.level == concurrency):
            return self.proc.base
        self.stop()
        t0 = time.perf_counter()
        self.proc = self.make_process(concurrency, peers.free_port()).start(self.start_timeout)
        body = dict(self.extra, prompt="hello", max_tokens=1, temperature=0)
        requests.post(self.proc.base + "/v1/completions", json=body, timeout=600).raise_for_status()
        self.start_s.append(time.perf_counter() - t0)
        self.level = concurrency
        return self.proc.base

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


def podserve_server(name, binary, model, threads, isa_cap):
    env = dict(peers.isa_env(isa_cap), PODSERVE_THREADS=str(threads))
    return Server(name, pathlib.Path(model).name, {"ignore_eos": True}, lambda c, port: peers.ServerProcess(
        name, [binary, "serve", "--model", model, "--port", str(port), "--max-model-len", "2048",
               "--disable-log-stats"], port, env))


def llama_server(llama_bin, model, threads, input_len, output_len):
    """llama.cpp's C++ server: continuous batching over one slot per concurrent request, each slot's context
    long enough for one request; `threads` for generation and prompt batches."""
    def make(c, port):
        n_ctx = c * (input_len + output_len + 64)
        return peers.ServerProcess("llama-server", [
            str(pathlib.Path(llama_bin) / "llama-server"), "-m", model, "--host", "127.0.0.1", "--port", str(port),
            "-t", str(threads), "-tb", str(threads), "-np", str(c), "-cb", "-c", str(n_ctx), "--no-webui"], port,
            ready_path="/health")
    return Server("llama-server", pathlib.Path(model).name, {"ignore_eos": True}, make, per_level=True)


def llama_cpp_python_server(model, threads, decode_threads):
    """llama-cpp-python's OpenAI server (one request at a time), as its users run it for this load:
    interrupt_requests off (else a new request aborts the stream in progress), logits_all off (its default also
    computes the output layer for every prompt token), EOS suppressed by a -100 logit bias (it has no ignore_eos),
    decode threads one fewer than the cores (its Python HTTP thread needs one; bench/llama_server_probe.py)."""
    return Server("llama-cpp-python", pathlib.Path(model).name, {"logit_bias": {str(i): -100 for i in EOS_IDS}},
                  lambda c, port: peers.ServerProcess("llama_cpp.server", [
                      sys.executable, "-m", "llama_cpp.server", "--model", model, "--n_threads", str(decode_threads),
                      "--n_threads_batch", str(threads), "--n_ctx", "4096", "--port", str(port), "--host",
                      "127.0.0.1", "--interrupt_requests", "False", "--logits_all", "False", "--verbose", "False"],
                      port))


def transformers_server(hf_dir, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    return Server("transformers", pathlib.Path(hf_dir).name, {"ignore_eos": True},
                  lambda c, port: peers.ServerProcess("hf_server", [
                      sys.executable, str(ROOT / "bench/hf_server.py"), "--model", hf_dir, "--port", str(port),
                      "--threads", str(threads)], port, env))


def vllm_server(python, hf_dir, kv_cache_gib, threads_bind):
    """vLLM's CPU build as its users start it (`vllm serve`'s module) on the bf16 directory, with its CPU defaults
    but for the KV cache size: VLLM_CPU_OMP_THREADS_BIND=auto binds its compute threads to the cores it does not
    reserve for its front end (VLLM_CPU_NUM_OF_RESERVED_CPU: one core of a 2-core machine), so it computes on
    fewer cores than the others unless `threads_bind` says which (e.g. "0-1")."""
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE=str(kv_cache_gib), VLLM_CPU_OMP_THREADS_BIND=threads_bind)

    def make(c, port):
        if not pathlib.Path(python).exists():
            raise RuntimeError(f"{python} is missing (scripts/setup --vllm-serve)")
        return peers.ServerProcess("vllm", [
            python, "-m", "vllm.entrypoints.openai.api_server", "--model", hf_dir, "--host", "127.0.0.1",
            "--port", str(port), "--dtype", "bfloat16", "--max-model-len", "2048", "--disable-log-stats"], port, env)
    # It compiles its model graph at start (torch.compile, C++ via g++): minutes on a busy 2-core machine.
    return Server("vllm", pathlib.Path(hf_dir).name, {"ignore_eos": True}, make, start_timeout=1800)


def run_level(server, c, args, n):
    try:
        base = server.ready(c)
    except (RuntimeError, requests.RequestException) as e:
        # Not fatal: the table says why at this level (each level retries the start).
        return {"concurrency": c, "num_prompts": n, "completed": 0, "error": "could not start: " + " ".join(str(e).split())[-600:]}
    return serving.run_load(base, "", c, n, args.input_len, args.output_len, args.words,
                            extra=server.extra, seed=c, timeout=args.serving_timeout)


def probe_llama_server_threads(args, gguf_model, log):
    """llama-server's best thread count for this load: a short level (concurrency min(8, the largest level))
    at each candidate (all cores, and one fewer, which leaves its HTTP threads a core), best output tok/s."""
    candidates = sorted({args.threads, max(1, args.threads - 1)}, reverse=True)
    c = min(8, max(args.concurrency))
    out = {"concurrency": c, "results": {}}
    for t in candidates:
        server = llama_server(args.llama_bin, gguf_model, t, args.input_len, args.output_len)
        try:
            r = run_level(server, c, args, max(args.min_prompts, c))
        finally:
            server.stop()
        out["results"][str(t)] = r.get("output_throughput")
        log(f"  llama-server -t {t} at c={c}: " + (f"{r['output_throughput']:.1f} out tok/s" if "error" not in r
                                                   else r["error"]))
    scored = {t: v for t, v in out["results"].items() if v}
    out["best"] = int(max(scored, key=scored.get)) if scored else args.threads
    return out


def make_servers(args, gguf_model, hf_dir, isas, log):
    """The servers of --servers, in the order they take each level."""
    servers = []
    for label, cap in isas:
        name = "podserve" if len(isas) == 1 else f"podserve ({label})"
        servers.append(podserve_server(name, args.binary, gguf_model, args.threads, cap))
    if "llama-server" in args.servers:
        servers.append(llama_server(args.llama_bin, gguf_model, args.llama_server_threads, args.input_len,
                                    args.output_len))
    if "llama-cpp-python" in args.servers:
        servers.append(llama_cpp_python_server(gguf_model, args.threads, max(1, args.threads - 1)))
    if hf_dir and "podserve-bf16" in args.servers:
        servers.append(podserve_server("podserve (bf16 dir)", args.binary, hf_dir, args.threads, isas[0][1]))
    if hf_dir and "transformers" in args.servers:
        servers.append(transformers_server(hf_dir, args.threads))
    if hf_dir and "vllm" in args.servers:
        servers.append(vllm_server(args.vllm_python, hf_dir, args.vllm_kv_cache_gib, args.vllm_threads_bind))
    return servers


def bench_serving(args, gguf_model, hf_dir, isas, log):
    out = {"input_len": args.input_len, "output_len": args.output_len}
    if "llama-server" in args.servers and args.llama_server_threads is None:
        log("llama-server thread probe ...")
        out["llama_server_probe"] = probe_llama_server_threads(args, gguf_model, log)
        args.llama_server_threads = out["llama_server_probe"]["best"]
    out["llama_server_threads"] = args.llama_server_threads
    servers = make_servers(args, gguf_model, hf_dir, isas, log)
    out["servers"] = {s.name: [] for s in servers}
    out["models"] = {s.name: s.model for s in servers}
    try:
        for c in args.concurrency:
            n = max(args.min_prompts, 2 * c)
            for s in servers:
                r = run_level(s, c, args, n)
                out["servers"][s.name].append(r)
                if "error" in r:
                    log(f"  {s.name:22s} c={c:2d}: {r['error']}; restarting it")
                    s.stop()  # drop the queued leftovers, which would load the machine for the next server
                    continue
                log(f"  {s.name:22s} c={c:2d}: {r['output_throughput']:7.1f} out tok/s, median TTFT "
                    f"{r['ttft_ms']['median']:7.1f} ms, median TPOT {r['tpot_ms']['median']:6.1f} ms")
    finally:
        for s in servers:
            s.stop()
    out["start_s"] = {s.name: s.start_s for s in servers}
    return out
