"""The `podserve serve` soak: mixed load with faults for a set time, sampled every 10 s.

Concurrent users pick scenarios at random: streaming and not, n > 1, prefix-sharing prompts, requests near the
KV budget, bursts of long requests that together need more KV blocks than the small --kv-cache-memory pool holds
(so the engine preempts and recomputes, and each must still end in full), clients that disconnect mid-stream or
give up on a non-streaming answer, malformed, oversized and over-budget requests, and slow readers: client processes
stopped with SIGSTOP for seconds, then continued (the server's backlog limit may drop them).
Every few minutes the load pauses until the server is idle, to check that it holds no KV blocks then.
"""

import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

import httpx

from soak_common import Sampler, free_port, growth, metric_sum, parse_metrics, proc_stats, write_report

MODEL_NAME = "soak-model"
MAX_MODEL_LEN = 2048
MAX_REQUEST_BYTES = 1 << 20
MAX_TOKENS_PER_REQUEST = 8192
STREAM_BACKLOG = 256 << 10
SHARED_PREFIX = ("You are a meticulous assistant for a shipping company. Answer in one short paragraph, quote the "
                 "policy section you rely on, and never invent tracking numbers. ") * 12
LONG_TEXT = "The quick brown fox jumps over the lazy dog while the cat watches from the warm windowsill. " * 60
QUESTIONS = ["Where is my parcel?", "Can I change the address?", "What does 'in transit' mean?",
             "How do refunds work?", "Is Sunday delivery possible?", "Why was my package returned?"]

# (scenario, weight). Weights give roughly: 60% ordinary traffic, 25% client faults, 15% bad requests.
SCENARIOS = [("chat_stream", 18), ("chat_full", 8), ("completion_n", 10), ("prefix_shared", 14), ("big_kv", 6),
             ("preempt_burst", 2), ("disconnect", 10), ("give_up", 6), ("slow_reader", 3), ("malformed", 9), ("oversize", 2),
             ("over_budget", 3)]


class Tally:
    """Outcomes per scenario, HTTP statuses, and the errors (anything but the scenario's expected outcome)."""

    def __init__(self):
        self.outcomes, self.statuses, self.errors = {}, {}, []
        self.count_5xx = 0
        self.in_flight = 0

    def status(self, code: int) -> None:
        self.statuses[str(code)] = self.statuses.get(str(code), 0) + 1
        if code >= 500:
            self.count_5xx += 1

    def outcome(self, scenario: str, what: str) -> None:
        key = f"{scenario}:{what}"
        self.outcomes[key] = self.outcomes.get(key, 0) + 1

    def error_count(self) -> int:
        return sum(v for k, v in self.outcomes.items() if k.endswith(":error"))

    def error(self, scenario: str, detail: str) -> None:
        self.outcome(scenario, "error")
        if len(self.errors) < 200:
            self.errors.append({"t": time.strftime("%H:%M:%S"), "scenario": scenario, "detail": detail[:400]})


def sse_events(lines):
    return [line[6:] for line in lines if line.startswith("data: ")]


async def stream_and_check(client, tally, scenario, path, body, stop_after=None):
    """POSTs a streaming request. With `stop_after`, hangs up after that many events (a fault, not an error)."""
    async with client.stream("POST", path, json=body) as res:
        tally.status(res.status_code)
        if res.status_code != 200:
            await res.aread()
            return tally.error(scenario, f"status {res.status_code}: {res.text[:200]}")
        events = []
        async for line in res.aiter_lines():
            if line.startswith("data: "):
                events.append(line[6:])
                if stop_after is not None and len(events) >= stop_after:
                    return tally.outcome(scenario, "hung_up")
    if not events or events[-1] != "[DONE]":
        return tally.error(scenario, f"stream without [DONE]: {events[-2:]}")
    if any('"error"' in e for e in events):
        return tally.error(scenario, f"error event: {[e for e in events if 'error' in e][:1]}")
    tally.outcome(scenario, "ok")


