"""A minimal stand-in for RunPod's job server, written from the worker protocol (worker-vllm.md §4.1, §4.3).

It serves the worker-facing routes under /v2/<endpoint>/: job-take/<worker>, job-take-batch/<worker>
(batch_size), job-stop/<worker> ({"jobsToStop": [...]}), job-stream/<worker>/<job>, job-done/<worker>/<job>
and ping/<worker>, records every request (method, path, query, headers, body) in arrival order, and lets a test
queue jobs, ask for a job to be stopped, inject answers (5xx, 429) for the next requests of a kind, and hold a job's
stream posts until a ping has listed the job.
"""

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ENDPOINT = "ep-test"
LONG_POLL_S = 0.3  # how long job-take / job-stop wait for something before answering 204


@dataclass
class Request:
    seq: int
    kind: str  # take, take-batch, stop, stream, done, ping, unknown
    method: str
    path: str
    query: dict  # name -> list of values
    headers: dict  # lower-case name -> value
    body: bytes
    worker: str = ""
    job: str = ""

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def q(self, name):
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class FakeJobServer:
    httpd: ThreadingHTTPServer = None
    requests: list = field(default_factory=list)
    jobs: deque = field(default_factory=deque)
    to_stop: list = field(default_factory=list)
    inject: dict = field(default_factory=dict)  # kind -> deque of HTTP statuses to answer instead
    hold_streams_until_pinged: set = field(default_factory=set)  # job ids: stream posts wait for a ping naming them
    lock: threading.Condition = field(default_factory=threading.Condition)

    @property
    def port(self):
        return self.httpd.server_address[1]

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}/v2/{ENDPOINT}"

    def worker_env(self, api_key="rp-secret-key", worker_id="worker-1", ping_interval_ms=200):
        """The platform variables, with the templates RunPod-compatible servers use (already holding a '?')."""
        return {
            "RUNPOD_WEBHOOK_GET_JOB": f"{self.base}/job-take/$ID?gpu=test-gpu",
            "RUNPOD_WEBHOOK_POST_OUTPUT": f"{self.base}/job-done/$RUNPOD_POD_ID/$ID?gpu=test-gpu",
            "RUNPOD_WEBHOOK_POST_STREAM": f"{self.base}/job-stream/$RUNPOD_POD_ID/$ID?gpu=test-gpu",
            "RUNPOD_WEBHOOK_PING": f"{self.base}/ping/$RUNPOD_POD_ID?gpu=test-gpu",
            "RUNPOD_PING_INTERVAL": str(ping_interval_ms),
            "RUNPOD_AI_API_KEY": api_key,
            "RUNPOD_POD_ID": worker_id,
        }

    # --- test controls -------------------------------------------------------------------------------------
    def add_job(self, job_id, job_input):
        with self.lock:
            self.jobs.append({"id": job_id, "input": job_input})
            self.lock.notify_all()

    def stop_job(self, job_id):
        with self.lock:
            self.to_stop.append(job_id)
            self.lock.notify_all()

    def inject_status(self, kind, *statuses):
        with self.lock:
            self.inject.setdefault(kind, deque()).extend(statuses)

    def pinged_with(self, job_id):
        """Whether a ping has listed the job among the worker's held jobs (call with the lock held)."""
        return any(r.kind == "ping" and job_id in (r.q("job_id") or "").split(",") for r in self.requests)

    def of_kind(self, kind, job=None):
        with self.lock:
            return [r for r in self.requests if r.kind == kind and (job is None or r.job == job)]

    def wait_for(self, predicate, timeout=120, what="a request"):
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    kinds = [(r.kind, r.job) for r in self.requests[-20:]]
                    raise AssertionError(f"timed out waiting for {what}; last requests: {kinds}")
                self.lock.wait(min(remaining, 0.5))

    def wait_done(self, job_id, timeout=120):
        """The (last) successful job-done request of a job."""
        return self.wait_for(lambda: [r for r in self.requests if r.kind == "done" and r.job == job_id
                                      and r.answered == 200][-1:], timeout, f"job-done of {job_id}")[0]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- request handling ----------------------------------------------------------------------------------
    def handle(self, h):
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        segs = parts.path.strip("/").split("/")
        kind, worker, job = "unknown", "", ""
        if len(segs) >= 4 and segs[0] == "v2" and segs[1] == ENDPOINT:
            name = segs[2]
            kind = {"job-take": "take", "job-take-batch": "take-batch", "job-stop": "stop", "job-stream": "stream",
                    "job-done": "done", "ping": "ping"}.get(name, "unknown")
            worker = segs[3]
            job = segs[4] if len(segs) > 4 else ""
        with self.lock:
            req = Request(len(self.requests), kind, h.command, parts.path, parse_qs(parts.query),
                          {k.lower(): v for k, v in h.headers.items()}, body, worker, job)
            req.answered = None
            self.requests.append(req)
            self.lock.notify_all()
            injected = self.inject.get(kind)
            status = injected.popleft() if injected else None
        if status is not None:
            req.answered = status
            return h.answer(status, b'{"error":"injected"}' if status != 204 else b"")
        if kind in ("take", "take-batch"):
            n = 1 if kind == "take" else int(req.q("batch_size") or 1)
            deadline = time.monotonic() + LONG_POLL_S
            with self.lock:
                while not self.jobs and time.monotonic() < deadline:
                    self.lock.wait(deadline - time.monotonic())
                taken = [self.jobs.popleft() for _ in range(min(n, len(self.jobs)))]
                req.answered = 200 if taken else 204
                self.lock.notify_all()
            if not taken:
                return h.answer(204, b"")
            payload = taken[0] if kind == "take" else taken
            try:
                return h.answer(200, json.dumps(payload).encode(), "application/json")
            except OSError:  # the worker hung up before the answer: the jobs were not handed out
                with self.lock:
                    self.jobs.extendleft(reversed(taken))
                    req.answered = "hung-up"
                    self.lock.notify_all()
                return None
        if kind == "stop":
            deadline = time.monotonic() + LONG_POLL_S
            with self.lock:
                while not self.to_stop and time.monotonic() < deadline:
                    self.lock.wait(deadline - time.monotonic())
                ids, self.to_stop = self.to_stop, []
                req.answered = 200 if ids else 204
            if not ids:
                return h.answer(204, b"")
            return h.answer(200, json.dumps({"jobsToStop": ids}).encode(), "application/json")
        req.answered = 200 if kind != "unknown" else 404
        with self.lock:
            if kind == "stream" and job in self.hold_streams_until_pinged:
                # The job stays held (its worker waits for this answer) until a heartbeat has named it.
                deadline = time.monotonic() + 30
                while not self.pinged_with(job) and time.monotonic() < deadline:
                    self.lock.wait(deadline - time.monotonic())
            self.lock.notify_all()
        return h.answer(req.answered, b"{}" if kind != "unknown" else b"not found", "application/json")


def start_fake_job_server():
    server = FakeJobServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, status, body, content_type=None):
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self):
            server.handle(self)

        def do_POST(self):
            server.handle(self)

        def log_message(self, *args):
            pass

    server.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.httpd.daemon_threads = True
    threading.Thread(target=server.httpd.serve_forever, daemon=True).start()
    return server
