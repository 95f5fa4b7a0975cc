"""Process-level behaviour: startup failures, API keys, client disconnects, graceful shutdown."""

import os
import re
import subprocess
import tempfile
import time

import httpx
import openai
import pytest

from conftest import SERVED_MODEL, free_port, start_server

MESSAGES = [{"role": "user", "content": "Tell me a long story about a dragon."}]


def run_binary(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([os.environ["PODSERVE_BINARY"], *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("content", [b"", b"GGUF", b"not a model file at all" * 100, "truncated"])
def test_corrupt_model_exits_nonzero_with_message(content):
    with tempfile.NamedTemporaryFile(suffix=".gguf", delete=False) as f:
        if content == "truncated":
            with open(os.environ["PODSERVE_TEST_MODEL"], "rb") as model:
                f.write(model.read(1 << 20))  # the header and part of the tensor data
        else:
            f.write(content)
        path = f.name
    try:
        r = run_binary("serve", "--model", path, "--port", str(free_port()))
    finally:
        os.unlink(path)
    assert r.returncode != 0
    assert r.returncode > 0, "crashed with a signal instead of exiting"
    output = r.stdout + r.stderr
    assert "Cannot load model" in output and path in output, output


def test_missing_model_and_bad_flags():
    r = run_binary("serve", "--model", "/no/such/model.gguf", "--port", str(free_port()))
    assert r.returncode == 1 and "/no/such/model.gguf" in r.stderr
    r = run_binary("serve", "--port", "70000")
    assert r.returncode == 2 and "--port" in r.stderr and "1..65535" in r.stderr
    r = run_binary("serve", "--no-such-flag")
    assert r.returncode == 2 and "--no-such-flag" in r.stderr
    r = run_binary("serve", "--help")
    assert r.returncode == 0 and "--max-model-len" in r.stdout and "--[no-]enable-prefix-caching" in r.stdout
    r = run_binary("serve", "--port", str(free_port()), "--enable-prefix-caching=sometimes")
    assert r.returncode == 2 and "--enable-prefix-caching" in r.stderr and "true, false, 1 or 0" in r.stderr


def test_api_key():
    srv = start_server(api_key="sekret")
    try:
        with pytest.raises(openai.AuthenticationError):
            srv.client(api_key="wrong").chat.completions.create(model=SERVED_MODEL, messages=MESSAGES,
                                                                 max_tokens=2)
        r = httpx.get(srv.url + "/v1/models")
        assert r.status_code == 401 and r.json() == {"error": "Unauthorized"}
        assert httpx.get(srv.url + "/health").status_code == 200  # health stays open
        assert httpx.get(srv.url + "/metrics").status_code == 200  # and /metrics, as in vLLM
        r = srv.client(api_key="sekret").chat.completions.create(model=SERVED_MODEL, messages=MESSAGES,
                                                                 max_tokens=2)
        assert r.choices[0].message.content is not None
    finally:
        srv.stop()


def _engine_counts(server) -> tuple[float, float]:
    """(requests running or waiting, requests ended with finished_reason "abort") from /metrics."""
    text = httpx.get(server.url + "/metrics", timeout=30).text

    def value(series):
        m = re.search("^" + re.escape(series) + r"\{[^}]*\} (\S+)$", text, re.MULTILINE)
        assert m, (series, text)
        return float(m.group(1))

    busy = value("vllm:num_requests_running") + value("vllm:num_requests_waiting")
    aborted = float(re.search(r'^vllm:request_success_total\{[^}]*finished_reason="abort"\} (\S+)$', text,
                              re.MULTILINE).group(1))
    return busy, aborted


def _aborted_once_idle(server) -> float:
    """The abort count once no request is running or waiting (a request ends aborted at once, or after its tokens)."""
    deadline = time.monotonic() + 300
    while (counts := _engine_counts(server))[0] > 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert counts[0] == 0, counts
    return counts[1]


def test_client_disconnect_aborts_generation(server, client):
    # A long streamed generation, dropped after a few chunks: the engine must abort it (vLLM counts it with
    # finished_reason "abort") instead of generating its 1000 tokens for nobody. Continuous batching would answer
    # the next request promptly either way, so the engine's own counters are what tells.
    aborted_before = _aborted_once_idle(server)
    body = {"model": SERVED_MODEL, "messages": MESSAGES, "max_tokens": 1000, "temperature": 0, "stream": True,
            "ignore_eos": True}
    with httpx.Client(base_url=server.url, timeout=60) as raw:
        with raw.stream("POST", "/v1/chat/completions", json=body) as r:
            assert r.status_code == 200
            for i, _ in enumerate(r.iter_lines()):
                if i >= 6:
                    break
    assert _aborted_once_idle(server) == aborted_before + 1
    r = client.chat.completions.create(model=SERVED_MODEL, messages=MESSAGES, max_tokens=2, temperature=0)
    assert r.choices[0].finish_reason in ("stop", "length")


def test_sigterm_is_graceful():
    srv = start_server()
    srv.process.terminate()
    assert srv.process.wait(timeout=20) == 0
    assert "Stopped" in srv.log_tail()