async def post_and_check(client, tally, scenario, path, body, expect=200, expect_text=None):
    res = await client.post(path, json=body) if not isinstance(body, (bytes, str)) else \
        await client.post(path, content=body, headers={"content-type": "application/json"})
    tally.status(res.status_code)
    if res.status_code != expect:
        return tally.error(scenario, f"status {res.status_code} (expected {expect}): {res.text[:200]}")
    doc = res.json()
    if expect >= 400:
        err = doc.get("error") if isinstance(doc, dict) else None
        if not isinstance(err, dict) or not err.get("message"):
            return tally.error(scenario, f"error without OpenAI's shape: {res.text[:200]}")
        if expect_text and expect_text not in err["message"]:
            return tally.error(scenario, f"unexpected message: {err['message'][:200]}")
    elif body.get("n") and len(doc["choices"]) != body["n"]:
        return tally.error(scenario, f"{len(doc['choices'])} choices for n={body['n']}")
    tally.outcome(scenario, "ok")


MALFORMED = [b"{", b"[1,2]", b'{"model": 5, "prompt": "x"}', b'{"prompt": "x", "max_tokens": -3}',
             b'{"prompt": "x", "n": 100000}', b'{"messages": "hi"}', b'{"prompt": "x", "temperature": "hot"}',
             b'{"prompt": ["x", 7]}', b'{"prompt": "x", "logit_bias": {"a": 1}}', b'\xff\xfe{}']


async def one_request(client, rng, tally, scenario, slow_readers, args):
    chat = "/v1/chat/completions"
    comp = "/v1/completions"
    if scenario == "chat_stream":
        body = {"model": MODEL_NAME, "messages": [{"role": "user", "content": rng.choice(QUESTIONS)}],
                "max_tokens": rng.randint(8, 96), "stream": True, "stream_options": {"include_usage": True}}
        await stream_and_check(client, tally, scenario, chat, body)
    elif scenario == "chat_full":
        body = {"model": MODEL_NAME, "messages": [{"role": "system", "content": "Be brief."},
                                                  {"role": "user", "content": rng.choice(QUESTIONS)}],
                "max_tokens": rng.randint(8, 64), "temperature": rng.choice([0, 0.7, 1.0])}
        await post_and_check(client, tally, scenario, chat, body)
    elif scenario == "completion_n":
        body = {"model": MODEL_NAME, "prompt": rng.choice(QUESTIONS), "max_tokens": rng.randint(8, 48),
                "n": rng.randint(2, 4), "temperature": 0.9, "logprobs": rng.choice([None, 3])}
        await post_and_check(client, tally, scenario, comp, body)
    elif scenario == "prefix_shared":
        body = {"model": MODEL_NAME, "messages": [{"role": "system", "content": SHARED_PREFIX},
                                                  {"role": "user", "content": rng.choice(QUESTIONS)}],
                "max_tokens": rng.randint(8, 48)}
        if rng.random() < 0.5:
            await stream_and_check(client, tally, scenario, chat, {**body, "stream": True})
        else:
            await post_and_check(client, tally, scenario, chat, body)
    elif scenario == "big_kv":
        body = {"model": MODEL_NAME, "prompt": LONG_TEXT[: rng.randint(3000, 5500)], "max_tokens": rng.randint(150, 400),
                "ignore_eos": True}
        await post_and_check(client, tally, scenario, comp, body)
    elif scenario == "preempt_burst":
        await preempt_burst(client, rng, tally)
    elif scenario == "disconnect":
        body = {"model": MODEL_NAME, "prompt": rng.choice(QUESTIONS), "max_tokens": 200, "ignore_eos": True,
                "stream": True, "n": rng.choice([1, 1, 2])}
        await stream_and_check(client, tally, scenario, comp, body, stop_after=rng.randint(0, 30))
    elif scenario == "give_up":
        body = {"model": MODEL_NAME, "prompt": rng.choice(QUESTIONS), "max_tokens": 300, "ignore_eos": True}
        try:
            await asyncio.wait_for(client.post(comp, json=body), timeout=rng.uniform(0.1, 3.0))
            tally.outcome(scenario, "finished_first")
        except asyncio.TimeoutError:
            tally.outcome(scenario, "gave_up")
    elif scenario == "slow_reader":
        if len(slow_readers) >= 2:
            return tally.outcome(scenario, "skipped")
        await slow_reader(tally, rng, args.port, slow_readers)
    elif scenario == "malformed":
        path = rng.choice([chat, comp])
        raw = rng.choice(MALFORMED)
        res = await client.post(path, content=raw, headers={"content-type": "application/json"})
        tally.status(res.status_code)
        if not 400 <= res.status_code < 500:
            return tally.error(scenario, f"status {res.status_code} for {raw!r}")
        tally.outcome(scenario, "rejected")
    elif scenario == "oversize":
        body = b'{"prompt": "' + b"x" * (MAX_REQUEST_BYTES + 4096) + b'"}'
        try:
            res = await client.post(comp, content=body, headers={"content-type": "application/json"})
        except httpx.HTTPError:  # the server may answer 413 and close before the client finished sending
            return tally.outcome(scenario, "closed_early")
        tally.status(res.status_code)
        if res.status_code != 413:
            return tally.error(scenario, f"status {res.status_code}")
        tally.outcome(scenario, "rejected")
    elif scenario == "over_budget":
        body = {"model": MODEL_NAME, "prompt": "hi", "max_tokens": 1500, "n": 8}
        await post_and_check(client, tally, scenario, comp, body, expect=400, expect_text="--max-tokens-per-request")


