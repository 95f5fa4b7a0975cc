"""The markdown tables and the PNG plot of one `make bench` result (bench/run.py writes the result JSON)."""
import numpy as np


def _ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"


def _engine_table(result):
    lines = ["| model | metric | peer | peer t/s | podserve path | podserve t/s | podserve/peer |",
             "|---|---|---|---|---|---|---|"]
    for label, r in result["engine"].items():
        by_isa = r.get("podserve_isa") or {"": r["podserve"]}
        for metric in r["metrics"]:
            b = r[r["peer"]][metric]
            for isa, ours in by_isa.items():
                a = ours[metric]
                lines.append(f"| {label} | {metric} (tok/s) | {r['peer']} | {b:.1f} | {isa} | {a:.1f} | {_ratio(a, b)} |")
    for label, r in result.get("http", {}).items():
        for metric, v in r.items():
            lines.append(f"| {label} | {metric} (tok/s) over HTTP | | | best | {v:.1f} | |")
    return lines


def _spread(result):
    """Each engine's rep-to-rep spread (max / min - 1 over the reps) for the noise note."""
    spreads = []
    for r in result["engine"].values():
        for name, d in r.get("samples", {}).items():
            for v in d.values():
                v = [x for x in v if x]
                if len(v) > 1:
                    spreads.append(max(v) / min(v) - 1)
    return spreads


def _bound_table(result):
    """tg against the memory-bandwidth bound, read against both buffers of `podserve bench --mode bandwidth`."""
    bw = result.get("bandwidth") or {}
    large = bw.get("large")
    if not bw:
        return []
    llc = bw.get("llc_bytes", 0)
    llc_text = f"{llc / 2**20:.0f} MiB" if llc else "unknown size"
    lines = [f"Memory-bandwidth bound of tg = read bandwidth / weight bytes per token; bandwidth by `podserve bench "
             f"--mode bandwidth` ({bw.get('n_threads')} threads of decode's thread pool, {bw.get('isa')} loads, best "
             f"pass, best of the pp/tg reps; GB = 1e9 bytes). **(a)** reads a buffer of exactly the weight bytes per "
             f"token, the working set decode streams: where it fits the last-level cache ({llc_text} here) that is "
             "cache bandwidth, and the bound that applies on this machine. **(b)** reads a buffer far larger than "
             "that cache"]
    if large:
        cap = (f", capped; 4 x cache = {large['wanted_bytes'] / 2**20:.0f} MiB" if large.get("capped") else "")
        lines[0] += (f" ({large['bytes'] / 2**20:.0f} MiB{cap}): main-memory bandwidth, the bound on a machine whose "
                     f"cache cannot hold the model. (b) = {large['best_gbs']:.1f} GB/s.")
    else:
        lines[0] += " (not measured)."
    lines += ["", "| model | weight bytes/token | fits cache | (a) GB/s | tg bound (a) | % of (a) | tg bound (b) | "
              "% of (b) | podserve tg |", "|---|---|---|---|---|---|---|---|---|"]
    for label, r in result["engine"].items():
        nbytes, tg = r["weight_bytes_per_token"], r["podserve"][r["metrics"][1]]
        bound_a = r["bandwidth_gbs"] * 1e9 / nbytes
        fits = "yes" if llc and nbytes <= llc else ("no" if llc else "?")
        b_cols = "- | -"
        if large:
            bound_b = large["best_gbs"] * 1e9 / nbytes
            b_cols = f"{bound_b:.0f} | {100 * tg / bound_b:.0f}%"
        lines.append(f"| {label} | {nbytes / 1e6:.1f} MB | {fits} | {r['bandwidth_gbs']:.1f} | {bound_a:.0f} | "
                     f"{100 * tg / bound_a:.0f}% | {b_cols} | {tg:.1f} |")
    return lines


def _throughput_table(t):
    lines = [f"Offline throughput ({t['num_prompts']} prompts of {t['input_len']} random tokens, {t['output_len']} "
             "output tokens each, temperature 1; `vllm bench throughput`'s figures):", "",
             "| engine | how | requests/s | total tokens/s | output tokens/s | elapsed s |", "|---|---|---|---|---|---|"]
    for name, how in (("podserve", "engine, continuous batching"),
                      ("llama.cpp", "llama-cpp-python, sequential (no batching)"),
                      ("transformers", f"generate, batches of {t.get('hf_batch_size')}")):
        r = t.get(name)
        if r:
            lines.append(f"| {name} | {how} | {r['requests_per_second']:.2f} | {r['tokens_per_second']:.1f} | "
                         f"{r['output_tokens_per_second']:.1f} | {r['elapsed_time']:.1f} |")
    a = t.get("podserve")
    for peer in ("llama.cpp", "transformers"):
        if a and t.get(peer):
            lines.append(f"\npodserve/{peer} output tokens/s: "
                         f"{_ratio(a['output_tokens_per_second'], t[peer]['output_tokens_per_second'])}")
    return lines


