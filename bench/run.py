#!/usr/bin/env python3
"""make bench: podserve next to llama.cpp (llama-cpp-python) and Hugging Face transformers on the same model and
machine, same thread count, one run.

Parts (each comparison interleaves the peers rep by rep, so machine noise hits both alike; ratios are
podserve / peer; engines in bench/peers.py):
- pp512 / tg128 as llama-bench defines them (random tokens from position 0; pp = one pass of 512 prompt
  tokens, tg = 128 single-token passes; no sampling), best of --reps: podserve by `podserve bench` (engine-level,
  in process) vs llama.cpp in process, on the Q4_1 model and on Q8_0 and F16 GGUFs made from it; podserve vs
  transformers on a bf16 safetensors directory made from it (bench/make_models.py). podserve's pp/tg over its
  OpenAI HTTP API is a separate row (HTTP + JSON + sampling included).
- the memory-bandwidth bound of tg: bytes of weights read per token / read bandwidth, measured by `podserve bench
  --mode bandwidth` (decode's thread pool and thread count, AVX-512/AVX2 loads, best pass), interleaved with the
  pp/tg reps, over two buffers: (a) exactly the weight bytes per token, the working set decode streams (on a
  machine whose last-level cache holds the model, e.g. this 480 MiB-L3 VM, that is cache bandwidth, and the
  bound that applies), and (b) 4x the last-level cache (capped at 4 GiB), main-memory bandwidth: the bound on a
  machine whose cache cannot hold the model. The table shows tg as % of both.
- offline throughput over one fixed set of 256 prompts, `vllm bench throughput`'s figures: podserve's engine
  (continuous batching), llama.cpp (sequential: it has no batching), transformers (generate over batches).
- serving at concurrency 1, 8, 32, 64 against each server's /v1/completions (stream, fixed lengths, EOS
  suppressed): TTFT / TPOT / ITL / E2EL mean, median, p99 and output tokens/s as `vllm bench serve` reports
  them (bench/serving.py): podserve and llama-cpp-python's OpenAI server on the Q4_1 GGUF, and the baseline, a
  plain transformers generate loop serving one request at a time (bench/hf_server.py), on the bf16 directory.
  llama-cpp-python's server runs as its users would run it for this load: `--logits_all False` (its default
  computes the output layer for every prompt token, for logprobs), EOS suppressed by a -100 logit bias (it has
  no ignore_eos); a note under the table puts its TPOT next to the same library's in-process decode, and
  bench/llama_server_probe.py times its configurations one change at a time. A level that does not finish in
  --serving-timeout is reported as timed out (with the requests done), not fatal.
- podserve cold start (process start to the first completed request) and peak RSS.
Results: bench/results/<time>.json and <time>.md (the tables printed at the end), <time>.png (matplotlib).
`--quick`: one rep, short throughput and serving loads: a smoke run of every part. Narrower runs: `--only-q4`,
`--no-hf`, `--no-throughput`, `--no-serving`, `--no-engine` (no pp/tg, bandwidth, HTTP rows), `--servers`
(which servers serve), `--concurrency`, `--input-len`/`--output-len`, `--serving-timeout`.
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
import peers  # noqa: E402
import report  # noqa: E402
import serving  # noqa: E402
import structured  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORDS = ("the quick brown fox jumps over lazy dog while small bird sings in old oak tree and river runs past "
         "mill toward sea under bright sky near green hill with tall grass").split()
EOS_IDS = (0, 2)  # SmolLM2: <|endoftext|>, <|im_end|>


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


def bench_engine(args, model, peer_name, rng, bandwidth):
    """pp/tg of `podserve bench` and one in-process peer, interleaved rep by rep, with podserve's read-bandwidth
    probe in the same reps (the weights-sized buffer; the large one too while bandwidth["large"] is unset, i.e.
    on the first model); best of the reps."""
    extra = ["--dtype", "bfloat16"] if peer_name == "transformers" else []
    ours = peers.PodserveBench(args.binary, model, args.threads, extra)
    peer = peers.Transformers(model, args.threads) if peer_name == "transformers" else peers.LlamaCpp(model, args.threads)
    pp, tg = f"pp{args.n_prompt}", f"tg{args.n_gen}"
    res = {"podserve": {pp: [], tg: []}, peer_name: {pp: [], tg: []}}
    first_model = "large" not in bandwidth
    weights_gbs, large = [], []
    peer.tg(random_ids(rng, peer.vocab_size, 2))  # warm-up, as podserve bench and llama-bench do
    for rep in range(args.reps):
        prompt, gen = random_ids(rng, peer.vocab_size, args.n_prompt), random_ids(rng, peer.vocab_size, args.n_gen)
        order = ("podserve", peer_name) if rep % 2 == 0 else (peer_name, "podserve")
        for name in order:
            if name == "podserve":
                a, b = ours.pp_tg(args.n_prompt, args.n_gen, seed=rep)
            else:
                a, b = peer.pp(prompt), peer.tg(gen)
            res[name][pp].append(a)
            res[name][tg].append(b)
        bw = ours.bandwidth(large=first_model)
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
    out = {name: {k: max(v) for k, v in d.items()} for name, d in res.items()}
    return {"file": model, "peer": peer_name, "metrics": [pp, tg], "weight_bytes_per_token":
            weight_bytes_per_token(model), "bandwidth_gbs": max(weights_gbs), "bandwidth_samples_gbs": weights_gbs,
            "samples": res, **out}


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


def make_servers(args, gguf_model, hf_dir):
    """The servers of --servers (hf_dir None: no transformers), each with the request fields that suppress EOS."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PODSERVE_THREADS=str(args.threads))
    ports = [peers.free_port() for _ in range(3)]
    servers = {
        "podserve": (peers.ServerProcess("podserve", [args.binary, "serve", "--model", gguf_model, "--port",
                                                      str(ports[0]), "--max-model-len", "2048", "--disable-log-stats"],
                                         ports[0], env), {"ignore_eos": True}, pathlib.Path(gguf_model).name),
        # interrupt_requests off: by default a new request aborts the stream in progress instead of queueing.
        # logits_all off: its default (on, for `logprobs`) also computes the output layer for every prompt
        # token, which this load never asks for. It has no ignore_eos: a -100 logit bias on both end ids (its
        # min_tokens bans only one of them). bench/llama_server_probe.py measures these choices.
        # n_threads: its decode threads spin while its Python HTTP thread streams each token, so on a small machine
        # it is fastest with one core left to that thread (2-core VM: TPOT 10 ms at 1 decode thread, 54 ms at 2;
        # bench/llama_server_probe.py's n_threads-1 row); --llama-server-threads picks another count.
        "llama.cpp": (peers.ServerProcess("llama_cpp.server", [
            sys.executable, "-m", "llama_cpp.server", "--model", gguf_model, "--n_threads", str(args.llama_server_threads),
            "--n_threads_batch", str(args.threads), "--n_ctx", "4096", "--port", str(ports[1]), "--host",
            "127.0.0.1", "--interrupt_requests", "False", "--logits_all", "False", "--verbose", "False"], ports[1]),
            {"logit_bias": {str(i): -100 for i in EOS_IDS}}, pathlib.Path(gguf_model).name),
    }
    if hf_dir and "transformers" in args.servers:
        servers["transformers"] = (peers.ServerProcess("hf_server", [
            sys.executable, str(ROOT / "bench/hf_server.py"), "--model", hf_dir, "--port", str(ports[2]),
            "--threads", str(args.threads)], ports[2]), {"ignore_eos": True}, pathlib.Path(hf_dir).name)
    return {name: s for name, s in servers.items() if name in args.servers}