# A burst: BURST_SIZE requests of ~BURST_PROMPT_CHARS / 5 prompt tokens each (distinct, so the prefix cache shares
# nothing) that grow by BURST_MAX_TOKENS. With the default 0.06 GiB pool (174 blocks of 16 tokens = 2784 tokens for
# SmolLM2-135M) their prompts fit together (~2000 tokens, so all are admitted) but prompt + output (~3400) do not:
# while they decode, the scheduler runs out of blocks and preempts the newest.
BURST_SIZE, BURST_PROMPT_CHARS, BURST_MAX_TOKENS = 4, 2500, 350


async def preempt_burst(client, rng, tally):
    async def one(k):
        prompt = f"Request {rng.random():.12f}-{k}. " + LONG_TEXT[:BURST_PROMPT_CHARS]
        body = {"model": MODEL_NAME, "prompt": prompt, "max_tokens": BURST_MAX_TOKENS, "ignore_eos": True}
        res = await client.post("/v1/completions", json=body)
        tally.status(res.status_code)
        if res.status_code != 200:
            return tally.error("preempt_burst", f"status {res.status_code}: {res.text[:200]}")
        doc = res.json()
        got = doc.get("usage", {}).get("completion_tokens")
        if got != BURST_MAX_TOKENS or doc["choices"][0].get("finish_reason") != "length":
            return tally.error("preempt_burst", f"{got} tokens, finish {doc['choices'][0].get('finish_reason')}")
        tally.outcome("preempt_burst", "ok")

    await asyncio.gather(*(one(k) for k in range(BURST_SIZE)))


async def slow_reader(tally, rng, port, slow_readers):
    """A client process that reads a long stream with logprobs, stopped (SIGSTOP) for a while in the middle."""
    proc = await asyncio.create_subprocess_exec(sys.executable, __file__, "--slow-reader-client", str(port),
                                                stdout=subprocess.PIPE)
    slow_readers.add(proc.pid)
    try:
        await asyncio.sleep(rng.uniform(0.5, 2.0))
        proc.send_signal(signal.SIGSTOP)
        await asyncio.sleep(rng.uniform(2, 20))
        proc.send_signal(signal.SIGCONT)
        out, _ = await asyncio.wait_for(proc.communicate(), 600)
        result = out.decode().strip()
        if result.startswith("status 5"):
            tally.status(500)
        if result in ("done", "dropped"):
            tally.outcome("slow_reader", result)
        else:
            tally.error("slow_reader", result)
    finally:
        slow_readers.discard(proc.pid)


