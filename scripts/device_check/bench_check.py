"""Stage (e) of scripts/device-check: `podserve bench` on an 8B-shaped dummy bf16 model (LOAD_FORMAT=dummy,
Meta-Llama-3-8B's config.json: bench/gpu/llama-3-8b.json) with the issue's targets as ratios to the card's limits,
next to the GPU peer the machine has, a transformers `generate` loop in bf16 on the same shapes
(transformers_baseline.py), as the baseline ratio. Writes bench.json (both, and the ratios) into --out.

With --device cpu (the check of this script without a GPU) the model is the tiny smollm2 config and the peer is
skipped unless torch has a GPU.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def model_dir(config: str) -> str:
    """A directory with the config and a tokenizer (dummy loading serves it; a smaller vocabulary is fine)."""
    d = tempfile.mkdtemp(prefix="podserve-bench-")
    shutil.copy(config, os.path.join(d, "config.json"))
    tok = os.path.join(ROOT, "tests", "data", "tiny_models", "smollm2", "f32")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok, name), os.path.join(d, name))
    return d


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    gpu = args.device == "cuda"
    config = os.path.join(ROOT, "bench", "gpu", "llama-3-8b.json") if gpu else \
        os.path.join(ROOT, "tests", "data", "tiny_models", "smollm2", "f32", "config.json")
    d = model_dir(config)
    env = dict(os.environ)
    if os.environ.get("DEVICE_CHECK_LIB_PATH"):
        env["LD_LIBRARY_PATH"] = os.environ["DEVICE_CHECK_LIB_PATH"] + ":" + env.get("LD_LIBRARY_PATH", "")
    bench_json = os.path.join(args.out, "podserve-bench.json")
    sizes = ["-p", "2048", "-b", "2048", "-n", "128", "-r", "3", "--streams", "128", "--input-len", "512",
             "--output-len", "128"] if gpu else \
        ["-p", "64", "-b", "64", "-n", "8", "-r", "1", "--streams", "4", "--input-len", "16", "--output-len", "4"]
    cmd = [args.binary, "bench", "--device", args.device, "--load-format", "dummy", "--dtype", "bfloat16",
           "--model", d, "--mode", "coldstart,tg,pp,streams" + (",limits" if gpu else ""), "--output-json",
           bench_json] + sizes
    print("running:", " ".join(cmd), flush=True)
    rc = subprocess.run(cmd, env=env).returncode
    result = {"podserve": None, "peer": None, "failures": []}
    if rc != 0:
        result["failures"].append(f"podserve bench exited with {rc}")
    else:
        result["podserve"] = json.load(open(bench_json))
    out_json = os.path.join(args.out, "bench.json")
    json.dump(result, open(out_json, "w"), indent=1)  # podserve's figures survive a peer that runs out of time

    peer = None
    try:
        import torch  # noqa: F401  (the GPU image has it; the test venv does not)
        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    deadline = float(os.environ.get("DEVICE_CHECK_STAGE_DEADLINE", time.time() + 165))
    timeout = min(160.0, deadline - time.time() - 5)
    if has_gpu and gpu and timeout < 30:
        result["failures"].append(f"transformers baseline not run: {timeout:.0f} s left of the stage")
    elif has_gpu and gpu:
        try:
            p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "device_check",
                                                             "transformers_baseline.py"), "--config", d],
                               capture_output=True, text=True, timeout=timeout)
            sys.stdout.write(p.stderr[-2000:])
            if p.returncode == 0:
                peer = json.loads(p.stdout.strip().splitlines()[-1])
            else:
                result["failures"].append(f"transformers baseline exited with {p.returncode}")
        except subprocess.TimeoutExpired:
            result["failures"].append(f"transformers baseline ran out of its {timeout:.0f} s")
    else:
        print("peer: skipped (no torch with a GPU here)")
    result["peer"] = peer
    if peer and result["podserve"]:
        tests = {t["test"]: t["avg_ts"] for t in result["podserve"].get("tests", [])}
        gpu_fig = result["podserve"].get("gpu", {})
        versus = {}
        if "tg128" in tests:
            versus["tg128"] = tests["tg128"] / peer["tg128_tokens_per_s"]
        if "pp2048" in tests:
            versus["pp2048"] = tests["pp2048"] / peer["pp2048_tokens_per_s"]
        if "streams" in gpu_fig:
            versus["streams_output"] = gpu_fig["streams"]["tokens_per_s"] / peer["streams_output_tokens_per_s"]
        result["podserve_over_transformers"] = versus
        print("podserve / transformers:", json.dumps(versus))
    json.dump(result, open(out_json, "w"), indent=1)
    shutil.rmtree(d, ignore_errors=True)
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
