"""End-to-end fixtures: start the real `podserve serve` binary on a free port and talk to it over HTTP.

Run through ctest (`ctest -L e2e`), which sets PODSERVE_BINARY, PODSERVE_TEST_MODEL and PODSERVE_FIXTURES.
"""

import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

import httpx
import openai
import pytest
from podserve_testutil import free_port, require_env

SERVED_MODEL = "podserve-test-model"
MAX_MODEL_LEN = 2048
STARTUP_TIMEOUT_S = 120




@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: str
    api_key: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 60) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError as e:
            return f"(cannot read {self.log_path}: {e})"

    def client(self, api_key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=api_key or self.api_key or "EMPTY",
                             max_retries=0, timeout=120)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(extra_args: list[str] | None = None, api_key: str | None = None,
                 env: dict[str, str] | None = None) -> Server:
    """Starts the binary and waits for /health; fails the test with the log tail if it does not come up.
    `env` adds environment variables (the worker's configuration path); with OPENAI_SERVED_MODEL_NAME_OVERRIDE
    in it, no --served-model-name flag is passed (a flag would win)."""
    binary = require_env("PODSERVE_BINARY")
    model = require_env("PODSERVE_TEST_MODEL")
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="podserve-e2e-", suffix=".log", delete=False)
    args = [binary, "serve", "--model", model, "--port", str(port), "--host", "127.0.0.1",
            "--max-model-len", str(MAX_MODEL_LEN), "--seed", "0"]
    if not env or "OPENAI_SERVED_MODEL_NAME_OVERRIDE" not in env:
        args += ["--served-model-name", SERVED_MODEL]
    if api_key:
        args += ["--api-key", api_key]
    args += extra_args or []
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    server = Server(process, port, log.name, api_key)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"podserve exited with {process.returncode} during startup:\n{server.log_tail()}")
        try:
            if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    pytest.fail(f"podserve did not answer /health within {STARTUP_TIMEOUT_S}s:\n{server.log_tail()}")


@pytest.fixture(scope="session")
def server(request):
    srv = start_server()
    yield srv
    srv.stop()
    if request.session.testsfailed:
        print(f"\n--- podserve log tail ({srv.log_path}) ---\n{srv.log_tail()}")
    elif os.path.exists(srv.log_path):
        os.unlink(srv.log_path)


@pytest.fixture(scope="session")
def client(server) -> openai.OpenAI:
    return server.client()


@pytest.fixture()
def raw(server) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


def error_of(exc: openai.APIStatusError) -> dict:
    """The `error` object of an OpenAI-style error body (the client may or may not have unwrapped it)."""
    body = exc.body
    assert isinstance(body, dict), body
    return body.get("error", body)