def slow_reader_client(port: int) -> None:
    """Runs in its own process: a small receive buffer, so a stop makes the server's writes block."""
    body = json.dumps({"model": MODEL_NAME, "prompt": "Tell me a long story.", "max_tokens": 1200,
                       "ignore_eos": True, "stream": True, "logprobs": 20}).encode()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.connect(("127.0.0.1", port))
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n" + body)
    data = b""
    s.settimeout(600)
    while True:
        try:
            chunk = s.recv(4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
        time.sleep(0.001)  # a slow reader even when running
    status = data[9:12].decode(errors="replace")
    if status != "200":
        print(f"status {status}")
    else:
        print("done" if b"data: [DONE]" in data else "dropped")


async def run_load(args, tally, sampler, server):
    rng = random.Random(args.seed)
    names = [s for s, _ in SCENARIOS]
    weights = [w for _, w in SCENARIOS]
    paused = asyncio.Event()
    paused.set()  # set = running
    stop_at = time.monotonic() + args.minutes * 60
    slow_readers = set()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)

    async def user(i):
        async with httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(60, read=600), limits=limits) as c:
            urng = random.Random(rng.random())
            while time.monotonic() < stop_at:
                await paused.wait()
                scenario = urng.choices(names, weights)[0]
                tally.in_flight += 1
                try:
                    await one_request(c, urng, tally, scenario, slow_readers, args)
                except (httpx.HTTPError, OSError) as e:
                    tally.error(scenario, f"transport: {e!r}")
                except Exception as e:  # noqa: BLE001 - any client-side surprise is an error to report
                    tally.error(scenario, f"{type(e).__name__}: {e}")
                finally:
                    tally.in_flight -= 1

    async def idle_checks():
        while time.monotonic() < stop_at - args.idle_every:
            await asyncio.sleep(args.idle_every)
            paused.clear()
            await idle_point(f"idle check at {sampler.now() / 60:.1f} min")
            paused.set()

    async def idle_point(label):
        deadline = time.monotonic() + 900
        while tally.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        sampler.mark(label)
        result = await asyncio.get_running_loop().run_in_executor(None, server.wait_idle, 120)
        result["label"] = label
        result["t"] = round(sampler.now(), 1)
        server.idle_points.append(result)

    await asyncio.gather(idle_checks(), *(user(i) for i in range(args.users)))
    await idle_point("end of run")


