"""Stage (f) of scripts/device-check: the same greedy requests served on the CPU and on the device, compared.

For each model, `podserve serve` starts on --device cpu, answers 8 greedy completions (16 tokens, logprobs 5),
stops; then the same on --device (cuda). Raw HTTP, so no client package is needed.

  real tiny models (smollm2 safetensors f32 and bf16; the tiny GGUFs are stage b's): the two devices' tokens agree by vLLM's rule
      (check_logprobs_close: identical, or at the first difference each token is in the other's top 5)
  the tiny smollm2 f32 with LoRA (--enable-lora, the committed peft adapters alpha and beta): each prompt asked of
      alpha, beta and the base model, the 24 requests at once, so steps mix adapters; same rule (the CPU's LoRA is
      checked against peft by lora_model_test), and the adapters must change some greedy answer on both devices
      (else a device that ignored them would pass)
  a dummy model of a real shape (LOAD_FORMAT=dummy, SmolLM2-1.7B's config: 24 layers, 2048 wide, vocab 49152):
      its weights are uniform in +-1e-3, so its logits are nearly flat and its argmax is noise; it checks that a
      model of that size loads, plans memory, serves and gives finite logprobs that agree with the CPU's (the top
      logprob within 0.05 nats), not the tokens

Prints one JSON object as its last line; exits 1 when a check fails.
"""

import argparse
import concurrent.futures
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from serve_check import close_by_vllm_rule, free_port, stop_server, wait_healthy  # noqa: E402

PROMPTS = [f"The {w} of the matter is" for w in ("heart", "end", "state", "truth", "cost", "size", "rest", "edge")]


def completions(base: str, prompt: str, max_tokens: int, model: str = "m"):
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                       "logprobs": 5}).encode()
    req = urllib.request.Request(base + "/v1/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        lp = json.load(r)["choices"][0]["logprobs"]
    return lp["tokens"], lp["top_logprobs"]


def serve_and_ask(binary, device, model_args, port, log_path, max_tokens, env, names=None):
    """Each prompt's (tokens, top logprobs); with `names`, each prompt is asked of every name (name-major order),
    all at once."""
    cmd = [binary, "serve", *model_args, "--device", device, "--port", str(port), "--host", "127.0.0.1",
           "--served-model-name", "m", "--max-model-len", "512"]
    with open(log_path, "a") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, proc, 150)
        if not names:
            return [completions(base, p, max_tokens) for p in PROMPTS]
        with concurrent.futures.ThreadPoolExecutor(len(PROMPTS) * len(names)) as pool:
            jobs = [pool.submit(completions, base, p, max_tokens, name) for name in names for p in PROMPTS]
            return [j.result() for j in jobs]
    finally:
        stop_server(proc)


def with_tokenizer(files: dict) -> str:
    """A temporary model directory: `files` (name -> path) linked in, and the tiny smollm2 tokenizer."""
    d = tempfile.mkdtemp(prefix="podserve-compare-")
    tok = os.path.join(ROOT, "tests", "data", "tiny_models", "smollm2", "f32")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        files.setdefault(name, os.path.join(tok, name))
    for name, path in files.items():
        os.symlink(os.path.abspath(path), os.path.join(d, name))
    return d


def compare_tokens(cpu, dev):
    """vLLM's rule per prompt: (identical count, close count)."""
    rules = [close_by_vllm_rule(a, b) for a, b in zip(cpu, dev)]
    return sum(1 for r in rules if r[0]), sum(1 for r in rules if r[1])


