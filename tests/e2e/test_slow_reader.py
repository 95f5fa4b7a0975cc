"""A streaming client that stops reading: the server must drop it after a bounded backlog of output, free its
request (KV blocks) while the client still holds the connection open, keep its own memory bounded, and keep
serving the other clients meanwhile (src/serve/openai/generate.cpp: the output queue's backlog limit,
--max-stream-backlog-bytes).

The stalled client shrinks its receive buffer before connecting, so the kernel's buffers fill after a few
kilobytes and the server's write blocks; from then on the engine's outputs pile up in the request's queue until
they pass the backlog limit. Its own server (a small backlog limit), a few seconds.
"""

import json
import re
import socket
import time

import httpx

from conftest import SERVED_MODEL, start_server

BACKLOG = 32768
MAX_TOKENS = 1500
N = 4
# Hang guard, not a timing assertion (2 shared cores): a healthy run drops the client within seconds.
DEADLINE_S = 300


def _metric(text: str, name: str) -> float:
    m = re.search(r"^" + re.escape(name) + r"(\{[^}]*\})? ([0-9.eE+-]+)$", text, re.MULTILINE)
    assert m, f"{name} missing from /metrics"
    return float(m.group(2))


def _metrics(url: str) -> dict:
    text = httpx.get(url + "/metrics", timeout=30).text
    return {name: _metric(text, "vllm:" + name)
            for name in ("num_requests_running", "num_requests_waiting", "kv_cache_usage_perc",
                         "generation_tokens_total")}


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.MULTILINE).group(1))


def _stalled_stream(port: int) -> socket.socket:
    """Sends a long streaming completion (n choices with logprobs: many kilobytes per engine step) on a socket
    with a tiny receive buffer, and never reads it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Before connect: the TCP window stays small, and so does the server's send buffer (Linux sizes it from the
    # segment size, which the peer's MSS caps: 64 KiB segments on loopback would give it megabytes).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    sock.connect(("127.0.0.1", port))
    body = json.dumps({"model": SERVED_MODEL, "prompt": "Once upon a time", "max_tokens": MAX_TOKENS, "n": N,
                       "logprobs": 5, "ignore_eos": True, "stream": True}).encode()
    sock.sendall(f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return sock


def test_client_that_stops_reading_is_dropped_and_others_are_served():
    srv = start_server(["--max-stream-backlog-bytes", str(BACKLOG), "--disable-log-stats", "--log-level", "WARNING"])
    stalled = None
    try:
        client = srv.client()
        client.completions.create(model=SERVED_MODEL, prompt="warm up", max_tokens=8)
        rss_before = _rss_kib(srv.process.pid)
        stalled = _stalled_stream(srv.port)
        deadline = time.monotonic() + DEADLINE_S
        while _metrics(srv.url)["num_requests_running"] < 1:
            assert time.monotonic() < deadline, srv.log_tail()
            time.sleep(0.05)

        # Other clients, streaming and not, are served while the stalled one is (or was) generating.
        for i in range(3):
            r = client.completions.create(model=SERVED_MODEL, prompt=f"Hello {i}", max_tokens=16,
                                          extra_body={"ignore_eos": True})
            assert r.usage.completion_tokens == 16
            chunks = list(client.chat.completions.create(model=SERVED_MODEL, max_tokens=8, stream=True,
                                                         messages=[{"role": "user", "content": f"hi {i}"}],
                                                         extra_body={"ignore_eos": True}))
            assert chunks[-1].choices[0].finish_reason == "length"

        # The stalled request is aborted (KV blocks freed) while its client still holds the connection unread,
        # well before its n x max_tokens were generated.
        peak_rss = rss_before
        while True:
            m = _metrics(srv.url)
            peak_rss = max(peak_rss, _rss_kib(srv.process.pid))
            if m["num_requests_running"] == 0 and m["num_requests_waiting"] == 0 and m["kv_cache_usage_perc"] == 0:
                break
            assert time.monotonic() < deadline, srv.log_tail()
            time.sleep(0.1)
        generated = m["generation_tokens_total"]
        assert generated < N * MAX_TOKENS / 2, (generated, srv.log_tail())
        assert "the client stopped reading its stream" in srv.log_tail(200), srv.log_tail()
        # The server's memory did not grow with the output nobody read (a generous bound: the allocator's slack).
        assert peak_rss - rss_before < 64 * 1024, (rss_before, peak_rss)

        # What the stalled client gets when it reads at last: the start of a 200 stream, then the server's close,
        # never the end of the stream.
        stalled.settimeout(60)
        received = b""
        while chunk := stalled.recv(65536):
            received += chunk
        assert received.startswith(b"HTTP/1.1 200"), received[:200]
        assert b"[DONE]" not in received
        assert len(received) < N * MAX_TOKENS * 100

        assert httpx.get(srv.url + "/health", timeout=10).status_code == 200
    finally:
        if stalled is not None:
            stalled.close()
        srv.stop()
