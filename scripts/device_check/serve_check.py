"""Stage (d) of scripts/device-check: `podserve serve` driven by the official openai client.

1. 64 concurrent streaming chat completions all finish with text.
2. Batch invariance of greedy outputs: each of 8 prompts run alone, then all of them among 56 other concurrent
   requests; the two token sequences must agree by vLLM's own rule (check_logprobs_close: identical, or at the
   first difference each side's token is in the other's top-5 logprobs), since a batch of more than 8 decodes
   through the GEMM instead of the GEMV on a GPU.
3. An abort storm: 64 long streams opened and dropped after their first chunks; afterwards the server reports
   0 running requests and 0% KV cache usage (vllm:num_requests_running, vllm:kv_cache_usage_perc).

Prints one JSON object (the figures) as its last line; exits 1 when a check fails.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"podserve exited with {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"podserve was not healthy after {timeout} s")


def free_port() -> int:
    """A port nothing listens on now (a fixed one can be taken on a shared machine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_server(proc: subprocess.Popen) -> None:
    """Ends the server: SIGTERM (its graceful drain), SIGKILL after 30 s."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def metric(base: str, name: str, labels: str = "") -> float:
    """The sum of a metric's samples (those whose labels contain `labels`)."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    total = 0.0
    found = False
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? ([-+0-9.eE]+)$", line)
        if m and labels in (m.group(1) or ""):
            total += float(m.group(2))
            found = True
    if not found:
        raise RuntimeError(f"metric {name} not found")
    return total


def greedy(client, model: str, prompt: str, max_tokens: int):
    r = client.completions.create(model=model, prompt=prompt, max_tokens=max_tokens, temperature=0, logprobs=5)
    lp = r.choices[0].logprobs
    return lp.tokens, lp.top_logprobs


def close_by_vllm_rule(a, b) -> tuple:
    """(identical, ok): vLLM's check_logprobs_close on two (tokens, top_logprobs) outputs."""
    ta, la = a
    tb, lb = b
    for i, (x, y) in enumerate(zip(ta, tb)):
        if x != y:
            return False, x in lb[i] and y in la[i]
    return len(ta) == len(tb), True


def main() -> int:
    import openai  # here, so compare_check.py can use this file's helpers without the client

    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--port", type=int, default=0, help="default: a free one")
    ap.add_argument("--log", default="serve_check_server.log")
    ap.add_argument("--streams", type=int, default=64)
    args = ap.parse_args()

    env = dict(os.environ)
    if os.environ.get("DEVICE_CHECK_LIB_PATH"):  # the carried libraries, for podserve only (not for this Python)
        env["LD_LIBRARY_PATH"] = os.environ["DEVICE_CHECK_LIB_PATH"] + ":" + env.get("LD_LIBRARY_PATH", "")
    args.port = args.port or free_port()
    base = f"http://127.0.0.1:{args.port}"
    cmd = [args.binary, "serve", "--model", args.model, "--device", args.device, "--dtype", args.dtype,
           "--port", str(args.port), "--host", "127.0.0.1", "--max-num-seqs", "128", "--served-model-name", "m"]
    figures = {"device": args.device}
    failures = []
    with open(args.log, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_healthy(base, proc, 120)
        client = openai.OpenAI(base_url=base + "/v1", api_key="none", max_retries=0, timeout=120)

        # 1. Concurrent streams.
        def stream(i):
            s = client.chat.completions.create(model="m", stream=True, max_tokens=24, temperature=0.7, seed=i,
                                               messages=[{"role": "user", "content": f"Story number {i}:"}])
            text, finish = "", None
            for chunk in s:
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
                    finish = chunk.choices[0].finish_reason or finish
            return text, finish

        t0 = time.time()
        with ThreadPoolExecutor(args.streams) as pool:
            results = list(pool.map(stream, range(args.streams)))
        figures["streams"] = args.streams
        figures["streams_seconds"] = round(time.time() - t0, 3)
        done = sum(1 for text, finish in results if finish in ("stop", "length"))
        figures["streams_finished"] = done
        if done != args.streams:
            failures.append(f"{args.streams - done} of {args.streams} streams did not finish")

        # 2. Batch invariance (greedy, logprobs 5): alone, then among 56 other requests.
        prompts = [f"The {w} of the matter is" for w in ("heart", "end", "state", "truth", "cost", "size", "rest", "edge")]
        alone = [greedy(client, "m", p, 32) for p in prompts]
        stop = threading.Event()

        def noise(i):
            while not stop.is_set():
                client.completions.create(model="m", prompt=f"noise {i} " * (i % 7 + 1), max_tokens=16, temperature=1.0)

        with ThreadPoolExecutor(56 + len(prompts)) as pool:
            noisy = [pool.submit(noise, i) for i in range(56)]
            time.sleep(0.5)
            batched = list(pool.map(lambda p: greedy(client, "m", p, 32), prompts))
            stop.set()
            for f in noisy:
                f.result()
        identical = sum(1 for a, b in zip(alone, batched) if close_by_vllm_rule(a, b)[0])
        close = sum(1 for a, b in zip(alone, batched) if close_by_vllm_rule(a, b)[1])
        figures["invariance_identical"] = identical
        figures["invariance_close"] = close
        figures["invariance_prompts"] = len(prompts)
        if close != len(prompts):
            failures.append(f"batch invariance: {len(prompts) - close} of {len(prompts)} greedy outputs differ "
                            "beyond vLLM's top-5 rule")

        # 3. Abort storm: open long streams, read a little, drop them.
        def abandon(i):
            s = client.completions.create(model="m", prompt=f"abort {i}", max_tokens=400, stream=True,
                                          temperature=1.0, extra_body={"ignore_eos": True})
            for n, _ in enumerate(s):
                if n >= 2:
                    break
            s.response.close()

        aborted_before = metric(base, "vllm:request_success_total", 'finished_reason="abort"')
        with ThreadPoolExecutor(64) as pool:
            list(pool.map(abandon, range(64)))
        deadline = time.time() + 30
        running = usage = -1.0
        while time.time() < deadline:
            running = metric(base, "vllm:num_requests_running")
            usage = metric(base, "vllm:kv_cache_usage_perc")
            if running == 0 and usage == 0:
                break
            time.sleep(0.5)
        figures["after_abort_running"] = running
        figures["after_abort_kv_usage"] = usage
        figures["aborted"] = metric(base, "vllm:request_success_total", 'finished_reason="abort"') - aborted_before
        if figures["aborted"] < 1:
            failures.append("the abort storm aborted no request (they all finished first)")
        if running != 0 or usage != 0:
            failures.append(f"after the abort storm: {running} running, KV usage {usage}")
        if proc.poll() is not None:
            failures.append(f"podserve exited with {proc.returncode}")
    except Exception as e:  # a crash or hang of the server is a failure of the stage, reported with the rest
        failures.append(f"{type(e).__name__}: {e}")
    finally:
        stop_server(proc)
    figures["failures"] = failures
    print(json.dumps(figures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