def compare_flat(cpu, dev, tolerance=0.05):
    """For a dummy model: every top logprob finite; the first step's best logprob equal within `tolerance`."""
    worst = 0.0
    for (_, la), (_, lb) in zip(cpu, dev):
        for step in la + lb:
            if not step or not all(math.isfinite(v) for v in step.values()):
                return math.inf
        worst = max(worst, abs(max(la[0].values()) - max(lb[0].values())))
    return worst


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--device", default="cuda", help="the device compared with the CPU")
    ap.add_argument("--log", default="compare_server.log")
    ap.add_argument("--port", type=int, default=0, help="default: a free one")
    ap.add_argument("--dummy-config", default=os.path.join(ROOT, "bench", "gpu", "smollm2-1.7b.json"))
    ap.add_argument("--max-tokens", type=int, default=16)
    args = ap.parse_args()
    env = dict(os.environ)
    if os.environ.get("DEVICE_CHECK_LIB_PATH"):
        env["LD_LIBRARY_PATH"] = os.environ["DEVICE_CHECK_LIB_PATH"] + ":" + env.get("LD_LIBRARY_PATH", "")
    tiny = os.path.join(ROOT, "tests", "data", "tiny_models", "smollm2")
    bf16 = with_tokenizer({n: os.path.join(tiny, "bf16", n) for n in ("config.json", "model.safetensors")})
    dummy = with_tokenizer({"config.json": args.dummy_config})
    lora = os.path.join(ROOT, "tests", "data", "lora")
    lora_args = ["--model", os.path.join(tiny, "f32"), "--enable-lora", "--max-lora-rank", "16", "--lora-modules",
                 f"alpha={os.path.join(lora, 'alpha')}", f"beta={os.path.join(lora, 'beta')}"]
    models = [
        ("smollm2-f32", ["--model", os.path.join(tiny, "f32")], "tokens"),
        ("smollm2-f32-lora", lora_args, "tokens"),
        ("smollm2-bf16", ["--model", bf16], "tokens"),
        ("dummy-" + os.path.basename(args.dummy_config)[:-5],
         ["--model", dummy, "--load-format", "dummy", "--dtype", "bfloat16"], "flat"),
    ]
    figures = {"device": args.device, "models": {}}
    failures = []
    for name, model_args, rule in models:
        names = ["alpha", "beta", "m"] if "--enable-lora" in model_args else None
        try:
            cpu = serve_and_ask(args.binary, "cpu", model_args, args.port or free_port(), args.log,
                                args.max_tokens, env, names)
            dev = serve_and_ask(args.binary, args.device, model_args, args.port or free_port(), args.log,
                                args.max_tokens, env, names)
        except Exception as e:  # a server that does not start or answer fails this model, not the others
            failures.append(f"{name}: {type(e).__name__}: {e}")
            continue
        if rule == "tokens":
            identical, close = compare_tokens(cpu, dev)
            figures["models"][name] = {"identical": identical, "close": close, "prompts": len(cpu)}
            if close != len(cpu):
                failures.append(f"{name}: {len(cpu) - close} of {len(cpu)} greedy outputs differ between "
                                f"the CPU and {args.device} beyond vLLM's top-5 rule")
            if names:  # per device: answers of an adapter that differ from the base model's, same prompt
                n = len(PROMPTS)
                base = names.index("m")
                for dev_name, answers in (("cpu", cpu), (args.device, dev)):
                    moved = sum(1 for k, _ in enumerate(names) if k != base for i in range(n)
                                if answers[k * n + i][0] != answers[base * n + i][0])
                    figures["models"][name][f"adapter_changed_{dev_name}"] = moved
                    if moved == 0:
                        failures.append(f"{name}: on {dev_name} no adapter changed any greedy answer")
        else:
            worst = compare_flat(cpu, dev)
            figures["models"][name] = {"max_top_logprob_diff": worst, "prompts": len(PROMPTS)}
            if not worst <= 0.05:
                failures.append(f"{name}: top logprobs differ by {worst} between the CPU and {args.device} "
                                "(or are not finite)")
        print(name, json.dumps(figures["models"][name]), flush=True)
    for d in (bf16, dummy):
        shutil.rmtree(d, ignore_errors=True)
    figures["failures"] = failures
    print(json.dumps(figures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
