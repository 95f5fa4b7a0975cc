"""Fixtures for `podserve worker`: the fake job server, worker processes, a `podserve serve` to compare OpenAI
answers with, and HF `tokenizers` + jinja2 rebuilt from the model file as the token-count reference.

Run through ctest (`ctest -L e2e`), which sets PODSERVE_BINARY, PODSERVE_TEST_MODEL and PODSERVE_FIXTURES.
"""

import os
import time

import httpx
import pathlib
import signal
import subprocess
import tempfile

import pytest

from fake_job_server import start_fake_job_server
from podserve_testutil import free_port, require_env

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVED_MODEL = "podserve-test-model"  # what tests/e2e's server is started with
MAX_MODEL_LEN = 2048



class Worker:
    """A `podserve worker` process; its stderr goes to a log file."""

    def __init__(self, env, args=None, cwd=None, served_name=SERVED_MODEL):
        binary = require_env("PODSERVE_BINARY")
        model = require_env("PODSERVE_TEST_MODEL")
        self.log = tempfile.NamedTemporaryFile(prefix="podserve-worker-", suffix=".log", delete=False)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")}
        full_env.update(env)
        cmd = [binary, "worker", "--model", model, "--max-model-len", str(MAX_MODEL_LEN), "--seed", "0"]
        if served_name:
            cmd += ["--served-model-name", served_name]
        cmd += args or []
        self.process = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=self.log, cwd=cwd)

    def log_text(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, timeout=60):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture()
def job_server():
    server = start_fake_job_server()
    yield server
    server.close()


@pytest.fixture()
def start_worker(request):
    started = []

    def start(env, args=None, cwd=None, served_name=SERVED_MODEL):
        w = Worker(env, args, cwd, served_name)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()
        if getattr(request.node, "rep_call_failed", False):
            print(f"\n--- worker log ---\n{w.log_text()[-6000:]}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call":
        item.rep_call_failed = rep.failed


@pytest.fixture(scope="session")
def serve():
    """`podserve serve` on the same model, for the answers the OpenAI routes must reproduce."""
    binary = require_env("PODSERVE_BINARY")
    model = require_env("PODSERVE_TEST_MODEL")
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="podserve-serve-", suffix=".log", delete=False)
    proc = subprocess.Popen([binary, "serve", "--model", model, "--port", str(port), "--host", "127.0.0.1",
                             "--max-model-len", str(MAX_MODEL_LEN), "--served-model-name", SERVED_MODEL,
                             "--seed", "0"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, f"podserve serve exited with {proc.returncode}"
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "podserve serve did not come up"
        time.sleep(0.2)
    yield url
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.fixture(scope="session")
def hf_tokenizer():
    """HF `tokenizers` built from the GGUF's own vocabulary (tools/goldens/tokenizer.py)."""
    import importlib.util

    import gguf

    # Loaded by path: the goldens folder also holds a `tokenizers.py` that would shadow the package.
    spec = importlib.util.spec_from_file_location("golden_tokenizer", ROOT / "tools" / "goldens" / "tokenizer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    build_tokenizer = module.build_tokenizer

    reader = gguf.GGUFReader(require_env("PODSERVE_TEST_MODEL"))
    return build_tokenizer(reader)


@pytest.fixture(scope="session")
def chat_template_render():
    """The model's chat template rendered by jinja2 as transformers does (add_generation_prompt=True)."""
    import gguf
    import jinja2

    reader = gguf.GGUFReader(require_env("PODSERVE_TEST_MODEL"))
    f = reader.fields["tokenizer.chat_template"]
    source = bytes(f.parts[f.data[0]]).decode("utf-8")
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(source)

    def render(messages):
        return template.render(messages=messages, add_generation_prompt=True, bos_token="", eos_token="")

    return render