def bench_serving(args, gguf_model, hf_dir):
    servers = make_servers(args, gguf_model, hf_dir)
    out = {"input_len": args.input_len, "output_len": args.output_len, "servers": {n: [] for n in servers},
           "models": {n: s[2] for n, s in servers.items()}}
    try:
        for server, _, _ in servers.values():
            server.start()
        for c in args.concurrency:
            n = max(args.min_prompts, 2 * c)
            for name, (server, extra, _) in servers.items():
                r = serving.run_load(server.base, "", c, n, args.input_len, args.output_len, WORDS, extra=extra, seed=c,
                                     timeout=args.serving_timeout)
                out["servers"][name].append(r)
                if "error" in r:
                    log(f"  {name:12s} c={c:2d}: {r['error']}; restarting it")
                    server.stop()  # drop the queued leftovers, which would load the machine for the next peer
                    server.start()
                    continue
                log(f"  {name:12s} c={c:2d}: {r['output_throughput']:7.1f} out tok/s, median TTFT "
                    f"{r['ttft_ms']['median']:7.1f} ms, median TPOT {r['tpot_ms']['median']:6.1f} ms")
    finally:
        for server, _, _ in servers.values():
            server.stop()
    return out


def machine_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs"


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=str(ROOT / "build/release/podserve"))
    ap.add_argument("--model", default=str(ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 rep, short throughput and serving loads")
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("--only-q4", action="store_true", help="pp/tg on the Q4_1 model only (no Q8_0/F16/bf16)")
    ap.add_argument("--no-hf", action="store_true", help="skip transformers (the bf16 directory and its peers)")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--no-serving", action="store_true")
    ap.add_argument("--no-engine", action="store_true",
                    help="skip pp/tg, the bandwidth bound and podserve over HTTP (e.g. to rerun only serving)")
    ap.add_argument("--llama-server-threads", type=int, default=None,
                    help="decode threads of llama-cpp-python's server (default: --threads - 1, at least 1: its "
                         "Python HTTP thread needs a core of its own; prompt threads stay --threads)")
    ap.add_argument("--servers", default="podserve,llama.cpp,transformers",
                    help="comma-separated servers for the serving part (podserve, llama.cpp, transformers)")
    ap.add_argument("--num-prompts", type=int, default=256, help="offline throughput prompts")
    ap.add_argument("--tp-input-len", type=int, default=128)
    ap.add_argument("--tp-output-len", type=int, default=128)
    ap.add_argument("--hf-batch-size", type=int, default=32, help="transformers generate batch (offline throughput)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    ap.add_argument("--input-len", type=int, default=128)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--min-prompts", type=int, default=8, help="serving: requests per level = max(this, 2 x c)")
    ap.add_argument("--serving-timeout", type=float, default=120, help="seconds per server and level")
    ap.add_argument("--no-structured", action="store_true", help="skip the structured-output part")
    ap.add_argument("--fixtures", default=str(ROOT.parent / "shared/fixtures"),
                    help="shared fixtures (the Llama 3.1 tokenizer for the grammar compile time)")
    ap.add_argument("--omp-passive", action="store_true",
                    help="run the peers with OMP_WAIT_POLICY=PASSIVE (llama.cpp in process and its server, the "
                         "transformers server and generate): their OpenMP threads spin-wait by default, which "
                         "collapses on a machine busy with other work (llama.cpp: 1.5 tokens/s seen; the "
                         "transformers server: 7-11 s instead of 1.1-1.3 s per 16+8-token request at load 5) but "
                         "is their fast setting on an idle one")
    args = ap.parse_args()
    if args.llama_server_threads is None:
        args.llama_server_threads = max(1, args.threads - 1)
    args.servers = args.servers.split(",")
    unknown = set(args.servers) - {"podserve", "llama.cpp", "transformers"}
    if unknown:
        ap.error(f"--servers: unknown {', '.join(sorted(unknown))}")
    if args.quick:
        args.reps, args.num_prompts, args.tp_input_len, args.tp_output_len = 1, 8, 32, 16
        args.concurrency, args.input_len, args.output_len, args.min_prompts = [1, 4], 32, 16, 4
        args.serving_timeout, args.hf_batch_size = 60, 4
    return args


def main():
    faulthandler.enable()  # a native crash in a peer library prints where it happened
    args = parse_args()
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # before llama_cpp loads libgomp
    rng = random.Random(0)
    # The variants are made in a child process: torch must not compute in this one before llama.cpp has run.
    made = subprocess.run([sys.executable, str(ROOT / "bench/make_models.py"), args.model], check=True,
                          stdout=subprocess.PIPE, text=True).stdout.split()
    models = {"Q4_1": (args.model, "llama.cpp")}
    if not args.only_q4:
        models["Q8_0"], models["F16"] = (made[0], "llama.cpp"), (made[1], "llama.cpp")
    hf_dir = None if args.no_hf else made[2]
    if hf_dir and not args.only_q4:
        models["bf16 dir"] = (hf_dir, "transformers")
    result = {"time": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine_name(),
              "threads": args.threads, "llama_server_threads": args.llama_server_threads, "reps": args.reps, "load_average": os.getloadavg(),
              "llama_cpp_omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default (active)"), "engine": {}}
    log(f"{result['machine']}, {args.threads} threads, best of {args.reps} interleaved reps")
    result["bandwidth"] = {}  # filled by the first bench_engine (the large buffer, the probe's settings)
    # One fixed prompt set for the offline-throughput peers (podserve bench draws its own, same lengths).
    vocab = gguf_vocab_size(args.model)
    prompts = [random_ids(random.Random(1000 + i), vocab, args.tp_input_len) for i in range(args.num_prompts)]
    # Every in-process llama.cpp run comes before the first torch computation: llama.cpp hit SIGILL in
    # llama_decode when it ran after transformers in the same process.
    gguf_labels = [m for m in models if models[m][1] == "llama.cpp"]
    for label in [] if args.no_engine else gguf_labels + [m for m in models if m not in gguf_labels]:
        path, peer = models[label]
        if peer == "transformers" and not args.no_throughput and "throughput" not in result:
            log("offline throughput (podserve, llama.cpp) ...")
            result["throughput"] = bench_throughput(args, args.model, prompts)
        log(f"pp{args.n_prompt} / tg{args.n_gen} on {label} ({pathlib.Path(path).name}), podserve vs {peer} ...")
        result["engine"][label] = bench_engine(args, path, peer, rng, result["bandwidth"])
    if not args.no_throughput and "throughput" not in result:
        log("offline throughput (podserve, llama.cpp) ...")
        result["throughput"] = bench_throughput(args, args.model, prompts)
    if not args.no_throughput and hf_dir:
        result["throughput"]["transformers"] = bench_throughput_hf(args, hf_dir, prompts)
    if not args.no_engine:
        log("podserve over HTTP (Q4_1), cold start, peak RSS ...")
        http, result["cold_start_s"], result["peak_rss_mib"] = bench_http(args, args.model, rng)
        result["http"] = {"Q4_1": http}
        result["model_file_mib"] = os.path.getsize(args.model) / 2**20
    if not args.no_serving:
        log("serving ...")
        result["serving"] = bench_serving(args, args.model, hf_dir)
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
