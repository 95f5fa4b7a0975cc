"""Robustness: limits, malformed requests, client disconnects, many connections, timeouts, graceful shutdown.

Uses its own server instances (small limits and timeouts; one is stopped with SIGTERM), so the shared session
server is not disturbed.
"""

import asyncio
import json
import random
import re
import resource
import signal
import socket
import time

import httpx
import pytest

from conftest import SERVED_MODEL, start_server

MAX_BODY = 65536
MAX_HEADER = 8192
KEEPALIVE_S = 3
REQUEST_TIMEOUT_S = 2
SHUTDOWN_TIMEOUT_S = 4


def _raise_client_fd_limit(wanted: int = 4096) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard) if hard != resource.RLIM_INFINITY else wanted,
                                                    hard))


@pytest.fixture(scope="module")
def robust():
    srv = start_server(["--max-request-bytes", str(MAX_BODY), "--max-header-bytes", str(MAX_HEADER),
                        "--keepalive-timeout", str(KEEPALIVE_S), "--request-timeout", str(REQUEST_TIMEOUT_S),
                        "--disable-log-stats", "--log-level", "WARNING"])
    yield srv
    srv.stop()


# ---------------------------------------------------------------------------------------------------------------
# Malformed requests

CHAT = {"model": SERVED_MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
COMP = {"model": SERVED_MODEL, "prompt": "hi", "max_tokens": 1}
CHAT_PATH = "/v1/chat/completions"
COMP_PATH = "/v1/completions"
JSON_CT = {"content-type": "application/json"}

INT_WRONG = ["x", [1], {"a": 1}]
FLOAT_WRONG = ["x", [1.0], {"a": 1}]
BOOL_WRONG = ["x", [True], {"a": 1}]
COMMON_INT = ["max_tokens", "n", "top_k", "seed", "min_tokens"]
COMMON_FLOAT = ["temperature", "top_p", "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty"]
COMMON_BOOL = ["stream", "ignore_eos", "include_stop_str_in_output", "skip_special_tokens"]
COMMON_OTHER = {
    "model": [5, [SERVED_MODEL], {"a": 1}],
    "stop": [5, {"a": 1}, [1, 2], [["x"]]],
    "stop_token_ids": ["x", 5, ["a"], {"a": 1}],
    "logit_bias": ["x", 5, [1], {"1": "x"}],
    "stream_options": ["x", 5, [1]],
}
OUT_OF_RANGE = {
    "temperature": [-0.5], "top_p": [0, 1.5], "top_k": [-2], "min_p": [-0.1, 1.5],
    "presence_penalty": [2.5, -2.5], "frequency_penalty": [2.5, -2.5], "repetition_penalty": [0, -1],
    "max_tokens": [0, -1, 10 ** 7], "n": [0, -3, 100000], "min_tokens": [-1],
}
HUGE = {"max_tokens": 10 ** 30, "n": 10 ** 20, "top_k": 10 ** 25, "seed": 10 ** 40, "min_tokens": 10 ** 30,
        "presence_penalty": 1e308}


def _json_case(name, path, base, field, value):
    body = dict(base)
    body[field] = value
    return (name, "POST", path, JSON_CT, json.dumps(body).encode())


def _cases():
    cases = []
    for path, base, extra_int, extra_bool, extra_other in [
        (CHAT_PATH, CHAT, ["max_completion_tokens", "top_logprobs"], ["logprobs", "add_generation_prompt"],
         {"messages": ["x", 5, {"a": 1}, [5], ["x"], [{"role": 5, "content": "hi"}],
                       [{"role": "user", "content": 5}], [{"role": "user", "content": [5]}]],
          "chat_template_kwargs": ["x", 5, [1]]}),
        (COMP_PATH, COMP, ["logprobs"], ["echo"],
         {"prompt": [5.5, {"a": 1}, [{"a": 1}], [[1, "a"]], [True]]}),
    ]:
        kind = "chat" if path == CHAT_PATH else "completions"
        for field in COMMON_INT + extra_int:
            for v in INT_WRONG:
                cases.append(_json_case(f"{kind} {field}={v!r}", path, base, field, v))
        for field in COMMON_FLOAT:
            for v in FLOAT_WRONG:
                cases.append(_json_case(f"{kind} {field}={v!r}", path, base, field, v))
        for field in COMMON_BOOL + extra_bool:
            for v in BOOL_WRONG:
                cases.append(_json_case(f"{kind} {field}={v!r}", path, base, field, v))
        for field, values in {**COMMON_OTHER, **extra_other}.items():
            for v in values:
                cases.append(_json_case(f"{kind} {field}={v!r}", path, base, field, v))
        for field, values in OUT_OF_RANGE.items():
            for v in values:
                cases.append(_json_case(f"{kind} {field}={v!r} (range)", path, base, field, v))
        for field, v in HUGE.items():
            cases.append(_json_case(f"{kind} {field} huge", path, base, field, v))
        cases.append(_json_case(f"{kind} min_tokens > max_tokens", path, {**base, "max_tokens": 2}, "min_tokens", 5))
        cases.append(_json_case(f"{kind} unknown model", path, base, "model", "no-such-model"))
        # Missing required fields.
        required = "messages" if path == CHAT_PATH else "prompt"
        body = {k: v for k, v in base.items() if k != required}
        cases.append((f"{kind} missing {required}", "POST", path, JSON_CT, json.dumps(body).encode()))
        cases.append((f"{kind} empty object", "POST", path, JSON_CT, b"{}"))
        # Truncated JSON: every prefix cut at a spread of points.
        full = json.dumps(base).encode()
        for cut in sorted(set([0, 1, 2, 5] + list(range(7, len(full) - 1, max(1, len(full) // 12))) + [len(full) - 1])):
            cases.append((f"{kind} truncated at {cut}", "POST", path, JSON_CT, full[:cut]))
        # Non-object JSON.
        for doc in [b"[]", b"[1,2]", b"1", b'"str"', b"null", b"true", b"1e999", b"{\"model\":}"]:
            cases.append((f"{kind} non-object {doc!r}", "POST", path, JSON_CT, doc))
        # Invalid UTF-8 in strings, keys and between tokens.
        for bad in [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80abc"]:
            field = b"messages" if path == CHAT_PATH else b"prompt"
            if path == CHAT_PATH:
                value_bad = b'{"model":"' + SERVED_MODEL.encode() + b'","messages":[{"role":"user","content":"a' + \
                    bad + b'"}],"max_tokens":1}'
            else:
                value_bad = b'{"model":"' + SERVED_MODEL.encode() + b'","prompt":"a' + bad + b'","max_tokens":1}'
            cases.append((f"{kind} invalid utf-8 {bad!r} in value", "POST", path, JSON_CT, value_bad))
            cases.append((f"{kind} invalid utf-8 {bad!r} in key", "POST", path, JSON_CT,
                          b'{"' + field + bad + b'":1}'))
            cases.append((f"{kind} invalid utf-8 {bad!r} bare", "POST", path, JSON_CT, bad + full))
        # Wrong or missing content types, with bodies that are not JSON.
        for ct, body in [("text/plain", b"hello"), ("application/x-www-form-urlencoded", b"model=x&prompt=y"),
                         ("multipart/form-data; boundary=xyz", b"--xyz\r\n\r\nhi\r\n--xyz--"), (None, b"hello"),
                         ("application/json", b""), (None, b"")]:
            headers = {"content-type": ct} if ct else {}
            cases.append((f"{kind} content-type {ct} body {body[:10]!r}", "POST", path, headers, body))
        # A valid JSON body under a non-JSON content type: vLLM's validate_json_request refuses it (400).
        for ct in ["text/plain", "text/json", "application/x-www-form-urlencoded", "application/jsonp", None]:
            headers = {"content-type": ct} if ct else {}
            cases.append((f"{kind} content-type {ct} with a JSON body", "POST", path, headers, full))
        # Oversize body and headers.
        cases.append((f"{kind} oversize body", "POST", path, JSON_CT,
                      json.dumps({**base, "pad": "x" * (MAX_BODY * 2)}).encode()))
        cases.append((f"{kind} oversize header", "POST", path, {**JSON_CT, "x-pad": "a" * (MAX_HEADER * 2)},
                      json.dumps(base).encode()))
        cases.append((f"{kind} many headers", "POST", path,
                      {**JSON_CT, **{f"x-h{i}": "v" * 64 for i in range(200)}}, json.dumps(base).encode()))
        # Wrong methods.
        for method in ["GET", "PUT", "DELETE", "PATCH"]:
            cases.append((f"{kind} method {method}", method, path, JSON_CT, json.dumps(base).encode()))
    for method, path in [("POST", "/health"), ("DELETE", "/metrics"), ("POST", "/v1/models"), ("PUT", "/health")]:
        cases.append((f"method {method} {path}", method, path, JSON_CT, b"{}"))
    for path in ["/", "/v1", "/v1/chat", "/v1/chat/completionsx", "/v2/completions", "/v1/embeddings",
                 "/../etc/passwd", "/v1/completions/extra", "/%ff%fe", "/" + "a" * 2000]:
        cases.append((f"unknown route {path[:30]}", "POST", path, JSON_CT, json.dumps(COMP).encode()))
        if path != "/":  # GET / is the chat playground (test_playground.py)
            cases.append((f"unknown route GET {path[:30]}", "GET", path, {}, b""))
    return cases


def _check_error_shape(name, res):
    try:
        doc = res.json()
    except ValueError:
        pytest.fail(f"{name}: {res.status_code} body is not JSON: {res.content[:200]!r}")
    if res.status_code == 401:
        assert doc == {"error": "Unauthorized"}, name
        return
    assert isinstance(doc, dict) and isinstance(doc.get("error"), dict), f"{name}: {doc}"
    err = doc["error"]
    assert isinstance(err.get("message"), str) and err["message"], f"{name}: {doc}"
    assert isinstance(err.get("type"), str) and err["type"], f"{name}: {doc}"
    assert "code" in err, f"{name}: {doc}"


def test_malformed_requests_get_4xx_with_error_shape(robust):
    cases = _cases()
    assert len(cases) >= 300, len(cases)
    statuses = {}
    failures = []
    with httpx.Client(base_url=robust.url, timeout=30) as c:
        for name, method, path, headers, body in cases:
            res = c.request(method, path, headers=headers, content=body)
            statuses[res.status_code] = statuses.get(res.status_code, 0) + 1
            assert 400 <= res.status_code < 500, f"{name}: {res.status_code} {res.text[:300]}"
            _check_error_shape(name, res)
            health = c.get("/health")
            assert health.status_code == 200, f"/health after {name}: {health.status_code}"
    print(f"\nmalformed-request suite: {len(cases)} cases, statuses {dict(sorted(statuses.items()))}")


# ---------------------------------------------------------------------------------------------------------------
# Metrics helpers

def _metric(text: str, name: str) -> float:
    m = re.search(r"^" + re.escape(name) + r"(\{[^}]*\})? ([0-9.eE+-]+)$", text, re.MULTILINE)
    assert m, f"{name} missing from /metrics"
    return float(m.group(2))


def _wait_idle(url: str, timeout: float = 30) -> tuple[float, float]:
    deadline = time.monotonic() + timeout
    running = kv = -1.0
    while time.monotonic() < deadline:
        text = httpx.get(url + "/metrics", timeout=10).text
        running = _metric(text, "vllm:num_requests_running")
        waiting = _metric(text, "vllm:num_requests_waiting")
        kv = _metric(text, "vllm:kv_cache_usage_perc")
        if running == 0 and waiting == 0 and kv == 0:
            return running, kv
        time.sleep(0.2)
    return running, kv


def _stream_request(path: str, body: dict, port: int) -> bytes:
    payload = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload


# ---------------------------------------------------------------------------------------------------------------
# Disconnect storm

def test_disconnect_storm_frees_everything(robust):
    _raise_client_fd_limit()
    rng = random.Random(1234)
    port = robust.port

    async def one(i: int) -> None:
        path, base = (CHAT_PATH, CHAT) if i % 2 else (COMP_PATH, COMP)
        body = {**base, "max_tokens": 32, "ignore_eos": True, "stream": True}
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        mode = rng.choice(["after_send", "bytes", "bytes", "sleep", "half_request"])
        try:
            req = _stream_request(path, body, port)
            if mode == "half_request":
                writer.write(req[: rng.randrange(1, len(req))])
                await writer.drain()
                await asyncio.sleep(rng.random() * 0.3)
                return
            writer.write(req)
            await writer.drain()
            if mode == "bytes":
                want, got = rng.randrange(1, 1200), 0
                while got < want:
                    chunk = await asyncio.wait_for(reader.read(want - got), 30)
                    if not chunk:
                        break
                    got += len(chunk)
            elif mode == "sleep":
                await asyncio.sleep(rng.random() * 1.0)
        finally:
            sock = writer.get_extra_info("socket")
            if sock is not None and rng.random() < 0.5:  # half of them reset instead of closing cleanly
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            writer.close()

    async def storm() -> None:
        await asyncio.gather(*(one(i) for i in range(200)))

    asyncio.run(storm())
    running, kv = _wait_idle(robust.url, timeout=40)
    assert running == 0, robust.log_tail()
    assert kv == 0, robust.log_tail()
    assert httpx.get(robust.url + "/health", timeout=10).status_code == 200


# ---------------------------------------------------------------------------------------------------------------
# Many concurrent streams

def _parse_sse(raw: list[str]) -> list:
    events = []
    for line in raw:
        if not line.startswith("data: "):
            continue
        data = line[len("data: "):]
        events.append("[DONE]" if data == "[DONE]" else json.loads(data))
    return events


def test_512_concurrent_streams_complete(robust):
    _raise_client_fd_limit()
    n = 512

    async def run_all() -> list:
        limits = httpx.Limits(max_connections=n + 8, max_keepalive_connections=n + 8)
        async with httpx.AsyncClient(base_url=robust.url, timeout=120, limits=limits) as c:
            async def one(i: int):
                body = {**COMP, "prompt": f"Count {i}:", "max_tokens": 2, "ignore_eos": True, "stream": True}
                async with c.stream("POST", COMP_PATH, json=body) as res:
                    assert res.status_code == 200
                    lines = [line async for line in res.aiter_lines()]
                return lines

            return await asyncio.gather(*(one(i) for i in range(n)))

    results = asyncio.run(run_all())
    assert len(results) == n
    for lines in results:
        events = _parse_sse(lines)
        assert events and events[-1] == "[DONE]", lines[-3:]
        assert any(isinstance(e, dict) and e.get("choices") and e["choices"][0].get("finish_reason") == "length"
                   for e in events), lines
    running, kv = _wait_idle(robust.url)
    assert running == 0 and kv == 0


# ---------------------------------------------------------------------------------------------------------------
# Admission queue limit

def test_full_queue_is_429():
    srv = start_server(["--max-queued-requests", "2", "--max-num-seqs", "1", "--disable-log-stats"])
    socks = []
    try:
        for i in range(2):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(_stream_request(COMP_PATH, {**COMP, "max_tokens": 1000, "ignore_eos": True, "stream": True},
                                      srv.port))
            s.settimeout(30)
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
            socks.append(s)
        res = httpx.post(srv.url + COMP_PATH, json=COMP, timeout=30)
        assert res.status_code == 429, res.text
        _check_error_shape("full queue", res)
    finally:
        for s in socks:
            s.close()
        srv.stop()


# ---------------------------------------------------------------------------------------------------------------
# Timeouts

def _seconds_until_closed(sock: socket.socket, limit: float) -> float:
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except socket.timeout:
        return -1
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def test_slow_partial_request_is_dropped(robust):
    with socket.create_connection(("127.0.0.1", robust.port)) as s:
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Ty")  # half a header, then a stall
        t = _seconds_until_closed(s, 15)
    assert REQUEST_TIMEOUT_S - 0.5 <= t <= REQUEST_TIMEOUT_S + 4, t
    with socket.create_connection(("127.0.0.1", robust.port)) as s:
        body = json.dumps(COMP).encode()
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:5])  # half a body
        t = _seconds_until_closed(s, 15)
    assert REQUEST_TIMEOUT_S - 0.5 <= t <= REQUEST_TIMEOUT_S + 4, t
    assert httpx.get(robust.url + "/health", timeout=10).status_code == 200


def test_idle_keepalive_connection_is_closed(robust):
    with socket.create_connection(("127.0.0.1", robust.port)) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(10)
        first = s.recv(4096)
        assert first.startswith(b"HTTP/1.1 200"), first
        t = _seconds_until_closed(s, 20)
    assert KEEPALIVE_S - 0.5 <= t <= KEEPALIVE_S + 4, t
    # A connection that keeps sending requests is not cut by the idle timeout.
    with socket.create_connection(("127.0.0.1", robust.port)) as s:
        s.settimeout(10)
        for _ in range(2):
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
            time.sleep(KEEPALIVE_S * 0.6)


# ---------------------------------------------------------------------------------------------------------------
# Graceful shutdown (its own server, stopped here)

def test_sigterm_drains_then_exits_zero():
    srv = start_server(["--shutdown-timeout", str(SHUTDOWN_TIMEOUT_S), "--disable-log-stats"])
    try:
        async def run_all() -> list:
            limits = httpx.Limits(max_connections=64)
            async with httpx.AsyncClient(base_url=srv.url, timeout=60, limits=limits) as c:
                started = 0
                all_started = asyncio.Event()

                async def one(i: int):
                    nonlocal started
                    # Half finish well inside the deadline, half cannot (they are aborted at the deadline).
                    max_tokens = 4 if i % 2 else 2000
                    body = {**COMP, "prompt": f"Story {i}:", "max_tokens": max_tokens, "ignore_eos": True,
                            "stream": True}
                    lines = []
                    try:
                        async with c.stream("POST", COMP_PATH, json=body) as res:
                            assert res.status_code == 200
                            async for line in res.aiter_lines():
                                if line.startswith("data: ") and not lines:
                                    started += 1
                                    if started == 32:
                                        all_started.set()
                                if line:
                                    lines.append(line)
                    except httpx.HTTPError as e:
                        lines.append(f"EXCEPTION {e!r}")
                    return lines

                tasks = [asyncio.create_task(one(i)) for i in range(32)]
                await asyncio.wait_for(all_started.wait(), 60)
                srv.process.send_signal(signal.SIGTERM)
                return await asyncio.gather(*tasks)

        t0 = time.monotonic()
        results = asyncio.run(run_all())
        rc = srv.process.wait(timeout=SHUTDOWN_TIMEOUT_S + 15)
        elapsed = time.monotonic() - t0
        assert rc == 0, srv.log_tail()
        assert elapsed < SHUTDOWN_TIMEOUT_S + 15
        completed = aborted = 0
        for lines in results:
            # Each stream either completes (finish_reason length/stop) or ends with an explicit error event in
            # OpenAI's shape; both end with [DONE]. Never a silent cut, never finish_reason "abort".
            assert lines and lines[-1] == "data: [DONE]", (lines[-3:], srv.log_tail())
            events = _parse_sse(lines)[:-1]
            last = events[-1]
            assert all("error" not in e for e in events[:-1]), lines
            if "error" in last:
                err = last["error"]
                assert set(err) == {"message", "type", "param", "code"}, last
                assert err["code"] == 503 and "shutting down" in err["message"], last
                aborted += 1
            else:
                reasons = [c.get("finish_reason") for e in events for c in e["choices"] if c.get("finish_reason")]
                assert reasons in (["length"], ["stop"]), last
                completed += 1
        print(f"\nSIGTERM: {completed} completed, {aborted} ended by the shutdown deadline with an error event")
        assert completed >= 16 and aborted >= 1
    finally:
        srv.stop()