def _serving_table(s):
    fmt = lambda d: f"{d['mean']:.0f} / {d['median']:.0f} / {d['p99']:.0f}"  # noqa: E731
    lines = [f"Serving ({s['input_len']} prompt + {s['output_len']} output tokens, stream, /v1/completions):", "",
             "| server | model | concurrency | output tok/s | TTFT ms mean/median/p99 | TPOT ms mean/median/p99 | "
             "ITL ms mean/median/p99 | E2EL ms mean/median/p99 |", "|---|---|---|---|---|---|---|---|"]
    for name, runs in s["servers"].items():
        for r in runs:
            if "error" in r:
                lines.append(f"| {name} | {s['models'][name]} | {r['concurrency']} | {r['error']} | | | | |")
                continue
            lines.append(f"| {name} | {s['models'][name]} | {r['concurrency']} | {r['output_throughput']:.1f} | "
                         f"{fmt(r['ttft_ms'])} | {fmt(r['tpot_ms'])} | {fmt(r['itl_ms'])} | {fmt(r['e2el_ms'])} |")
    for name in s["servers"]:
        if not name.startswith("podserve"):
            continue
        for peer, runs in s["servers"].items():
            if peer.startswith("podserve"):
                continue
            for a, b in zip(s["servers"][name], runs):
                if "error" in a:
                    continue
                if "error" in b:
                    lines.append(f"\n{name} vs {peer}, concurrency {a['concurrency']}: {peer} {b['error']}")
                    continue
                lines.append(f"\n{name} vs {peer}, concurrency {a['concurrency']}: output tok/s ratio "
                             f"{_ratio(a['output_throughput'], b['output_throughput'])}, median TTFT ratio "
                             f"{_ratio(a['ttft_ms']['median'], b['ttft_ms']['median'])}")
    starts = {name: t for name, t in s.get("start_s", {}).items() if t}
    if starts:
        lines.append("\nServer cold start (process start to the first completed one-token request; s): " + "; ".join(
            f"{name} {', '.join(f'{x:.1f}' for x in t)}" for name, t in starts.items()) + ".")
    probe = s.get("llama_server_probe")
    if probe:
        tried = ", ".join(f"-t {t}: {v:.1f}" if v else f"-t {t}: failed" for t, v in probe["results"].items())
        lines.append(f"\nllama-server ran with -t/-tb {s['llama_server_threads']}, the best of a probe at concurrency "
                     f"{probe['concurrency']} (output tok/s: {tried}).")
    elif s.get("llama_server_threads"):  # None: llama-server was not among the servers
        lines.append(f"\nllama-server ran with -t/-tb {s['llama_server_threads']} (--llama-server-threads).")
    return lines


def markdown(result):
    la = result["load_average"]
    lines = [f"Machine: {result['machine']}; {result['threads']} threads; {result['time']}; load average at start "
             f"{la[0]:.1f}, at end {result.get('load_average_end', la)[0]:.1f}; podserve paths "
             f"{', '.join(result.get('isas', []))}; llama.cpp OMP_WAIT_POLICY {result['llama_cpp_omp_wait_policy']}; "
             f"best of {result['reps']} interleaved reps"]
    if result["engine"]:
        lines += ["", "pp/tg as llama-bench (random tokens, no sampling; podserve by `podserve bench`, in process, "
                  "at each instruction-set path; llama.cpp by its own `llama-bench`, default settings; transformers "
                  "in process on the bf16 directory):", ""]
        lines += _engine_table(result)
        spreads = _spread(result)
        if spreads:
            lines += ["", f"Noise: rep-to-rep spread (max/min - 1) of every engine's figures: median "
                      f"{100 * float(np.median(spreads)):.0f}%, worst {100 * max(spreads):.0f}%."]
        lines += [""] + _bound_table(result)
    if result.get("throughput"):
        lines += [""] + _throughput_table(result["throughput"])
    if result.get("serving"):
        lines += [""] + _serving_table(result["serving"])
    if result.get("structured"):
        import structured  # bench/structured.py
        lines += [""] + structured.markdown(result["structured"])
    if "cold_start_s" in result:
        lines += ["", f"podserve cold start {result['cold_start_s']:.2f} s (process start to the first completed "
                  f"request), peak RSS {result['peak_rss_mib']:.0f} MiB (model file {result['model_file_mib']:.0f} MiB)"]
    return "\n".join(lines) + "\n"


def plot(result, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    panels = (["pp", "tg"] if result["engine"] else []) + (["throughput"] if result.get("throughput") else []) + (
        ["serving"] if result.get("serving") else [])
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4), squeeze=False)
    axes = list(axes[0])
    labels = list(result["engine"])
    x = np.arange(len(labels))
    for ax, i in zip(axes if labels else [], (0, 1)):
        ours = [result["engine"][m]["podserve"][result["engine"][m]["metrics"][i]] for m in labels]
        peer = [result["engine"][m][result["engine"][m]["peer"]][result["engine"][m]["metrics"][i]] for m in labels]
        ax.bar(x - 0.2, ours, 0.4, label="podserve (best path)")
        ax.bar(x + 0.2, peer, 0.4, label="peer (llama.cpp; transformers for bf16)")
        ax.set_xticks(x, labels)
        ax.set_title(f"{result['engine'][labels[0]]['metrics'][i]} (tokens/s)")
        ax.legend(fontsize=7)
    rest = axes[2:] if labels else axes
    if result.get("throughput"):
        ax = rest.pop(0)
        t = result["throughput"]
        names = [n for n in ("podserve", "llama.cpp", "transformers") if t.get(n)]
        ax.bar(names, [t[n]["output_tokens_per_second"] for n in names])
        ax.set_title(f"offline throughput, {t['num_prompts']} prompts\n(output tokens/s)")
    if result.get("serving"):
        ax = rest.pop(0)
        for name, runs in result["serving"]["servers"].items():
            rs = [r for r in runs if "error" not in r]
            ax.plot([r["concurrency"] for r in rs], [r["output_throughput"] for r in rs], marker="o", label=name)
        ax.set_xscale("log", base=2)
        levels = sorted({r["concurrency"] for runs in result["serving"]["servers"].values() for r in runs})
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.set_xlabel("concurrency")
        ax.set_title("serving: output tokens/s")
        ax.legend(fontsize=7)
    fig.suptitle(f"{result['machine']}, {result['threads']} threads")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True
