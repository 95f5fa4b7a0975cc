"""The `podserve endpoint` soak: jobs through the official `runpod` client for a set time while workers are
killed with SIGKILL at random and the endpoint itself is restarted (SIGKILL and SIGTERM in turn, same database
and port). Every job the client got an id for must end exactly once: one terminal state that never changes
afterwards, at most one accepted result per job in the endpoint's logs, and nothing left queued or running.
"""

import collections
import os
import random
import re
import signal
import subprocess
import threading
import time

import requests
import runpod

from soak_common import Sampler, children, free_port, growth, proc_stats, write_report

ENDPOINT_ID = "soak"
MODEL_NAME = "soak-model"
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}
QUESTIONS = ["Where is my parcel?", "Name three rivers.", "What is a KV cache?", "Count to five.",
             "Say hello in French.", "Why is the sky blue?"]


class EndpointUnderTest:
    def __init__(self, args):
        self.args = args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.base = f"{self.url}/v2/{ENDPOINT_ID}"
        self.db = os.path.join(args.out, "endpoint.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.db + suffix):
                os.unlink(self.db + suffix)
        self.logs = []
        self.process = None
        self.incarnation = 0
        self.start()

    def start(self) -> None:
        self.incarnation += 1
        log_path = os.path.join(self.args.out, f"endpoint-{self.incarnation}.log")
        self.logs.append(log_path)
        env = {**os.environ, "MODEL_NAME": self.args.model, "MAX_MODEL_LEN": "2048", "KV_CACHE_MEMORY": "0.25",
               "OPENAI_SERVED_MODEL_NAME_OVERRIDE": MODEL_NAME, "PODSERVE_THREADS": "1"}
        cmd = [self.args.binary, "endpoint", "--host", "127.0.0.1", "--port", str(self.port), "--endpoint-id",
               ENDPOINT_ID, "--db", self.db, "--workers-min", "2", "--workers-max", "3", "--ping-interval-ms", "1000",
               "--lease-timeout-ms", "4000", "--job-take-wait-ms", "500", "--execution-timeout-ms", "300000"]
        with open(log_path, "w", encoding="utf-8") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break  # e.g. it could not bind its port
            try:
                if requests.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise SystemExit(f"podserve endpoint did not come up; see {log_path}")

    def restart(self, sig) -> None:
        self.process.send_signal(sig)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        # Workers of a SIGKILLed endpoint die with it (PR_SET_PDEATHSIG); wait until they are gone.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(self.worker_pids_alive()):
            time.sleep(0.2)
        self.start()

    def worker_pids_alive(self):
        return children(self.process.pid) if self.process.poll() is None else []

    def health(self) -> dict:
        return requests.get(f"{self.base}/health", timeout=10).json()

    def status(self, job_id: str) -> dict:
        return requests.get(f"{self.base}/status/{job_id}", timeout=10).json()

    def accepted_results(self) -> collections.Counter:
        counts = collections.Counter()
        for path in self.logs:
            with open(path, encoding="utf-8", errors="replace") as f:
                counts.update(re.findall(r"Job (\S+) (?:COMPLETED|FAILED) on worker", f.read()))
        return counts


class Ledger:
    """Every job the client holds an id for: what it expects, and what it saw."""

    def __init__(self):
        self.lock = threading.Lock()
        self.jobs = {}  # id -> {"kind", "expect": set of acceptable final states, "final", "t"}
        self.errors = []
        self.submit_failures = 0
        self.count_5xx = 0

    def add(self, job_id, kind, expect):
        with self.lock:
            self.jobs[job_id] = {"kind": kind, "expect": expect, "final": None, "t": time.monotonic()}

    def error(self, detail):
        with self.lock:
            if len(self.errors) < 200:
                self.errors.append({"t": time.strftime("%H:%M:%S"), "detail": detail[:400]})

    def open_ids(self):
        with self.lock:
            return [i for i, j in self.jobs.items() if j["final"] is None]

    def settle(self, job_id, final):
        with self.lock:
            job = self.jobs[job_id]
            if job["final"] is None:
                job["final"] = final
                if final not in job["expect"]:
                    self.errors.append({"t": time.strftime("%H:%M:%S"),
                                        "detail": f"job {job_id} ({job['kind']}) ended {final}, expected "
                                                  f"{sorted(job['expect'])}"})
            elif job["final"] != final:
                self.errors.append({"t": time.strftime("%H:%M:%S"),
                                    "detail": f"job {job_id} ended twice: {job['final']} then {final}"})


def job_input(rng):
    kind = rng.choices(["native", "native_stream", "openai_chat", "cancel", "bad"], [40, 20, 20, 12, 8])[0]
    if kind == "native":
        return kind, {"prompt": rng.choice(QUESTIONS), "sampling_params": {"max_tokens": rng.randint(8, 64)}}, \
            {"COMPLETED"}
    if kind == "native_stream":
        return kind, {"prompt": rng.choice(QUESTIONS), "stream": True,
                      "sampling_params": {"max_tokens": rng.randint(16, 96), "ignore_eos": True}}, {"COMPLETED"}
    if kind == "openai_chat":
        return kind, {"openai_route": "/v1/chat/completions",
                      "openai_input": {"model": MODEL_NAME, "max_tokens": rng.randint(8, 48),
                                       "messages": [{"role": "user", "content": rng.choice(QUESTIONS)}]}}, \
            {"COMPLETED"}
    if kind == "cancel":
        return kind, {"prompt": "Tell a long story.", "sampling_params": {"max_tokens": 600, "ignore_eos": True}}, \
            {"CANCELLED", "COMPLETED"}
    return kind, {"prompt": 5, "sampling_params": {"max_tokens": "many"}}, {"FAILED"}


def submitter(ep, ledger, rng, stop_at, pause):
    runpod.endpoint_url_base = f"{ep.url}/v2"
    client = runpod.Endpoint(ENDPOINT_ID, api_key="none")
    while time.monotonic() < stop_at:
        pause.wait()
        kind, inp, expect = job_input(rng)
        try:
            job = client.run(inp)
        except Exception as e:  # noqa: BLE001 - connection refused while the endpoint restarts: not accepted
            ledger.submit_failures += 1
            if isinstance(e, requests.HTTPError) and e.response is not None and e.response.status_code >= 500:
                ledger.count_5xx += 1
                ledger.error(f"/run answered {e.response.status_code}")
            time.sleep(0.5)
            continue
        ledger.add(job.job_id, kind, expect)
        try:
            if kind == "native_stream" and rng.random() < 0.5:
                for _ in job.stream():
                    pass
            elif kind == "cancel":
                time.sleep(rng.uniform(0, 4))
                job.cancel()
        except Exception:  # noqa: BLE001 - the endpoint may be restarting; the poller settles the job
            pass
        time.sleep(rng.uniform(0.2, 1.5))


def poller(ep, ledger, stop):
    while not stop.is_set():
        for job_id in ledger.open_ids():
            try:
                res = requests.get(f"{ep.base}/status/{job_id}", timeout=10)
            except requests.RequestException:
                break  # restarting
            if res.status_code >= 500:
                ledger.count_5xx += 1
                ledger.error(f"/status answered {res.status_code}")
            if res.status_code != 200:
                continue
            status = res.json().get("status")
            if status in FINAL:
                ledger.settle(job_id, status)
        stop.wait(1.0)


def run(args) -> dict:
    os.makedirs(args.out, exist_ok=True)
    ep = EndpointUnderTest(args)
    ledger = Ledger()
    rng = random.Random(args.seed)
    stop_at = time.monotonic() + args.minutes * 60
    pause = threading.Event()
    pause.set()
    stop_polling = threading.Event()
    kills = {"worker_sigkill": 0, "endpoint_sigkill": 0, "endpoint_sigterm": 0}

    def sample():
        row = {"incarnation": ep.incarnation}
        row.update({f"endpoint_{k}": v for k, v in proc_stats(ep.process.pid).items()})
        workers = [proc_stats(p) for p in ep.worker_pids_alive()]
        row["workers"] = len(workers)
        row["workers_rss_mib"] = sum(w.get("rss_mib", 0) for w in workers)
        with ledger.lock:
            row["accepted"] = len(ledger.jobs)
            row["ended"] = sum(1 for j in ledger.jobs.values() if j["final"])
            row["errors"] = len(ledger.errors)
        row["http_5xx"] = ledger.count_5xx
        try:
            jobs = ep.health()["jobs"]
            row["in_queue"], row["in_progress"] = jobs["inQueue"], jobs["inProgress"]
        except (requests.RequestException, ValueError, KeyError):
            pass
        return row

    sampler = Sampler(sample, args.sample_s)
    sampler.start()
    threads = [threading.Thread(target=submitter, args=(ep, ledger, random.Random(rng.random()), stop_at, pause))
               for _ in range(args.users)]
    threads.append(threading.Thread(target=poller, args=(ep, ledger, stop_polling)))
    for t in threads:
        t.daemon = True  # a failed restart ends the run (SystemExit) instead of leaving it waiting on them forever
        t.start()
    next_kill = time.monotonic() + rng.uniform(10, 40)
    next_restart = time.monotonic() + args.endpoint_restart_every
    restart_signal = signal.SIGKILL
    while time.monotonic() < stop_at:
        time.sleep(0.5)
        now = time.monotonic()
        if now >= next_kill:
            pids = ep.worker_pids_alive()
            if pids:
                victim = rng.choice(pids)
                try:
                    os.kill(victim, signal.SIGKILL)
                    kills["worker_sigkill"] += 1
                    sampler.mark(f"worker {victim} SIGKILL")
                except ProcessLookupError:
                    pass
            next_kill = now + rng.uniform(15, 45)
        if now >= next_restart and now < stop_at - 120:
            name = "endpoint_sigkill" if restart_signal == signal.SIGKILL else "endpoint_sigterm"
            sampler.mark(f"endpoint restart ({name})")
            ep.restart(restart_signal)
            kills[name] += 1
            restart_signal = signal.SIGTERM if restart_signal == signal.SIGKILL else signal.SIGKILL
            next_restart = now + args.endpoint_restart_every
    for t in threads[:-1]:
        t.join()
    # Drain: every accepted job must reach its end with the faults stopped.
    sampler.mark("load stopped: draining")
    deadline = time.monotonic() + args.drain_s
    while ledger.open_ids() and time.monotonic() < deadline:
        time.sleep(1)
    stop_polling.set()
    threads[-1].join()
    sampler.stop()
    # Exactly once: the state each job settled in has not changed since, and no job had two accepted results.
    changed = []
    for job_id, job in ledger.jobs.items():
        if job["final"]:
            now_status = ep.status(job_id).get("status")
            if now_status != job["final"]:
                changed.append((job_id, job["final"], now_status))
    results = ep.accepted_results()
    duplicated = {j: n for j, n in results.items() if n > 1}
    lost = ledger.open_ids()
    health = ep.health()
    ep.process.send_signal(signal.SIGTERM)
    exit_code = ep.process.wait(60)
    rows = sampler.rows
    last = [r for r in rows if r.get("incarnation") == ep.incarnation]
    finals = collections.Counter(j["final"] for j in ledger.jobs.values())
    summary = {
        "target": "podserve endpoint", "minutes": args.minutes, "users": args.users, "exit_code": exit_code,
        "faults": kills, "accepted": len(ledger.jobs), "finals": dict(finals), "lost": lost[:50],
        "lost_count": len(lost), "duplicated": duplicated, "changed_after_end": changed[:50],
        "submit_failures_while_down": ledger.submit_failures, "http_5xx": ledger.count_5xx,
        "errors": len(ledger.errors), "error_details": ledger.errors, "health_at_end": health,
        "last_incarnation_rss": growth(last, "endpoint_rss_mib", 20 * 60),
        "last_incarnation_fds": growth(last, "endpoint_fds", 20 * 60),
    }
    summary["pass"] = {"no_lost_jobs": not lost, "no_duplicates": not duplicated and not changed,
                       "no_5xx": ledger.count_5xx == 0, "no_unexpected_ends": not ledger.errors,
                       "queue_empty": health["jobs"]["inQueue"] == 0 and health["jobs"]["inProgress"] == 0}
    write_report(args.out, "endpoint", f"podserve endpoint soak: {args.minutes} min, {args.users} clients, "
                 "workers SIGKILLed, endpoint restarted", summary, rows, sampler.marks,
                 [("endpoint RSS (MiB)", [("endpoint", "endpoint_rss_mib")]),
                  ("endpoint fds / threads", [("fds", "endpoint_fds"), ("threads", "endpoint_threads")]),
                  ("workers / their RSS (MiB)", [("workers", "workers"), ("worker RSS", "workers_rss_mib")]),
                  ("jobs: accepted / ended (cumulative)", [("accepted", "accepted"), ("ended", "ended")]),
                  ("queue", [("in queue", "in_queue"), ("in progress", "in_progress")]),
                  ("errors / 5xx (cumulative)", [("errors", "errors"), ("5xx", "http_5xx")])])
    return summary