class ServeUnderTest:
    def __init__(self, args):
        self.port = args.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(args.out, "serve.log")
        self.idle_points = []
        cmd = [args.binary, "serve", "--model", args.model, "--host", "127.0.0.1", "--port", str(self.port),
               "--served-model-name", MODEL_NAME, "--max-model-len", str(MAX_MODEL_LEN),
               "--kv-cache-memory", str(args.kv_cache_memory), "--max-request-bytes", str(MAX_REQUEST_BYTES),
               "--max-tokens-per-request", str(MAX_TOKENS_PER_REQUEST),
               "--max-stream-backlog-bytes", str(STREAM_BACKLOG)]
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"podserve serve exited during start-up; see {self.log_path}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        with open(self.log_path, encoding="utf-8") as f:
            self.total_blocks = int(re.search(r"KV cache: (\d+) blocks", f.read()).group(1))

    def metrics(self) -> dict:
        return parse_metrics(httpx.get(self.url + "/metrics", timeout=30).text)

    def kv_blocks(self, m: dict) -> int:
        # The gauge carries a model_name label: a lookup of the bare name read 0 whatever the pool held.
        return round(metric_sum(m, "vllm:kv_cache_usage_perc") * self.total_blocks)

    def wait_idle(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            m = self.metrics()
            running, waiting = metric_sum(m, "vllm:num_requests_running"), metric_sum(m, "vllm:num_requests_waiting")
            if (running == 0 and waiting == 0 and self.kv_blocks(m) == 0) or time.monotonic() > deadline:
                return {"running": running, "waiting": waiting, "kv_blocks": self.kv_blocks(m)}
            time.sleep(0.5)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return -9


def run(args) -> dict:
    os.makedirs(args.out, exist_ok=True)
    server = ServeUnderTest(args)
    tally = Tally()

    def sample():
        row = proc_stats(server.process.pid)
        m = server.metrics()
        row.update({"kv_blocks": server.kv_blocks(m), "running": metric_sum(m, "vllm:num_requests_running"),
                    "waiting": metric_sum(m, "vllm:num_requests_waiting"),
                    "preemptions": metric_sum(m, "vllm:num_preemptions_total"),
                    "requests_done": metric_sum(m, "vllm:request_success_total"),
                    "aborted": sum(v for k, v in m.items()
                                   if k.startswith("vllm:request_success_total{") and 'finished_reason="abort"' in k),
                    "errors": tally.error_count(),
                    "http_5xx": tally.count_5xx})
        return row

    sampler = Sampler(sample, args.sample_s)
    sampler.start()
    try:
        asyncio.run(run_load(args, tally, sampler, server))
    finally:
        sampler.stop()
        exit_code = server.stop()
    rows = sampler.rows
    window = min(20 * 60, rows[-1]["t"] * 2 / 3)
    summary = {
        "target": "podserve serve", "minutes": args.minutes, "users": args.users, "exit_code": exit_code,
        "kv_total_blocks": server.total_blocks, "rss": growth(rows, "rss_mib", window),
        "fds": growth(rows, "fds", window), "threads": growth(rows, "threads", window),
        "http_5xx": tally.count_5xx, "errors": tally.error_count(),
        "idle_points": server.idle_points, "outcomes": dict(sorted(tally.outcomes.items())),
        "statuses": dict(sorted(tally.statuses.items())), "error_details": tally.errors,
        "preemptions": rows[-1].get("preemptions"), "requests_done": rows[-1].get("requests_done"),
    }
    summary["pass"] = {
        "rss_flat": summary["rss"].get("growth_pct", 0) <= 5, "fds_flat": summary["fds"].get("growth_pct", 0) <= 5,
        "no_5xx": tally.count_5xx == 0, "no_errors": summary["errors"] == 0,
        "no_kv_held_when_idle": all(p["kv_blocks"] == 0 and p["running"] == 0 for p in server.idle_points),
        "clean_exit": exit_code == 0,
        # The small KV pool and the bursts are there to make the engine preempt; a run that never did tested less.
        "preempted": (summary["preemptions"] or 0) >= args.min_preemptions,
    }
    write_report(args.out, "serve", f"podserve serve soak: {args.minutes} min, {args.users} users", summary, rows,
                 sampler.marks,
                 [("RSS (MiB)", [("rss", "rss_mib")]), ("open fds / threads", [("fds", "fds"), ("threads", "threads")]),
                  ("KV blocks in use / running / waiting", [("kv blocks", "kv_blocks"), ("running", "running"),
                                                              ("waiting", "waiting")]),
                  ("requests done / aborted / preemptions (cumulative)",
                   [("done", "requests_done"), ("aborted", "aborted"), ("preemptions", "preemptions")]),
                  ("errors / 5xx (cumulative)", [("errors", "errors"), ("5xx", "http_5xx")])])
    return summary


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--slow-reader-client":
    slow_reader_client(int(sys.argv[2]))
