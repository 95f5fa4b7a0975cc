"""Fixtures for `podserve endpoint`: the real binary on a free port with its own job database, workers started by
the endpoint itself (an unmodified runpod-python SDK worker, or `podserve worker`), and the real `runpod` client.

The job database is the `store` fixture's: every test module that uses it runs once per store, on an SQLite file and
on a fresh database of a real PostgreSQL (one throwaway cluster per session, tests/tools/pg_cluster).

Run through ctest (`ctest -L e2e`), which sets PODSERVE_BINARY and PODSERVE_TEST_MODEL.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import pytest
import requests
import runpod
from podserve_testutil import free_port, require_env

HERE = os.path.dirname(os.path.abspath(__file__))
PG_CLUSTER = os.path.join(HERE, "..", "tools", "pg_cluster")
ENDPOINT_ID = "test-ep"
STARTUP_TIMEOUT_S = 30


class PostgresCluster:
    """A throwaway cluster (tests/tools/pg_cluster); new_database() gives each endpoint an empty database."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="podserve-pg-")
        started = subprocess.run([PG_CLUSTER, "start", self.dir], capture_output=True, text=True, timeout=60)
        assert started.returncode == 0, f"tests/tools/pg_cluster could not start PostgreSQL:\n{started.stderr}"
        self.url = started.stdout.strip()
        self.count = 0

    def new_database(self) -> str:
        self.count += 1
        name = f"endpoint_{self.count}"
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", self.url, "-c", f"CREATE DATABASE {name}"],
                       check=True, capture_output=True, timeout=30)
        return self.url.replace("/postgres?", f"/{name}?", 1)

    def stop(self):
        subprocess.run([PG_CLUSTER, "stop", self.dir], capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def postgres():
    cluster = PostgresCluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def store(request):
    """A function giving a fresh job database for --db: None (start_endpoint's own SQLite file) or a PostgreSQL URL."""
    if request.param == "sqlite":
        return lambda: None
    return request.getfixturevalue("postgres").new_database




def sdk_worker_command() -> str:
    return f"{sys.executable} {os.path.join(HERE, 'sdk_worker.py')}"


@dataclass
class Endpoint:
    process: subprocess.Popen
    port: int
    db: str
    log_path: str
    args: list
    env: dict
    api_key: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return f"{self.url}/v2/{ENDPOINT_ID}"

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def client(self, api_key: str | None = None) -> runpod.Endpoint:
        # The client reads runpod.endpoint_url_base when an Endpoint is constructed.
        runpod.endpoint_url_base = f"{self.url}/v2"
        return runpod.Endpoint(ENDPOINT_ID, api_key=api_key or self.api_key or "none")

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key or 'none'}"}

    def health(self) -> dict:
        return requests.get(f"{self.base}/health", headers=self.headers(), timeout=5).json()

    def status(self, job_id: str) -> dict:
        return requests.get(f"{self.base}/status/{job_id}", headers=self.headers(), timeout=5).json()

    def worker_pids(self) -> dict:
        """Worker id → pid of the workers the endpoint started (from its log)."""
        return {m.group(1): int(m.group(2)) for m in re.finditer(r"Started worker (\S+) \(pid (\d+)\)", self.log())}

    def wait_until(self, predicate, timeout: float, what: str):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}\n--- endpoint log ---\n{self.log()[-6000:]}")

    def cleanup(self) -> None:
        """Removes the log and a database directory start_endpoint made (after stop())."""
        if self.extra.get("own_db_dir"):
            shutil.rmtree(self.extra["own_db_dir"], ignore_errors=True)
        try:
            os.unlink(self.log_path)
        except OSError:
            pass

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_endpoint(args: list, db: str | None = None, api_key: str | None = None, env: dict | None = None,
                   port: int | None = None) -> Endpoint:
    binary = require_env("PODSERVE_BINARY")
    port = port or free_port()
    own_db_dir = None
    if db is None:
        own_db_dir = tempfile.mkdtemp(prefix="podserve-endpoint-")
        db = os.path.join(own_db_dir, "jobs.db")
    log = tempfile.NamedTemporaryFile(prefix="podserve-endpoint-", suffix=".log", delete=False)
    full = [binary, "endpoint", "--host", "127.0.0.1", "--port", str(port), "--endpoint-id", ENDPOINT_ID,
            "--db", db, "--ping-interval-ms", "1000", "--lease-timeout-ms", "4000", "--job-take-wait-ms", "500"]
    if api_key:
        full += ["--api-key", api_key]
    full += args
    child_env = dict(os.environ)
    # The SDK's production start runs GPU/system fitness checks meant for RunPod hosts.
    child_env.update({"RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true", "RUNPOD_SKIP_GPU_CHECK": "true",
                      "RUNPOD_LOG_LEVEL": "INFO"})
    child_env.update(env or {})
    process = subprocess.Popen(full, stdout=log, stderr=subprocess.STDOUT, env=child_env)
    ep = Endpoint(process, port, db, log.name, full, child_env, api_key, {"own_db_dir": own_db_dir})
    deadline = time.time() + STARTUP_TIMEOUT_S
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"podserve endpoint exited with {process.returncode}:\n{ep.log()}")
        try:
            if requests.get(f"{ep.url}/health", timeout=1).status_code == 200:
                return ep
        except requests.RequestException:
            pass
        time.sleep(0.05)
    ep.stop()
    raise AssertionError(f"podserve endpoint did not come up:\n{ep.log()}")


@pytest.fixture
def endpoint_factory(store):
    started = []

    def make(args, db=None, **kw) -> Endpoint:
        ep = start_endpoint(args, db=db or store(), **kw)
        started.append(ep)
        return ep

    yield make
    for ep in started:
        ep.stop()
    for ep in started:  # after all stopped: a restarted endpoint may share the first one's database
        ep.cleanup()
